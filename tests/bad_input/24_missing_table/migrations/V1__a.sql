CREATE TABLE t1 (id int);
INSERT INTO nowhere VALUES (1);
