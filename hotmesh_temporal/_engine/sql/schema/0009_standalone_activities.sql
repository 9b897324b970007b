-- Standalone activities: activities a client starts (Client.start_activity), with no
-- workflow run around them.
--
-- Each activity run is a row of standalone_activities (its status, options, outcome);
-- while it has an attempt to run, it also has one activity_tasks row (run_id = the
-- activity's run id, workflow_id = workflow_type = '', scheduled_event_id = 1), which
-- workers claim, heartbeat, complete and fail exactly like a workflow's activity task.
-- finish_activity (0001) hands the final event of such a task to
-- finish_standalone_activity, which closes the standalone row instead of writing to a
-- workflow's history.
--
-- Lock order: there is no executions row; every waiting transition locks the task row
-- before the standalone_activities row (as the worker's reports do), and the sweeper
-- locks both with SKIP LOCKED.

CREATE TABLE {{schema}}.standalone_activities (
    run_id uuid PRIMARY KEY,
    namespace text NOT NULL,
    activity_id text NOT NULL,
    activity_type text NOT NULL,
    task_queue text NOT NULL,
    -- Temporal's ActivityExecutionStatus: 1 running, 2 completed, 3 failed,
    -- 4 canceled, 5 terminated, 6 timed out, 7 paused.
    status smallint NOT NULL DEFAULT 1,
    start_time timestamptz NOT NULL,        -- when it was scheduled
    execution_time timestamptz NOT NULL,    -- scheduled + start delay
    close_time timestamptz,
    -- {task_queue, schedule_to_close, schedule_to_start, start_to_close,
    --  heartbeat_timeout, start_delay (seconds), retry_policy, priority}
    options jsonb NOT NULL,
    original_options jsonb NOT NULL,
    input jsonb,
    header jsonb,
    search_attributes jsonb,
    search_values jsonb GENERATED ALWAYS AS
        ({{schema}}.search_attribute_values(search_attributes)) STORED,
    -- Temporal's sdk.v1.UserMetadata JSON ({summary}: a payload encoded by the client's
    -- data converter, codec included, like every other user metadata).
    user_metadata jsonb,
    identity text,
    cancel_requested boolean NOT NULL DEFAULT false,
    canceled_reason text,
    paused boolean NOT NULL DEFAULT false,
    heartbeat_count int NOT NULL DEFAULT 0,
    -- Copied from the task when the activity closes (read from the task before).
    attempt int NOT NULL DEFAULT 1,
    last_failure jsonb,
    heartbeat_details jsonb,
    last_heartbeat_time timestamptz,
    last_started_time timestamptz,
    last_attempt_complete_time timestamptz,
    last_worker_identity text,
    result jsonb,
    failure jsonb
);

-- Temporal's guarantee: at most one open run per activity id.
CREATE UNIQUE INDEX standalone_activities_one_open
    ON {{schema}}.standalone_activities (namespace, activity_id) WHERE close_time IS NULL;
CREATE INDEX standalone_activities_by_id
    ON {{schema}}.standalone_activities (namespace, activity_id, start_time DESC);
CREATE INDEX standalone_activities_start_time
    ON {{schema}}.standalone_activities (namespace, start_time DESC);
CREATE INDEX standalone_activities_search_values
    ON {{schema}}.standalone_activities USING gin (search_values jsonb_path_ops);

-- The run a client addresses: a given run id, else the latest run of the activity id.
CREATE FUNCTION {{schema}}.find_standalone_activity(p_namespace text, p_activity_id text, p_run uuid)
RETURNS {{schema}}.standalone_activities
LANGUAGE sql STABLE AS $$
    SELECT * FROM {{schema}}.standalone_activities
     WHERE namespace = p_namespace AND activity_id = p_activity_id
       AND (p_run IS NULL OR run_id = p_run)
     ORDER BY start_time DESC LIMIT 1
$$;

-- ------------------------------------------------------------------------ start

-- Start an activity run, applying the id reuse and id conflict policies.
-- Returns {status: started|existing|already_started, run_id}.
CREATE FUNCTION {{schema}}.start_standalone_activity(p jsonb) RETURNS jsonb
LANGUAGE plpgsql AS $$
DECLARE
    v_ns text := p->>'namespace';
    v_id text := p->>'activity_id';
    -- ActivityIdReusePolicy: 1 allow duplicate, 2 failed only, 3 reject duplicate.
    v_reuse int := coalesce(nullif((p->>'id_reuse_policy')::int, 0), 1);
    -- ActivityIdConflictPolicy: 1 fail, 2 use existing.
    v_conflict int := coalesce(nullif((p->>'id_conflict_policy')::int, 0), 1);
    v_last {{schema}}.standalone_activities;
BEGIN
    v_last := {{schema}}.find_standalone_activity(v_ns, v_id, NULL);
    IF v_last.run_id IS NOT NULL AND v_last.close_time IS NULL THEN
        RETURN jsonb_build_object(
            'status', CASE WHEN v_conflict = 2 THEN 'existing' ELSE 'already_started' END,
            'run_id', v_last.run_id);
    END IF;
    IF v_last.run_id IS NOT NULL
       AND (v_reuse = 3 OR (v_reuse = 2 AND v_last.status NOT IN (3, 4, 5, 6))) THEN
        RETURN jsonb_build_object('status', 'already_started', 'run_id', v_last.run_id);
    END IF;
    BEGIN
        RETURN jsonb_build_object('status', 'started',
                                  'run_id', {{schema}}.insert_standalone_activity(p));
    EXCEPTION WHEN unique_violation THEN
        -- Another start of the same id won the race.
        v_last := {{schema}}.find_standalone_activity(v_ns, v_id, NULL);
        RETURN jsonb_build_object(
            'status', CASE WHEN v_conflict = 2 THEN 'existing' ELSE 'already_started' END,
            'run_id', v_last.run_id);
    END;
END $$;

CREATE FUNCTION {{schema}}.insert_standalone_activity(p jsonb) RETURNS uuid
LANGUAGE plpgsql AS $$
DECLARE
    v_run uuid := (p->>'run_id')::uuid;
    v_now timestamptz := {{schema}}.now();
    o jsonb := p->'options';
    v_at timestamptz := v_now + coalesce((o->>'start_delay')::float8, 0) * interval '1 second';
BEGIN
    INSERT INTO {{schema}}.standalone_activities (
        run_id, namespace, activity_id, activity_type, task_queue, start_time,
        execution_time, options, original_options, input, header, search_attributes,
        user_metadata, identity)
    VALUES (
        v_run, p->>'namespace', p->>'activity_id', p->>'activity_type', o->>'task_queue',
        v_now, v_at, o, o, p->'input', p->'header', p->'search_attributes',
        p->'user_metadata', p->>'identity');
    INSERT INTO {{schema}}.activity_tasks (
        run_id, namespace, workflow_id, workflow_type, scheduled_event_id, activity_id,
        activity_type, task_queue, input, header, scheduled_time, attempt_scheduled_time,
        visible_at)
    VALUES (
        v_run, p->>'namespace', '', '', 1, p->>'activity_id', p->>'activity_type',
        o->>'task_queue', p->'input', p->'header', v_now, v_at, v_at);
    PERFORM {{schema}}.apply_standalone_options(v_run, o);
    RETURN v_run;
END $$;

-- Put options on the run's task (when it has one) and wake its workers.
CREATE FUNCTION {{schema}}.apply_standalone_options(p_run uuid, o jsonb) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    t {{schema}}.activity_tasks;
BEGIN
    UPDATE {{schema}}.activity_tasks
       SET task_queue = o->>'task_queue',
           schedule_to_close = (o->>'schedule_to_close')::float8,
           schedule_to_start = (o->>'schedule_to_start')::float8,
           start_to_close = (o->>'start_to_close')::float8,
           heartbeat_timeout = (o->>'heartbeat_timeout')::float8,
           retry_policy = o->'retry_policy'
     WHERE run_id = p_run
    RETURNING * INTO t;
    IF NOT FOUND THEN
        RETURN;
    END IF;
    PERFORM {{schema}}.reset_standalone_deadline(t);
END $$;

-- Recompute when the sweeper must look at a standalone task; a paused task waiting
-- for its attempt only has its schedule-to-close deadline.
CREATE FUNCTION {{schema}}.reset_standalone_deadline(t {{schema}}.activity_tasks) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    v_deadline timestamptz;
BEGIN
    IF t.leased_by IS NULL AND t.visible_at = 'infinity' THEN
        v_deadline := t.scheduled_time + t.schedule_to_close * interval '1 second';
    ELSE
        v_deadline := {{schema}}.activity_deadline(t);
    END IF;
    UPDATE {{schema}}.activity_tasks SET deadline = v_deadline WHERE id = t.id;
    PERFORM {{schema}}.notify_deadline(v_deadline);
    IF t.leased_by IS NULL AND t.visible_at <= {{schema}}.now() THEN
        PERFORM {{schema}}.notify('a|' || t.namespace || '|' || t.task_queue);
    END IF;
END $$;

-- ------------------------------------------------------------------------ close

CREATE FUNCTION {{schema}}.close_standalone_activity(
    p_run uuid, p_status smallint, p_result jsonb, p_failure jsonb, p_identity text)
RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    t {{schema}}.activity_tasks;
BEGIN
    DELETE FROM {{schema}}.activity_tasks WHERE run_id = p_run RETURNING * INTO t;
    UPDATE {{schema}}.standalone_activities s
       SET status = p_status, result = p_result, failure = p_failure,
           close_time = {{schema}}.now(),
           attempt = coalesce(t.attempt, s.attempt),
           last_failure = coalesce(t.last_failure, s.last_failure),
           heartbeat_details = coalesce(t.heartbeat_details, s.heartbeat_details),
           last_heartbeat_time = coalesce(t.last_heartbeat, s.last_heartbeat_time),
           last_started_time = coalesce(t.started_time, s.last_started_time),
           last_attempt_complete_time = CASE WHEN t.started_time IS NOT NULL
               THEN {{schema}}.now() ELSE s.last_attempt_complete_time END,
           last_worker_identity = coalesce(nullif(p_identity, ''), s.last_worker_identity)
     WHERE run_id = p_run;
    PERFORM {{schema}}.notify('s|' || p_run::text);
END $$;

-- The final event a worker's report (or a timeout) produced, as the activity's outcome.
CREATE FUNCTION {{schema}}.finish_standalone_activity(
    t {{schema}}.activity_tasks, p_identity text, p_final jsonb)
RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    v_attrs jsonb := p_final->'attrs';
BEGIN
    PERFORM 1 FROM {{schema}}.standalone_activities WHERE run_id = t.run_id FOR UPDATE;
    CASE p_final->>'type'
    WHEN 'ActivityTaskCompleted' THEN
        PERFORM {{schema}}.close_standalone_activity(t.run_id, 2::smallint,
            coalesce(v_attrs->'result', '{}'::jsonb), NULL, p_identity);
    WHEN 'ActivityTaskFailed' THEN
        PERFORM {{schema}}.close_standalone_activity(t.run_id, 3::smallint, NULL,
            v_attrs->'failure', p_identity);
    WHEN 'ActivityTaskCanceled' THEN
        PERFORM {{schema}}.close_standalone_activity(t.run_id, 4::smallint, NULL,
            {{schema}}.standalone_canceled_failure(v_attrs->'details'), p_identity);
    ELSE -- ActivityTaskTimedOut
        PERFORM {{schema}}.close_standalone_activity(t.run_id, 6::smallint, NULL,
            v_attrs->'failure', p_identity);
    END CASE;
END $$;

CREATE FUNCTION {{schema}}.standalone_canceled_failure(p_details jsonb) RETURNS jsonb
LANGUAGE sql IMMUTABLE AS $$
    SELECT jsonb_build_object('message', 'Activity canceled', 'source', 'Server',
        'canceledFailureInfo', jsonb_strip_nulls(jsonb_build_object('details', p_details)))
$$;

-- ------------------------------------------------------------ worker-side bookkeeping

-- Heartbeats are counted, and a retry of a paused activity waits for unpause: both
-- happen in 0001's functions, which know nothing of standalone rows.
CREATE FUNCTION {{schema}}.standalone_task_changed() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.last_heartbeat IS NOT NULL AND NEW.last_heartbeat IS DISTINCT FROM OLD.last_heartbeat THEN
        UPDATE {{schema}}.standalone_activities
           SET heartbeat_count = heartbeat_count + 1 WHERE run_id = NEW.run_id;
    END IF;
    IF NEW.attempt > OLD.attempt THEN
        UPDATE {{schema}}.standalone_activities
           SET last_attempt_complete_time = {{schema}}.now(),
               last_started_time = OLD.started_time
         WHERE run_id = NEW.run_id;
        IF EXISTS (SELECT 1 FROM {{schema}}.standalone_activities
                    WHERE run_id = NEW.run_id AND paused) THEN
            NEW.visible_at := 'infinity';
            NEW.deadline := NEW.scheduled_time + NEW.schedule_to_close * interval '1 second';
        END IF;
    END IF;
    IF NEW.leased_by IS NOT NULL AND OLD.leased_by IS NULL THEN
        UPDATE {{schema}}.standalone_activities
           SET last_worker_identity = NEW.leased_by, last_started_time = NEW.started_time
         WHERE run_id = NEW.run_id;
    END IF;
    RETURN NEW;
END $$;

CREATE TRIGGER standalone_task_changed
    BEFORE UPDATE ON {{schema}}.activity_tasks
    FOR EACH ROW WHEN (NEW.workflow_id = '')
    EXECUTE FUNCTION {{schema}}.standalone_task_changed();

-- ------------------------------------------------------------------ client calls

-- The addressed run's open task and row, locked in order (task, then row).
-- Returns the row with run_id NULL when there is no such activity.
CREATE FUNCTION {{schema}}.lock_standalone_activity(p_namespace text, p_activity_id text, p_run uuid)
RETURNS {{schema}}.standalone_activities
LANGUAGE plpgsql AS $$
DECLARE
    s {{schema}}.standalone_activities;
BEGIN
    s := {{schema}}.find_standalone_activity(p_namespace, p_activity_id, p_run);
    IF s.run_id IS NOT NULL THEN
        PERFORM 1 FROM {{schema}}.activity_tasks WHERE run_id = s.run_id FOR UPDATE;
        SELECT * INTO s FROM {{schema}}.standalone_activities WHERE run_id = s.run_id FOR UPDATE;
    END IF;
    RETURN s;
END $$;

-- Cancel: a task no worker runs is canceled at once; a running attempt learns of it
-- from its next heartbeat, and may not be retried any more.
-- Returns ok | not_found | not_running.
CREATE FUNCTION {{schema}}.cancel_standalone_activity(
    p_namespace text, p_activity_id text, p_run uuid, p_reason text, p_identity text)
RETURNS text
LANGUAGE plpgsql AS $$
DECLARE
    s {{schema}}.standalone_activities;
    t {{schema}}.activity_tasks;
BEGIN
    s := {{schema}}.lock_standalone_activity(p_namespace, p_activity_id, p_run);
    IF s.run_id IS NULL THEN
        RETURN 'not_found';
    ELSIF s.close_time IS NOT NULL THEN
        RETURN 'not_running';
    END IF;
    UPDATE {{schema}}.standalone_activities
       SET cancel_requested = true, canceled_reason = coalesce(p_reason, canceled_reason)
     WHERE run_id = s.run_id;
    SELECT * INTO t FROM {{schema}}.activity_tasks WHERE run_id = s.run_id;
    IF t.leased_by IS NULL THEN
        PERFORM {{schema}}.close_standalone_activity(s.run_id, 4::smallint, NULL,
            {{schema}}.standalone_canceled_failure(NULL), p_identity);
    ELSE
        UPDATE {{schema}}.activity_tasks
           SET cancel_requested = true,
               retry_policy = jsonb_set(coalesce(retry_policy, '{}'::jsonb),
                                        '{maximum_attempts}', to_jsonb(attempt))
         WHERE id = t.id;
    END IF;
    RETURN 'ok';
END $$;

-- Terminate: closes at once; a running attempt finds its task gone at its next
-- heartbeat or report. Returns ok | not_found | not_running.
CREATE FUNCTION {{schema}}.terminate_standalone_activity(
    p_namespace text, p_activity_id text, p_run uuid, p_reason text, p_identity text)
RETURNS text
LANGUAGE plpgsql AS $$
DECLARE
    s {{schema}}.standalone_activities;
BEGIN
    s := {{schema}}.lock_standalone_activity(p_namespace, p_activity_id, p_run);
    IF s.run_id IS NULL THEN
        RETURN 'not_found';
    ELSIF s.close_time IS NOT NULL THEN
        RETURN 'not_running';
    END IF;
    PERFORM {{schema}}.close_standalone_activity(s.run_id, 5::smallint, NULL,
        jsonb_build_object('message', coalesce(nullif(p_reason, ''), 'Activity terminated'),
                           'source', 'Server', 'terminatedFailureInfo', '{}'::jsonb),
        p_identity);
    RETURN 'ok';
END $$;

-- Pause: no new attempt is dispatched (a running one goes on) until unpause.
CREATE FUNCTION {{schema}}.pause_standalone_activity(
    p_namespace text, p_activity_id text, p_run uuid, p_pause boolean, p_jitter double precision)
RETURNS text
LANGUAGE plpgsql AS $$
DECLARE
    s {{schema}}.standalone_activities;
    t {{schema}}.activity_tasks;
    v_at timestamptz;
BEGIN
    s := {{schema}}.lock_standalone_activity(p_namespace, p_activity_id, p_run);
    IF s.run_id IS NULL THEN
        RETURN 'not_found';
    ELSIF s.close_time IS NOT NULL THEN
        RETURN 'not_running';
    END IF;
    UPDATE {{schema}}.standalone_activities
       SET paused = p_pause, status = CASE WHEN p_pause THEN 7 ELSE 1 END
     WHERE run_id = s.run_id;
    SELECT * INTO t FROM {{schema}}.activity_tasks WHERE run_id = s.run_id;
    IF t.id IS NULL OR t.leased_by IS NOT NULL THEN
        RETURN 'ok';
    END IF;
    IF p_pause THEN
        t.visible_at := 'infinity';
    ELSIF t.visible_at = 'infinity' THEN
        v_at := {{schema}}.now() + random() * coalesce(p_jitter, 0) * interval '1 second';
        t.visible_at := v_at;
        t.attempt_scheduled_time := v_at;
    END IF;
    UPDATE {{schema}}.activity_tasks
       SET visible_at = t.visible_at, attempt_scheduled_time = t.attempt_scheduled_time
     WHERE id = t.id;
    PERFORM {{schema}}.reset_standalone_deadline(t);
    RETURN 'ok';
END $$;

-- Change options (p_changes: the named options' new values, null to clear) or restore
-- the original ones. Returns {status, options}.
CREATE FUNCTION {{schema}}.update_standalone_activity_options(
    p_namespace text, p_activity_id text, p_run uuid, p_changes jsonb, p_restore boolean)
RETURNS jsonb
LANGUAGE plpgsql AS $$
DECLARE
    s {{schema}}.standalone_activities;
    v_options jsonb;
    v_first timestamptz;
BEGIN
    s := {{schema}}.lock_standalone_activity(p_namespace, p_activity_id, p_run);
    IF s.run_id IS NULL THEN
        RETURN jsonb_build_object('status', 'not_found');
    ELSIF s.close_time IS NOT NULL THEN
        RETURN jsonb_build_object('status', 'not_running');
    END IF;
    v_options := CASE WHEN p_restore THEN s.original_options
                      ELSE jsonb_strip_nulls(s.options || p_changes) END;
    IF NOT v_options ? 'task_queue' THEN
        v_options := v_options || jsonb_build_object('task_queue', s.task_queue);
    END IF;
    v_first := s.start_time + coalesce((v_options->>'start_delay')::float8, 0) * interval '1 second';
    UPDATE {{schema}}.standalone_activities
       SET options = v_options, task_queue = v_options->>'task_queue',
           execution_time = CASE WHEN s.last_started_time IS NULL THEN v_first ELSE execution_time END
     WHERE run_id = s.run_id;
    -- A new start delay moves a first attempt that has not been dispatched yet.
    UPDATE {{schema}}.activity_tasks SET visible_at = v_first, attempt_scheduled_time = v_first
     WHERE run_id = s.run_id AND attempt = 1 AND leased_by IS NULL AND visible_at <> 'infinity';
    PERFORM {{schema}}.apply_standalone_options(s.run_id, v_options);
    RETURN jsonb_build_object('status', 'ok', 'options', v_options);
END $$;

-- Everything describe() shows: the row, and the running task's state when it has one.
CREATE FUNCTION {{schema}}.describe_standalone_activity(p_namespace text, p_activity_id text, p_run uuid)
RETURNS jsonb
LANGUAGE sql STABLE AS $$
    SELECT to_jsonb(s) || jsonb_build_object('task', to_jsonb(t), 'now', {{schema}}.now())
      FROM {{schema}}.find_standalone_activity(p_namespace, p_activity_id, p_run) s
      LEFT JOIN {{schema}}.activity_tasks t ON t.run_id = s.run_id
     WHERE s.run_id IS NOT NULL
$$;

-- ------------------------------------------------------------------------ sweep

-- Hook of sweep (0001): timeouts and retry backoffs of standalone tasks, which sweep's
-- own activity loop never sees (it joins executions).
CREATE FUNCTION {{schema}}.sweep_standalone_activities(p_now timestamptz, p_limit int)
RETURNS int
LANGUAGE plpgsql AS $$
DECLARE
    v_task {{schema}}.activity_tasks;
    n int := 0;
BEGIN
    FOR v_task IN
        SELECT t.* FROM {{schema}}.activity_tasks t
          JOIN {{schema}}.standalone_activities s ON s.run_id = t.run_id
         WHERE t.deadline <= p_now AND t.workflow_id = ''
         ORDER BY t.deadline LIMIT p_limit
           FOR UPDATE OF t, s SKIP LOCKED
    LOOP
        PERFORM {{schema}}.sweep_standalone_task(v_task, p_now);
        n := n + 1;
    END LOOP;
    RETURN n;
END $$;

CREATE FUNCTION {{schema}}.sweep_standalone_task(t {{schema}}.activity_tasks, p_now timestamptz)
RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    IF t.schedule_to_close IS NOT NULL
       AND t.scheduled_time + t.schedule_to_close * interval '1 second' <= p_now THEN
        PERFORM {{schema}}.sweep_activity(t);  -- ends it as timed out (schedule to close)
    ELSIF t.leased_by IS NULL AND t.visible_at = 'infinity' THEN
        PERFORM {{schema}}.reset_standalone_deadline(t);  -- paused: nothing else is due
    ELSIF t.leased_by IS NULL AND t.schedule_to_start IS NOT NULL
          AND t.attempt_scheduled_time + t.schedule_to_start * interval '1 second' <= p_now THEN
        PERFORM {{schema}}.close_standalone_activity(t.run_id, 6::smallint, NULL,
            {{schema}}.timeout_failure('TIMEOUT_TYPE_SCHEDULE_TO_START', NULL)
                || jsonb_strip_nulls(jsonb_build_object('cause', t.last_failure)), '');
    ELSE
        PERFORM {{schema}}.sweep_activity(t);  -- backoff over, or an attempt timed out
    END IF;
END $$;
