CREATE TABLE t1 (id bigint);
