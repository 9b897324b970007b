-- Named statements of the YAML front end (see hotmesh_temporal/hotmesh/store.py).

-- name: lock_schema
SELECT pg_advisory_xact_lock(hashtext('hotmesh_temporal.hotmesh:' || $1));

-- name: deployed_version
SELECT compiled, active FROM {schema}.hotmesh_apps WHERE app_id = $1 AND version = $2;

-- name: insert_version
INSERT INTO {schema}.hotmesh_apps (app_id, version, compiled, source)
VALUES ($1, $2, $3, $4)
ON CONFLICT (app_id, version) DO NOTHING;

-- name: activate_version
-- One statement: every process reading the active version sees the old one or the new
-- one, never none or two.
UPDATE {schema}.hotmesh_apps
   SET active = (version = $2),
       activated_at = CASE WHEN version = $2 THEN now() ELSE activated_at END
 WHERE app_id = $1
   AND EXISTS (SELECT 1 FROM {schema}.hotmesh_apps WHERE app_id = $1 AND version = $2);

-- name: active_version
SELECT version, compiled FROM {schema}.hotmesh_apps WHERE app_id = $1 AND active;

-- name: active_version_label
SELECT version FROM {schema}.hotmesh_apps WHERE app_id = $1 AND active;

-- name: list_versions
SELECT version, active, deployed_at, activated_at
  FROM {schema}.hotmesh_apps WHERE app_id = $1 ORDER BY deployed_at;

-- name: open_escalation
INSERT INTO {schema}.hotmesh_escalations
       (id, app_id, job_id, activity_id, role, type, subtype, priority, description, metadata, envelope)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)
ON CONFLICT (id) DO NOTHING;

-- name: list_escalations
SELECT * FROM {schema}.hotmesh_escalations
 WHERE app_id = $1
   AND ($2::text IS NULL OR role = $2)
   AND ($3::text IS NULL OR status = $3)
 ORDER BY priority DESC, created_at
 LIMIT $4;

-- name: claim_escalation
-- A claim succeeds on a pending row, or on a claimed one whose claim is older than $3
-- seconds (an abandoned claim).
UPDATE {schema}.hotmesh_escalations
   SET status = 'claimed', claimed_by = $2, claimed_at = now()
 WHERE id = $1
   AND (status = 'pending' OR (status = 'claimed' AND claimed_at < now() - make_interval(secs => $3)))
RETURNING *;

-- name: resolve_escalation
UPDATE {schema}.hotmesh_escalations
   SET status = 'resolved', resolution = $2, resolved_at = now()
 WHERE id = $1 AND status <> 'resolved'
RETURNING job_id, activity_id;

-- name: escalation_row
SELECT * FROM {schema}.hotmesh_escalations WHERE id = $1;
