-- strata:no-transactoin
CREATE TABLE t1 (id int);
