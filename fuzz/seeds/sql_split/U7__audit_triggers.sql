-- Reverts V7.
DROP TRIGGER workflows_audit ON workflows;
DROP TRIGGER incidents_audit ON incidents;
DROP FUNCTION record_audit();
