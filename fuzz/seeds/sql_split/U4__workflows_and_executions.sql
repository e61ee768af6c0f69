-- Reverts V4.
DROP TABLE workflow_executions;
DROP TABLE workflows;
