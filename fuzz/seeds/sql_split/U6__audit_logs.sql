-- Reverts V6 (the sequence is owned by the table and goes with it).
DROP TABLE audit_logs;
