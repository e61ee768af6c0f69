-- Reverts V5.
DROP TABLE incidents;
DROP TABLE runbooks;
