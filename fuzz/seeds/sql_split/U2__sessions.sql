-- Reverts V2.
DROP TABLE sessions;
