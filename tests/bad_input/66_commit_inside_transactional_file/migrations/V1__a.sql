CREATE TABLE half_a (x int);
COMMIT;
CREATE TABLE half_b (x int);
SELECT 1/0;
