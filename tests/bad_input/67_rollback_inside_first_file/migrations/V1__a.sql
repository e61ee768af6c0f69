CREATE TABLE half_a (x int);
ROLLBACK;
CREATE TABLE half_b (x int);
