-- strata:no-transaction
CREATE TABLE t1 (id int);
INSERT INTO t1 VALUES ('oops);
