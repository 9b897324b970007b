-- Retention, as Temporal's: every namespace keeps closed runs for a retention period,
-- after which the run and everything that belongs to it (history, inbox, timers,
-- tasks, updates, schedule bookkeeping) is deleted by the workers' sweepers, in
-- bounded batches that lock only the rows they delete (SKIP LOCKED), so a purge never
-- waits for, nor blocks, a live transition.

-- One row per namespace that has settings of its own; a namespace without a row has
-- the deployment's default retention.
CREATE TABLE {{schema}}.namespaces (
    namespace text PRIMARY KEY,
    retention interval NOT NULL,
    description text NOT NULL DEFAULT '',
    owner_email text NOT NULL DEFAULT '',
    data jsonb NOT NULL DEFAULT '{}',
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now()
);

-- Deployment-wide settings: Temporal's defaults (a namespace registered without a
-- retention keeps closed runs 72 hours, as `temporal operator namespace create` does,
-- and no retention may be shorter than a day, the server's minimum). Tests and demos
-- lower min_retention with set_retention_limits().
CREATE TABLE {{schema}}.retention_settings (
    singleton boolean PRIMARY KEY DEFAULT true CHECK (singleton),
    default_retention interval NOT NULL DEFAULT interval '72 hours',
    min_retention interval NOT NULL DEFAULT interval '24 hours',
    -- when a sweeper last looked for expired runs (so the fleet purges every
    -- purge_every, not once per worker)
    last_purge timestamptz NOT NULL DEFAULT '-infinity',
    purge_every interval NOT NULL DEFAULT interval '60 seconds'
);
INSERT INTO {{schema}}.retention_settings DEFAULT VALUES;

-- Closed runs in the order they expire.
CREATE INDEX executions_closed ON {{schema}}.executions (close_time) WHERE status <> 1;

CREATE FUNCTION {{schema}}.retention_of(p_namespace text) RETURNS interval
LANGUAGE sql STABLE AS $$
    SELECT coalesce(
        (SELECT retention FROM {{schema}}.namespaces WHERE namespace = p_namespace),
        (SELECT default_retention FROM {{schema}}.retention_settings))
$$;

-- Register a namespace or change its settings; a retention under the minimum is refused.
CREATE FUNCTION {{schema}}.upsert_namespace(
    p_namespace text, p_retention interval, p_description text, p_owner_email text,
    p_data jsonb) RETURNS {{schema}}.namespaces
LANGUAGE plpgsql AS $$
DECLARE
    v_min interval := (SELECT min_retention FROM {{schema}}.retention_settings);
    v_row {{schema}}.namespaces;
BEGIN
    IF p_retention IS NOT NULL AND p_retention < v_min THEN
        RAISE EXCEPTION 'retention % is shorter than the minimum %', p_retention, v_min
            USING ERRCODE = '22023';  -- invalid_parameter_value
    END IF;
    INSERT INTO {{schema}}.namespaces AS n
        (namespace, retention, description, owner_email, data)
    VALUES (p_namespace,
            coalesce(p_retention, (SELECT default_retention FROM {{schema}}.retention_settings)),
            coalesce(p_description, ''), coalesce(p_owner_email, ''), coalesce(p_data, '{}'))
    ON CONFLICT (namespace) DO UPDATE SET
        retention = coalesce(p_retention, n.retention),
        description = coalesce(p_description, n.description),
        owner_email = coalesce(p_owner_email, n.owner_email),
        data = n.data || coalesce(p_data, '{}'),
        updated_at = now()
    RETURNING * INTO v_row;
    RETURN v_row;
END $$;

-- Delete closed runs and everything that belongs to them. Locks only those runs (SKIP
-- LOCKED: a run a transition holds is skipped and taken next time).
CREATE FUNCTION {{schema}}.delete_runs(p_runs uuid[]) RETURNS int
LANGUAGE plpgsql AS $$
DECLARE
    v_runs uuid[];
BEGIN
    SELECT array_agg(run_id) INTO v_runs FROM (
        SELECT run_id FROM {{schema}}.executions
         WHERE run_id = ANY (p_runs) AND status <> 1
         FOR UPDATE SKIP LOCKED) locked;
    IF v_runs IS NULL THEN
        RETURN 0;
    END IF;
    DELETE FROM {{schema}}.history_events WHERE run_id = ANY (v_runs);
    DELETE FROM {{schema}}.inbox WHERE run_id = ANY (v_runs);
    DELETE FROM {{schema}}.timers WHERE run_id = ANY (v_runs);
    DELETE FROM {{schema}}.activity_tasks WHERE run_id = ANY (v_runs);
    DELETE FROM {{schema}}.workflow_tasks WHERE run_id = ANY (v_runs);
    DELETE FROM {{schema}}.schedule_runs WHERE run_id = ANY (v_runs);
    DELETE FROM {{schema}}.run_timeouts WHERE run_id = ANY (v_runs);
    DELETE FROM {{schema}}.executions WHERE run_id = ANY (v_runs);  -- updates cascade
    RETURN cardinality(v_runs);
END $$;

-- One bounded batch of the runs whose retention has passed, oldest first. Returns the
-- number deleted (p_batch or more means there may be more to do).
CREATE FUNCTION {{schema}}.purge_expired_runs(p_batch int) RETURNS int
LANGUAGE sql AS $$
    SELECT {{schema}}.delete_runs(array(
        SELECT e.run_id FROM {{schema}}.executions e
         WHERE e.status <> 1
           -- the index bound: nothing closed after now() - the shortest retention
           AND e.close_time < {{schema}}.now() - least(
                   (SELECT min(retention) FROM {{schema}}.namespaces),
                   (SELECT default_retention FROM {{schema}}.retention_settings))
           AND e.close_time < {{schema}}.now() - {{schema}}.retention_of(e.namespace)
         ORDER BY e.close_time
         LIMIT p_batch))
$$;

-- Whether this sweeper should purge now: true for one caller per purge_every.
CREATE FUNCTION {{schema}}.claim_purge_turn() RETURNS boolean
LANGUAGE sql AS $$
    UPDATE {{schema}}.retention_settings
       SET last_purge = {{schema}}.now()
     WHERE last_purge <= {{schema}}.now() - purge_every
    RETURNING true
$$;
