-- Read models for the operations dashboard.
CREATE VIEW active_sessions AS
SELECT s.id, s.user_id, u.email, s.ip, s.created_at, s.expires_at
FROM sessions s
JOIN users u ON u.id = s.user_id
WHERE s.revoked_at IS NULL
  AND s.expires_at > now()
  AND u.deleted_at IS NULL;

CREATE VIEW open_incidents AS
SELECT i.id, i.title, i.severity, i.status, i.opened_at,
       now() - i.opened_at AS age,
       r.slug AS runbook, a.display_name AS assignee
FROM incidents i
LEFT JOIN runbooks r ON r.id = i.runbook_id
LEFT JOIN users a ON a.id = i.assigned_to
WHERE i.status <> 'resolved';

CREATE VIEW workflow_execution_stats AS
SELECT w.id AS workflow_id, w.name,
       count(e.id) AS executions,
       count(e.id) FILTER (WHERE e.status = 'succeeded') AS succeeded,
       count(e.id) FILTER (WHERE e.status = 'failed') AS failed,
       avg(e.finished_at - e.started_at) FILTER (WHERE e.finished_at IS NOT NULL) AS avg_duration
FROM workflows w
LEFT JOIN workflow_executions e ON e.workflow_id = w.id
GROUP BY w.id, w.name;
