-- Reverts V8.
DROP VIEW workflow_execution_stats;
DROP VIEW open_incidents;
DROP VIEW active_sessions;
