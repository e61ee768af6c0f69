CREATE TABLE IF NOT EXISTS schema_migrations (id int);
CREATE INDEX seed_idx ON schema_migrations (id);
