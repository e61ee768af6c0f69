-- Reverts V1.
DROP TABLE users;
DROP FUNCTION set_updated_at();
