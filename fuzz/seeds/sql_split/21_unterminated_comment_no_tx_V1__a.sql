-- strata:no-transaction
CREATE TABLE t1 (id int);
/* never closed
