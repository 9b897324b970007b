-- The YAML front end's own tables (hotmesh_temporal.hotmesh). Applied by HotMesh.init
-- under an advisory lock; every statement is idempotent. {schema} is the engine's schema.

-- One row per deployed app version: the compiled graphs as JSON. Exactly one version
-- per app is active (activate flips every row of the app in one UPDATE).
CREATE TABLE IF NOT EXISTS {schema}.hotmesh_apps (
    app_id       text        NOT NULL,
    version      text        NOT NULL,
    compiled     jsonb       NOT NULL,
    source       text        NOT NULL DEFAULT '',
    deployed_at  timestamptz NOT NULL DEFAULT now(),
    active       boolean     NOT NULL DEFAULT false,
    activated_at timestamptz,
    PRIMARY KEY (app_id, version)
);

-- Human tasks opened by hook activities with an 'escalation:' block. The id is chosen by
-- the run (job id, activity id, pass), so a replayed or retried open finds its row.
CREATE TABLE IF NOT EXISTS {schema}.hotmesh_escalations (
    id          text        PRIMARY KEY,
    app_id      text        NOT NULL,
    job_id      text        NOT NULL,
    activity_id text        NOT NULL,
    role        text        NOT NULL DEFAULT '',
    type        text        NOT NULL DEFAULT '',
    subtype     text        NOT NULL DEFAULT '',
    priority    integer     NOT NULL DEFAULT 0,
    description jsonb,
    metadata    jsonb,
    envelope    jsonb,
    status      text        NOT NULL DEFAULT 'pending',  -- pending | claimed | resolved
    claimed_by  text,
    claimed_at  timestamptz,
    resolution  jsonb,
    created_at  timestamptz NOT NULL DEFAULT now(),
    resolved_at timestamptz
);
CREATE INDEX IF NOT EXISTS hotmesh_escalations_open
    ON {schema}.hotmesh_escalations (app_id, role, priority DESC, created_at)
    WHERE status <> 'resolved';
