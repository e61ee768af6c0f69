CREATE TABLE t (x int);
\connect other
