-- strata:no-transaction
-- Reverts V9 without blocking writes.
DROP INDEX CONCURRENTLY IF EXISTS incidents_open_idx;
