-- strata:no-transaction
-- Built without blocking writes to incidents; CONCURRENTLY cannot run in a
-- transaction, hence the directive above. IF NOT EXISTS makes a re-run after
-- `migrate repair` safe (drop an INVALID index left by a failed build first).
CREATE INDEX CONCURRENTLY IF NOT EXISTS incidents_open_idx
  ON incidents (severity, opened_at)
  WHERE status <> 'resolved';
