-- Operations: runbooks describe how to handle a kind of incident.
CREATE TABLE runbooks (
  id          uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  slug        text NOT NULL UNIQUE CHECK (slug ~ '^[a-z0-9-]+$'),
  title       text NOT NULL,
  body        text NOT NULL,
  tags        text[] NOT NULL DEFAULT '{}',
  owner_id    uuid REFERENCES users (id) ON DELETE SET NULL,
  created_at  timestamptz NOT NULL DEFAULT now(),
  updated_at  timestamptz NOT NULL DEFAULT now()
);

CREATE INDEX runbooks_tags_idx ON runbooks USING gin (tags);

CREATE TRIGGER runbooks_set_updated_at
  BEFORE UPDATE ON runbooks
  FOR EACH ROW EXECUTE FUNCTION set_updated_at();

CREATE TABLE incidents (
  id               uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  title            text NOT NULL,
  severity         smallint NOT NULL CHECK (severity BETWEEN 1 AND 5),
  status           text NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'acknowledged', 'resolved')),
  runbook_id       uuid REFERENCES runbooks (id) ON DELETE SET NULL,
  reported_by      uuid REFERENCES users (id) ON DELETE SET NULL,
  assigned_to      uuid REFERENCES users (id) ON DELETE SET NULL,
  summary          text,
  opened_at        timestamptz NOT NULL DEFAULT now(),
  acknowledged_at  timestamptz,
  resolved_at      timestamptz,
  CHECK (resolved_at IS NULL OR resolved_at >= opened_at),
  CHECK ((status = 'resolved') = (resolved_at IS NOT NULL))
);

CREATE INDEX incidents_assigned_idx ON incidents (assigned_to) WHERE assigned_to IS NOT NULL;
