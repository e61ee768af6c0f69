-- Every change to incidents and workflows leaves an audit row.
CREATE FUNCTION record_audit() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
  row_id text;
BEGIN
  row_id := CASE WHEN TG_OP = 'DELETE' THEN OLD.id::text ELSE NEW.id::text END;
  INSERT INTO audit_logs (actor_id, action, entity_type, entity_id, details)
  VALUES (
    nullif(current_setting('app.user_id', true), '')::uuid,
    lower(TG_OP),
    TG_TABLE_NAME,
    row_id,
    CASE WHEN TG_OP = 'UPDATE'
         THEN jsonb_build_object('before', to_jsonb(OLD), 'after', to_jsonb(NEW))
         ELSE '{}'::jsonb END
  );
  RETURN NULL;
END;
$$;

CREATE TRIGGER incidents_audit
  AFTER INSERT OR UPDATE OR DELETE ON incidents
  FOR EACH ROW EXECUTE FUNCTION record_audit();

CREATE TRIGGER workflows_audit
  AFTER INSERT OR UPDATE OR DELETE ON workflows
  FOR EACH ROW EXECUTE FUNCTION record_audit();
