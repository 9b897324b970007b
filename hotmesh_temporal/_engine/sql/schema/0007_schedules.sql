-- Schedules: one row per schedule, fired by whichever worker's sweeper gets to it.
--
-- Python owns the calendar (cron.py computes nominal times and their jitter); these
-- functions own everything that must be atomic with the row: which times were handled
-- (cursor_at), the overlap policy, the buffer of waiting starts, the workflows started,
-- counters and recent actions. schedule_tick() locks the row and refuses a stale
-- cursor, so each nominal time is handled exactly once however many workers tick.

CREATE TABLE {{schema}}.schedules (
    namespace text NOT NULL,
    schedule_id text NOT NULL,
    spec jsonb NOT NULL,                 -- the ScheduleSpec, as the client encodes it
    action jsonb NOT NULL,               -- {workflow_id, start: start_workflow() template}
    overlap smallint NOT NULL DEFAULT 1, -- ScheduleOverlapPolicy
    catchup_window double precision NOT NULL DEFAULT 31536000,
    pause_on_failure boolean NOT NULL DEFAULT false,
    paused boolean NOT NULL DEFAULT false,
    note text NOT NULL DEFAULT '',
    limited_actions boolean NOT NULL DEFAULT false,
    remaining_actions bigint NOT NULL DEFAULT 0,
    memo jsonb,
    search_attributes jsonb,
    cursor_at timestamptz NOT NULL,      -- every nominal time up to here is handled
    next_fire_at timestamptz,            -- action time of the next nominal time
    buffered jsonb NOT NULL DEFAULT '[]',        -- starts waiting for a run to close
    running jsonb NOT NULL DEFAULT '[]',         -- [{workflow_id, run_id}] it started
    recent_actions jsonb NOT NULL DEFAULT '[]',  -- the last 10, oldest first
    num_actions bigint NOT NULL DEFAULT 0,
    missed_catchup bigint NOT NULL DEFAULT 0,
    skipped_overlap bigint NOT NULL DEFAULT 0,
    last_completion_result jsonb,        -- passed on to the next run, as Temporal does
    last_failure jsonb,
    created_at timestamptz NOT NULL,
    updated_at timestamptz,
    conflict_token bigint NOT NULL DEFAULT 1,
    PRIMARY KEY (namespace, schedule_id)
);
CREATE INDEX schedules_next_fire ON {{schema}}.schedules (next_fire_at) WHERE next_fire_at IS NOT NULL;

-- Runs a schedule started and still watches: their close wakes the schedule (to start
-- a buffered action, pause on failure, keep the last result).
CREATE TABLE {{schema}}.schedule_runs (
    run_id uuid PRIMARY KEY,
    namespace text NOT NULL,
    schedule_id text NOT NULL
);

-- Schedules to look at now because one of their runs closed. A separate table, so that
-- closing a run never waits on a schedule row another worker is ticking.
CREATE TABLE {{schema}}.schedule_wakeups (
    seq bigserial PRIMARY KEY,
    namespace text NOT NULL,
    schedule_id text NOT NULL
);

CREATE FUNCTION {{schema}}.schedule_run_closed() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO {{schema}}.schedule_wakeups (namespace, schedule_id)
    SELECT namespace, schedule_id FROM {{schema}}.schedule_runs WHERE run_id = NEW.run_id;
    IF FOUND THEN
        DELETE FROM {{schema}}.schedule_runs WHERE run_id = NEW.run_id;
        PERFORM {{schema}}.notify('t|' || extract(epoch FROM {{schema}}.now()));
    END IF;
    RETURN NULL;
END $$;

CREATE TRIGGER executions_schedule_run_closed
    AFTER UPDATE OF status ON {{schema}}.executions
    FOR EACH ROW WHEN (OLD.status = 1 AND NEW.status <> 1)
    EXECUTE FUNCTION {{schema}}.schedule_run_closed();

-- ------------------------------------------------------------ run timeouts

-- Runs that reached their run timeout and go on (a retry, or the next cron run), waiting
-- for a worker: the retry backoff and the cron calendar are computed in Python
-- (timeout_run, 0001, puts them here; run_timed_out() takes them out).
CREATE TABLE {{schema}}.run_timeouts (
    run_id uuid PRIMARY KEY,
    due_at timestamptz NOT NULL
);

-- Timed-out runs to retry or continue: the run and its WorkflowExecutionStarted attributes.
CREATE FUNCTION {{schema}}.due_run_timeouts(p_limit int)
RETURNS TABLE (run_id uuid, namespace text, workflow_id text, started jsonb, now timestamptz)
LANGUAGE sql STABLE AS $$
    SELECT t.run_id, e.namespace, e.workflow_id, h.attributes, {{schema}}.now()
      FROM {{schema}}.run_timeouts t
      JOIN {{schema}}.executions e ON e.run_id = t.run_id
      JOIN {{schema}}.history_events h ON h.run_id = t.run_id AND h.event_id = 1
     ORDER BY t.due_at LIMIT p_limit
$$;

-- Close a timed-out run with p_retry_state and, when p_start (built by the worker) is
-- given, start the run that follows it, atomically. Only the first caller does it;
-- false for the others.
CREATE FUNCTION {{schema}}.run_timed_out(p_run uuid, p_retry_state text, p_start jsonb)
RETURNS boolean
LANGUAGE plpgsql AS $$
DECLARE
    v_status smallint;
    v_new_run uuid := (p_start->>'run_id')::uuid;
BEGIN
    DELETE FROM {{schema}}.run_timeouts WHERE run_id = p_run;
    IF NOT FOUND THEN
        RETURN false;
    END IF;
    SELECT status INTO v_status FROM {{schema}}.executions WHERE run_id = p_run FOR UPDATE;
    IF v_status <> 1 THEN
        RETURN false;  -- it closed by itself meanwhile
    END IF;
    DELETE FROM {{schema}}.inbox WHERE run_id = p_run;
    PERFORM {{schema}}.append_events(p_run, jsonb_build_array(jsonb_build_object(
        'type', 'WorkflowExecutionTimedOut',
        'attrs', jsonb_strip_nulls(jsonb_build_object('retryState', p_retry_state,
                                                      'newExecutionRunId', v_new_run)))));
    PERFORM {{schema}}.close_run(p_run, 7::smallint, NULL, NULL, v_new_run);
    IF p_start IS NOT NULL THEN
        PERFORM {{schema}}.insert_run(p_start);
    END IF;
    RETURN true;
END $$;

-- --------------------------------------------------------------- sweeper hooks

-- Firing needs the calendar, which Python computes: the sweeper's Python side calls
-- due_schedules() and schedule_tick() (and due_run_timeouts() and
-- run_timed_out()) when next_schedule_fire() says something is due.
CREATE FUNCTION {{schema}}.sweep_schedules(p_now timestamptz, p_limit int) RETURNS int
LANGUAGE sql AS $$ SELECT 0 $$;

CREATE FUNCTION {{schema}}.next_schedule_fire() RETURNS timestamptz
LANGUAGE sql STABLE AS $$
    SELECT least(
        (SELECT min(next_fire_at) FROM {{schema}}.schedules WHERE next_fire_at IS NOT NULL),
        (SELECT {{schema}}.now() FROM {{schema}}.schedule_wakeups LIMIT 1),
        (SELECT min(due_at) FROM {{schema}}.run_timeouts))
$$;

-- Schedules with something to do now: a due time, or a run of theirs that closed.
CREATE FUNCTION {{schema}}.due_schedules(p_limit int)
RETURNS TABLE (namespace text, schedule_id text, spec jsonb, action jsonb,
               cursor_at timestamptz, catchup_window double precision, now timestamptz)
LANGUAGE sql STABLE AS $$
    SELECT s.namespace, s.schedule_id, s.spec, s.action, s.cursor_at, s.catchup_window,
           {{schema}}.now()
      FROM {{schema}}.schedules s
     WHERE (s.namespace, s.schedule_id) IN (
            (SELECT x.namespace, x.schedule_id FROM {{schema}}.schedules x
              WHERE x.next_fire_at <= {{schema}}.now() ORDER BY x.next_fire_at LIMIT p_limit)
            UNION
            (SELECT w.namespace, w.schedule_id FROM {{schema}}.schedule_wakeups w LIMIT p_limit))
$$;

-- ------------------------------------------------------------------- the tick

-- Forget runs that are no longer running (following continue-as-new, cron and retry
-- chains by workflow id); remember the last outcome and pause on failure.
CREATE FUNCTION {{schema}}.schedule_refresh_running(s {{schema}}.schedules)
RETURNS {{schema}}.schedules
LANGUAGE plpgsql AS $$
DECLARE
    v_item jsonb;
    v_still jsonb := '[]'::jsonb;
    e {{schema}}.executions;
BEGIN
    FOR v_item IN SELECT * FROM jsonb_array_elements(s.running) LOOP
        e := {{schema}}.find_run(s.namespace, v_item->>'workflow_id', NULL);
        IF e.run_id IS NULL THEN
            CONTINUE;
        END IF;
        IF e.status = 1 THEN
            IF e.run_id::text <> v_item->>'run_id' THEN
                -- A later run of the chain (continue-as-new, cron, retry): watch it.
                v_item := v_item || jsonb_build_object('run_id', e.run_id);
                INSERT INTO {{schema}}.schedule_runs VALUES (e.run_id, s.namespace, s.schedule_id)
                ON CONFLICT DO NOTHING;
            END IF;
            v_still := v_still || jsonb_build_array(v_item);
            CONTINUE;
        END IF;
        IF e.status = 2 THEN
            s.last_completion_result := e.result;
            s.last_failure := NULL;
        ELSIF e.status IN (3, 7) THEN
            s.last_failure := coalesce(e.failure, jsonb_build_object(
                'message', 'Workflow timed out', 'source', 'Server'));
            IF s.pause_on_failure THEN
                s.paused := true;
                s.note := format('paused due to workflow %s: %s', CASE e.status
                    WHEN 3 THEN 'failure' ELSE 'timeout' END, e.workflow_id);
            END IF;
        END IF;
    END LOOP;
    s.running := v_still;
    RETURN s;
END $$;

-- Start one buffered action. Returns the schedule with its bookkeeping updated.
-- Actions started under ALLOW_ALL are not tracked as running, as on Temporal: they
-- cannot overlap anything, so the schedule does not watch them (describe() lists no
-- running action for them, and later overlap policies do not see them). A schedule
-- that pauses on failure still watches them, to see the failure.
CREATE FUNCTION {{schema}}.schedule_start(s {{schema}}.schedules, p_item jsonb, p_sequential boolean)
RETURNS {{schema}}.schedules
LANGUAGE plpgsql AS $$
DECLARE
    v_start jsonb := p_item->'start';
    v_reply jsonb;
    v_run uuid;
    v_policy int := coalesce(nullif((p_item->>'overlap')::int, 0), s.overlap);
BEGIN
    -- Runs that follow one another see the previous run's result or failure.
    IF p_sequential AND s.last_completion_result IS NOT NULL THEN
        v_start := jsonb_set(v_start, '{started_attributes,lastCompletionResult}', s.last_completion_result);
    END IF;
    IF p_sequential AND s.last_failure IS NOT NULL THEN
        v_start := jsonb_set(v_start, '{started_attributes,continuedFailure}', s.last_failure);
    END IF;
    v_reply := {{schema}}.start_workflow(v_start);
    IF v_reply->>'status' <> 'started' THEN
        RETURN s;  -- the id is taken (e.g. the same time backfilled twice): nothing to do
    END IF;
    v_run := (v_reply->>'run_id')::uuid;
    INSERT INTO {{schema}}.schedule_runs VALUES (v_run, s.namespace, s.schedule_id);
    IF v_policy <> 6 OR s.pause_on_failure THEN  -- 6: ScheduleOverlapPolicy.ALLOW_ALL
        s.running := s.running || jsonb_build_array(jsonb_build_object(
            'workflow_id', v_start->>'workflow_id', 'run_id', v_run));
    END IF;
    s.num_actions := s.num_actions + 1;
    s.recent_actions := (
        SELECT coalesce(jsonb_agg(x ORDER BY n), '[]'::jsonb)
          FROM jsonb_array_elements(s.recent_actions || jsonb_build_array(jsonb_build_object(
                   'scheduled_at', p_item->>'actual', 'started_at', {{schema}}.now(),
                   'workflow_id', v_start->>'workflow_id', 'run_id', v_run)))
               WITH ORDINALITY AS t(x, n)
         WHERE n > jsonb_array_length(s.recent_actions) + 1 - 10);
    RETURN s;
END $$;

-- Apply each buffered start's overlap policy against the runs still going, the way
-- Temporal's scheduler does. Policies: 1 SKIP, 2 BUFFER_ONE, 3 BUFFER_ALL,
-- 4 CANCEL_OTHER, 5 TERMINATE_OTHER, 6 ALLOW_ALL (0, unspecified, means the schedule's
-- own policy, read now so that a policy update applies to waiting starts too). At most
-- one start that must not overlap begins per pass; ALLOW_ALL starts all begin at once.
CREATE FUNCTION {{schema}}.schedule_process_buffer(s {{schema}}.schedules)
RETURNS {{schema}}.schedules
LANGUAGE plpgsql AS $$
DECLARE
    v_running boolean := jsonb_array_length(s.running) > 0;
    v_item jsonb;
    v_policy int;
    v_chosen jsonb;
    v_together jsonb := '[]'::jsonb;
    v_keep jsonb := '[]'::jsonb;
    v_cancel boolean := false;
    v_terminate boolean := false;
BEGIN
    FOR v_item IN SELECT * FROM jsonb_array_elements(s.buffered) LOOP
        v_policy := coalesce(nullif((v_item->>'overlap')::int, 0), s.overlap);
        IF v_policy = 6 THEN
            v_together := v_together || jsonb_build_array(v_item);
        ELSIF NOT v_running AND v_chosen IS NULL THEN
            v_chosen := v_item;
        ELSIF v_policy = 1 THEN
            s.skipped_overlap := s.skipped_overlap + 1;
        ELSIF v_policy = 2 THEN
            IF jsonb_array_length(v_keep) = 0 THEN
                v_keep := jsonb_build_array(v_item);  -- the first one waits
            ELSE
                s.skipped_overlap := s.skipped_overlap + 1;
            END IF;
        ELSIF v_policy = 3 THEN
            v_keep := v_keep || jsonb_build_array(v_item);
        ELSIF v_running THEN
            -- CANCEL_OTHER / TERMINATE_OTHER: stop what runs; this start waits for it.
            v_cancel := v_cancel OR v_policy = 4;
            v_terminate := v_terminate OR v_policy = 5;
            v_keep := v_keep || jsonb_build_array(v_item);
        ELSE
            v_chosen := v_item;  -- nothing runs yet: the newer start replaces the chosen one
        END IF;
    END LOOP;
    s.buffered := v_keep;
    IF v_cancel OR v_terminate THEN
        v_together := '[]'::jsonb;  -- they would be stopped right away
        PERFORM {{schema}}.schedule_stop_running(s, v_terminate);
    END IF;
    FOR v_item IN SELECT * FROM jsonb_array_elements(v_together) LOOP
        s := {{schema}}.schedule_start(s, v_item, false);
    END LOOP;
    IF v_chosen IS NOT NULL THEN
        s := {{schema}}.schedule_start(s, v_chosen, true);
    END IF;
    IF v_terminate THEN
        -- Terminated runs are closed already: the start that waited for them begins now.
        s := {{schema}}.schedule_process_buffer({{schema}}.schedule_refresh_running(s));
    END IF;
    RETURN s;
END $$;

-- Cancel (request) or terminate every run the schedule started that still runs.
CREATE FUNCTION {{schema}}.schedule_stop_running(s {{schema}}.schedules, p_terminate boolean)
RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    v_run jsonb;
BEGIN
    FOR v_run IN SELECT * FROM jsonb_array_elements(s.running) LOOP
        IF p_terminate THEN
            PERFORM {{schema}}.terminate_workflow(
                s.namespace, v_run->>'workflow_id', NULL,
                'terminated by schedule overlap policy', NULL);
        ELSE
            PERFORM {{schema}}.request_cancel_workflow(
                s.namespace, v_run->>'workflow_id', NULL,
                'cancelled by schedule overlap policy', 'schedule ' || s.schedule_id);
        END IF;
    END LOOP;
END $$;

-- One step of a schedule: take in the closes of its runs, admit the given starts
-- (p_starts: [{start, nominal, actual, overlap, manual}]), count p_missed times that
-- were too old for the catch-up window, run the buffer, and move the cursor. p_expect_cursor guards against two workers handling the same times:
-- when it does not match the row, nothing happens and 'stale' is returned. Manual
-- starts (trigger, backfill) pass NULL cursors and leave the cursor alone.
CREATE FUNCTION {{schema}}.schedule_tick(
    p_namespace text, p_schedule_id text, p_expect_cursor timestamptz,
    p_new_cursor timestamptz, p_next_fire timestamptz, p_starts jsonb, p_missed int)
RETURNS text
LANGUAGE plpgsql AS $$
DECLARE
    s {{schema}}.schedules;
    v_now timestamptz := {{schema}}.now();
    v_item jsonb;
    v_manual boolean;
BEGIN
    SELECT * INTO s FROM {{schema}}.schedules
     WHERE namespace = p_namespace AND schedule_id = p_schedule_id FOR UPDATE;
    IF NOT FOUND THEN
        RETURN 'not_found';
    END IF;
    IF p_expect_cursor IS NOT NULL AND s.cursor_at <> p_expect_cursor THEN
        RETURN 'stale';
    END IF;
    DELETE FROM {{schema}}.schedule_wakeups
     WHERE namespace = p_namespace AND schedule_id = p_schedule_id;
    s := {{schema}}.schedule_refresh_running(s);
    IF NOT s.paused THEN
        s.missed_catchup := s.missed_catchup + p_missed;
    END IF;
    FOR v_item IN SELECT * FROM jsonb_array_elements(coalesce(p_starts, '[]'::jsonb)) LOOP
        v_manual := coalesce((v_item->>'manual')::boolean, false);
        IF NOT v_manual THEN
            IF s.paused THEN
                CONTINUE;
            ELSIF v_now - (v_item->>'actual')::timestamptz > s.catchup_window * interval '1 second' THEN
                s.missed_catchup := s.missed_catchup + 1;
                CONTINUE;
            ELSIF s.limited_actions THEN
                IF s.remaining_actions <= 0 THEN
                    CONTINUE;
                END IF;
                s.remaining_actions := s.remaining_actions - 1;
            END IF;
        END IF;
        s.buffered := s.buffered || jsonb_build_array(v_item);
    END LOOP;
    s := {{schema}}.schedule_process_buffer(s);
    IF p_new_cursor IS NOT NULL THEN
        s.cursor_at := p_new_cursor;
        s.next_fire_at := p_next_fire;
    END IF;
    IF s.limited_actions AND s.remaining_actions <= 0 THEN
        s.next_fire_at := NULL;  -- nothing left to do until an update gives it actions
    END IF;
    UPDATE {{schema}}.schedules
       SET paused = s.paused, note = s.note, remaining_actions = s.remaining_actions,
           cursor_at = s.cursor_at, next_fire_at = s.next_fire_at, buffered = s.buffered,
           running = s.running, recent_actions = s.recent_actions,
           num_actions = s.num_actions, missed_catchup = s.missed_catchup,
           skipped_overlap = s.skipped_overlap,
           last_completion_result = s.last_completion_result, last_failure = s.last_failure
     WHERE namespace = p_namespace AND schedule_id = p_schedule_id;
    RETURN 'ok';
END $$;

-- ------------------------------------------------------------ client operations

-- Returns false when the id is taken.
CREATE FUNCTION {{schema}}.create_schedule(p jsonb) RETURNS boolean
LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO {{schema}}.schedules (
        namespace, schedule_id, spec, action, overlap, catchup_window, pause_on_failure,
        paused, note, limited_actions, remaining_actions, memo, search_attributes,
        cursor_at, next_fire_at, created_at)
    VALUES (
        p->>'namespace', p->>'schedule_id', p->'spec', p->'action',
        (p->>'overlap')::smallint, (p->>'catchup_window')::float8,
        (p->>'pause_on_failure')::boolean, (p->>'paused')::boolean, p->>'note',
        (p->>'limited_actions')::boolean, (p->>'remaining_actions')::bigint,
        p->'memo', p->'search_attributes',
        (p->>'cursor_at')::timestamptz, (p->>'next_fire_at')::timestamptz, {{schema}}.now());
    PERFORM {{schema}}.notify_deadline((p->>'next_fire_at')::timestamptz);
    RETURN true;
EXCEPTION WHEN unique_violation THEN
    RETURN false;
END $$;

-- Replace what the user may change, if nobody changed it since p_token was read.
-- Returns 'ok', 'not_found' or 'conflict'.
CREATE FUNCTION {{schema}}.update_schedule(p jsonb, p_token bigint) RETURNS text
LANGUAGE plpgsql AS $$
DECLARE
    v_token bigint;
BEGIN
    SELECT conflict_token INTO v_token FROM {{schema}}.schedules
     WHERE namespace = p->>'namespace' AND schedule_id = p->>'schedule_id' FOR UPDATE;
    IF NOT FOUND THEN
        RETURN 'not_found';
    ELSIF v_token <> p_token THEN
        RETURN 'conflict';
    END IF;
    UPDATE {{schema}}.schedules
       SET spec = p->'spec', action = p->'action', overlap = (p->>'overlap')::smallint,
           catchup_window = (p->>'catchup_window')::float8,
           pause_on_failure = (p->>'pause_on_failure')::boolean,
           paused = (p->>'paused')::boolean, note = p->>'note',
           limited_actions = (p->>'limited_actions')::boolean,
           remaining_actions = (p->>'remaining_actions')::bigint,
           search_attributes = CASE WHEN p ? 'search_attributes' THEN p->'search_attributes'
                                    ELSE search_attributes END,
           cursor_at = (p->>'cursor_at')::timestamptz,
           next_fire_at = (p->>'next_fire_at')::timestamptz,
           updated_at = {{schema}}.now(), conflict_token = conflict_token + 1
     WHERE namespace = p->>'namespace' AND schedule_id = p->>'schedule_id';
    PERFORM {{schema}}.notify_deadline((p->>'next_fire_at')::timestamptz);
    RETURN 'ok';
END $$;

CREATE FUNCTION {{schema}}.set_schedule_paused(
    p_namespace text, p_schedule_id text, p_paused boolean, p_note text) RETURNS boolean
LANGUAGE sql AS $$
    UPDATE {{schema}}.schedules
       SET paused = p_paused, note = p_note, updated_at = {{schema}}.now(),
           conflict_token = conflict_token + 1
     WHERE namespace = p_namespace AND schedule_id = p_schedule_id
    RETURNING true
$$;

-- The schedule row goes first: a tick holds it while it touches schedule_runs, so
-- taking the locks in the same order cannot deadlock with one.
CREATE FUNCTION {{schema}}.delete_schedule(p_namespace text, p_schedule_id text) RETURNS boolean
LANGUAGE plpgsql AS $$
BEGIN
    DELETE FROM {{schema}}.schedules WHERE namespace = p_namespace AND schedule_id = p_schedule_id;
    IF NOT FOUND THEN
        RETURN false;
    END IF;
    DELETE FROM {{schema}}.schedule_runs WHERE namespace = p_namespace AND schedule_id = p_schedule_id;
    DELETE FROM {{schema}}.schedule_wakeups WHERE namespace = p_namespace AND schedule_id = p_schedule_id;
    RETURN true;
END $$;

-- A schedule with its running workflows, as describe() shows it.
CREATE FUNCTION {{schema}}.describe_schedule(p_namespace text, p_schedule_id text)
RETURNS TABLE (schedule jsonb, running jsonb, now timestamptz)
LANGUAGE sql STABLE AS $$
    SELECT to_jsonb(s) - 'running', coalesce((
               SELECT jsonb_agg(jsonb_build_object('workflow_id', e.workflow_id,
                                                   'run_id', e.first_execution_run_id))
                 FROM jsonb_array_elements(s.running) r
                 JOIN {{schema}}.executions e
                   ON e.namespace = s.namespace AND e.workflow_id = r->>'workflow_id' AND e.status = 1),
               '[]'::jsonb),
           {{schema}}.now()
      FROM {{schema}}.schedules s
     WHERE s.namespace = p_namespace AND s.schedule_id = p_schedule_id
$$;
