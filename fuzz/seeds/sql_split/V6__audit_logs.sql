-- Append-only audit trail, partitioned by month on created_at and kept for
-- twelve months by the partition policy in migrate.toml. An explicit
-- sequence rather than an identity column, which partitioned tables do not
-- support on every PostgreSQL version we run on.
CREATE SEQUENCE audit_logs_id_seq AS bigint;

CREATE TABLE audit_logs (
  id           bigint NOT NULL DEFAULT nextval('audit_logs_id_seq'),
  actor_id     uuid,          -- no foreign key: audit rows outlive users
  action       text NOT NULL CHECK (action IN ('insert', 'update', 'delete', 'login', 'export')),
  entity_type  text NOT NULL,
  entity_id    text,
  details      jsonb NOT NULL DEFAULT '{}'::jsonb,
  ip           inet,
  created_at   timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (id, created_at)
) PARTITION BY RANGE (created_at);

ALTER SEQUENCE audit_logs_id_seq OWNED BY audit_logs.id;

CREATE INDEX audit_logs_entity_idx ON audit_logs (entity_type, entity_id, created_at);
CREATE INDEX audit_logs_actor_idx ON audit_logs (actor_id, created_at);
