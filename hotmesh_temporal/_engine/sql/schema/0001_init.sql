-- hotmesh_temporal schema, version 1.
--
-- Every state transition of the engine is one call to one of the functions below, so a
-- transition costs one round trip and is atomic. Python builds the attributes of the
-- events that workflow code commands (it knows the workflow); these functions own
-- everything that depends on the database's current state: event ids, buffering of
-- events that arrive while a workflow task is in flight, retries, timeouts and wake-ups.
--
-- Lock order: every transition that touches a run locks its executions row before the
-- run's task, timer or activity rows; the sweeper and the claims lock both at once with
-- SKIP LOCKED, so they never wait while holding a row. This is what keeps terminate, a
-- completing workflow task and the sweeper from deadlocking.
--
-- Cost: a transition writes the run's row once (append_events moves the event counters,
-- wft_state and, for a completed task, the sticky fields in one UPDATE) and inserts its
-- events with one INSERT ... SELECT (insert_events). Postgres CPU per transition is what
-- bounds latency and throughput (bench/README.md), so keep new work off this path.
--
-- Feature hooks: complete_workflow_task, close_run and sweep call one function per
-- feature, defined by that feature's schema file (the files are installed together and
-- PL/pgSQL resolves these calls when they run, so this file may name them):
--   apply_child_commands / on_close_children    child workflows and external handles (0002)
--   apply_update_commands / on_close_updates    workflow updates (0003)
--   apply_visibility_commands                   memo and search-attribute upserts (0004)
--   sweep_schedules / next_schedule_fire        schedules (0007)
--   sweep_standalone_activities                 activities started by a client (0009)
-- complete_workflow_task calls a hook only when the completion carries its commands.
--
-- `{{schema}}` is replaced by the (quoted) schema name when the file is rendered.

-- The schema itself is created by the migration runner (migrate.py), only when missing,
-- so a role that owns it needs no CREATE privilege on the database.

-- ------------------------------------------------------------------ clock and wake-ups

-- All durable time is read through now(): the time-skipping test environment moves it
-- forward by raising offset_us.
CREATE TABLE {{schema}}.clock (
    singleton boolean PRIMARY KEY DEFAULT true CHECK (singleton),
    offset_us bigint NOT NULL DEFAULT 0
);
INSERT INTO {{schema}}.clock DEFAULT VALUES;

--
-- Functions on the hot path that read a table are PL/pgSQL, not LANGUAGE sql: Postgres
-- plans a LANGUAGE sql function's query afresh in every statement that calls it (its
-- plan lives only as long as the calling query), while PL/pgSQL keeps its plans for
-- the session. A workflow task calls now() a dozen times; event_time() on the
-- partitioned history cost ~0.3 ms a call when planned each time (bench/README.md).
CREATE FUNCTION {{schema}}.now() RETURNS timestamptz
LANGUAGE plpgsql STABLE AS $$
BEGIN
    RETURN (SELECT now() + offset_us * interval '1 microsecond' FROM {{schema}}.clock);
END $$;

-- Wake-ups are hints, never news: a message names no queue, namespace, run or outcome,
-- so a role that may LISTEN (Postgres lets any role LISTEN on any channel) learns
-- nothing it could read, and one that NOTIFYs can at most cause a needless read.
-- The channel and every message are derived from a random secret that only roles
-- allowed into this schema can read:
--   channel: 'hm_' || first 32 hex digits of sha256(secret || 'channel')
--   message: '<kind>|' || first 24 hex digits of sha256(secret || '<kind>|<subject>')
-- kind and subject are:
--   w|<namespace>|<task queue>   a workflow task is ready
--   a|<namespace>|<task queue>   an activity task is ready
--   q|<namespace>|<task queue>   a query waits for a worker
--   c|<run id>                   a run closed
--   u|<update row id>            an update changed state
--   r|<query id>                 a query was answered
--   s|<standalone activity id>   a standalone activity closed
-- except t|<epoch seconds> (a deadline the sweepers should wake for; t|clock when the
-- time-skipping clock moved), which names nothing and is sent as is. A listener
-- computes the hints it waits for (Store.hint) and reads the rows it is woken for.
CREATE TABLE {{schema}}.hint_key (
    singleton boolean PRIMARY KEY DEFAULT true CHECK (singleton),
    secret text NOT NULL DEFAULT replace(gen_random_uuid()::text || gen_random_uuid()::text, '-', ''),
    channel text
);
INSERT INTO {{schema}}.hint_key DEFAULT VALUES;
UPDATE {{schema}}.hint_key
   SET channel = 'hm_' || left(encode(sha256(convert_to(secret || 'channel', 'UTF8')), 'hex'), 32);
REVOKE ALL ON {{schema}}.hint_key FROM PUBLIC;

-- Temporal's limits, per deployment, with the server's dynamic-config defaults
-- (docs/operations.md, Security: change them with UPDATE; clients and workers read them
-- when they connect). Sizes in bytes.
CREATE TABLE {{schema}}.limits (
    singleton boolean PRIMARY KEY DEFAULT true CHECK (singleton),
    blob_size_warn bigint NOT NULL DEFAULT 512 * 1024,               -- limit.blobSize.warn
    blob_size_error bigint NOT NULL DEFAULT 2 * 1024 * 1024,         -- limit.blobSize.error
    history_count_warn bigint NOT NULL DEFAULT 10240,                -- limit.historyCount.warn
    history_count_error bigint NOT NULL DEFAULT 51200,               -- limit.historyCount.error
    history_count_suggest_can bigint NOT NULL DEFAULT 4096,  -- ...historyCount.suggestContinueAsNew
    history_size_warn bigint NOT NULL DEFAULT 10 * 1024 * 1024,      -- limit.historySize.warn
    history_size_error bigint NOT NULL DEFAULT 50 * 1024 * 1024,     -- limit.historySize.error
    history_size_suggest_can bigint NOT NULL DEFAULT 4 * 1024 * 1024, -- ...historySize.suggestContinueAsNew
    max_id_length int NOT NULL DEFAULT 1000,                         -- limit.maxIDLength
    memo_size_warn bigint NOT NULL DEFAULT 2 * 1024,                 -- limit.memoSize.warn
    memo_size_error bigint NOT NULL DEFAULT 2 * 1024 * 1024          -- limit.memoSize.error
);
INSERT INTO {{schema}}.limits DEFAULT VALUES;

-- A statement that begins with defer_wakeups() collects its messages instead, for the
-- caller to send after the commit (wakeups.py says why): they are read with
-- current_setting('hotmesh.wakeups', true), one per line, already hashed.
CREATE FUNCTION {{schema}}.notify(p_message text) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    k {{schema}}.hint_key;
    v_hint text := p_message;
BEGIN
    SELECT * INTO k FROM {{schema}}.hint_key;
    IF left(p_message, 2) <> 't|' THEN
        v_hint := left(p_message, 2)
            || left(encode(sha256(convert_to(k.secret || p_message, 'UTF8')), 'hex'), 24);
    END IF;
    IF current_setting('hotmesh.defer_wakeups', true) = 'on' THEN
        PERFORM set_config('hotmesh.wakeups',
            coalesce(current_setting('hotmesh.wakeups', true), '') || v_hint || chr(10), true);
    ELSE
        PERFORM pg_notify(k.channel, v_hint);
    END IF;
END $$;

CREATE FUNCTION {{schema}}.defer_wakeups() RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM set_config('hotmesh.defer_wakeups', 'on', true);
    PERFORM set_config('hotmesh.wakeups', '', true);
END $$;

-- Tell sweepers about a new deadline, but only when it is nearer than their regular
-- pass (they sleep at most 5 s): every NOTIFY serialises commits, so deadlines that
-- a regular pass will catch in time are not announced.
CREATE FUNCTION {{schema}}.notify_deadline(p_at timestamptz) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    IF p_at IS NOT NULL AND p_at < {{schema}}.now() + interval '5 seconds' THEN
        PERFORM {{schema}}.notify('t|' || extract(epoch FROM p_at));
    END IF;
END $$;

-- ------------------------------------------------------------------------------ tables

CREATE TABLE {{schema}}.executions (
    run_id uuid PRIMARY KEY,
    namespace text NOT NULL,
    workflow_id text NOT NULL,
    first_execution_run_id uuid NOT NULL,
    workflow_type text NOT NULL,
    task_queue text NOT NULL,
    -- Temporal's WorkflowExecutionStatus: 1 running, 2 completed, 3 failed, 4 canceled,
    -- 5 terminated, 6 continued as new, 7 timed out.
    status smallint NOT NULL DEFAULT 1,
    start_time timestamptz NOT NULL,
    execution_time timestamptz NOT NULL,
    close_time timestamptz,
    task_timeout double precision NOT NULL DEFAULT 10,
    run_deadline timestamptz,
    execution_deadline timestamptz,
    deadline timestamptz,              -- least(run, execution) while running
    parent jsonb,
    memo jsonb,
    search_attributes jsonb,
    -- Temporal's sdk.v1.UserMetadata JSON ({summary, details}: payloads, encoded by the
    -- client's data converter): the static summary and details given at start.
    user_metadata jsonb,
    result jsonb,
    failure jsonb,
    next_event_id bigint NOT NULL DEFAULT 1,
    -- 0: no workflow task, 1: scheduled, 2: started (in flight)
    wft_state smallint NOT NULL DEFAULT 0,
    sticky_worker text,
    sticky_timeout double precision NOT NULL DEFAULT 10,
    sticky_event_id bigint NOT NULL DEFAULT 0,
    cancel_requested boolean NOT NULL DEFAULT false,
    new_run_id uuid,
    history_size bigint NOT NULL DEFAULT 0
) WITH (fillfactor = 80);

-- Temporal's guarantee: at most one running run per workflow id.
CREATE UNIQUE INDEX executions_one_running
    ON {{schema}}.executions (namespace, workflow_id) WHERE status = 1;
CREATE INDEX executions_by_workflow_id
    ON {{schema}}.executions (namespace, workflow_id, start_time DESC);
CREATE INDEX executions_deadline
    ON {{schema}}.executions (deadline) WHERE deadline IS NOT NULL;
CREATE INDEX executions_start_time ON {{schema}}.executions (namespace, start_time DESC);

-- A worker that shuts down hands its sticky runs back to everyone (forget_worker).
CREATE INDEX executions_sticky ON {{schema}}.executions (sticky_worker) WHERE status = 1;

CREATE TABLE {{schema}}.history_events (
    run_id uuid NOT NULL,
    event_id bigint NOT NULL,
    event_type text NOT NULL,          -- Temporal's name without prefix, e.g. TimerFired
    event_time timestamptz NOT NULL,
    attributes jsonb NOT NULL,         -- the *EventAttributes object in Temporal JSON
    -- The summary / details the workflow gave the command that wrote this event
    -- (sdk.v1.UserMetadata JSON: activities, local-activity markers, timers, children);
    -- Temporal keeps it beside the attributes, on the event itself.
    user_metadata jsonb,
    run_started timestamptz NOT NULL,  -- the partition key: executions.start_time
    -- run_started follows from run_id, so (run_id, event_id) stays unique
    PRIMARY KEY (run_id, event_id, run_started)
) PARTITION BY RANGE (run_started);

-- history_events is partitioned by day of run start, so that retention drops whole
-- partitions (0011_history_partitions.sql makes and drops the days' partitions). Rows
-- whose day has no partition yet (a clock moved ahead by a time-skipping test, a fleet
-- that was down over midnight) land here; partition maintenance moves them out.
CREATE TABLE {{schema}}.history_events_default PARTITION OF {{schema}}.history_events DEFAULT;

-- Events that arrive while a workflow task is in flight wait here, and are appended
-- to history right after the task completes (Temporal's buffered events).
CREATE TABLE {{schema}}.inbox (
    seq bigserial PRIMARY KEY,
    run_id uuid NOT NULL,
    events jsonb NOT NULL,
    -- When they arrived: the time their events keep in history (a timer's TimerFired
    -- is stamped when it fired, not when the task in flight let it in).
    arrived_at timestamptz NOT NULL DEFAULT {{schema}}.now()
);
CREATE INDEX inbox_run ON {{schema}}.inbox (run_id, seq);

CREATE TABLE {{schema}}.workflow_tasks (
    run_id uuid PRIMARY KEY,
    namespace text NOT NULL,
    task_queue text NOT NULL,
    scheduled_event_id bigint,
    visible_at timestamptz NOT NULL,
    attempt int NOT NULL DEFAULT 1,
    leased_by text,
    lease_id bigint,
    started_at timestamptz,
    deadline timestamptz,              -- lease expiry, or visibility of a delayed task
    sticky_worker text,
    sticky_until timestamptz
) WITH (fillfactor = 70);
CREATE INDEX workflow_tasks_ready
    ON {{schema}}.workflow_tasks (namespace, task_queue, visible_at) WHERE leased_by IS NULL;
CREATE INDEX workflow_tasks_deadline
    ON {{schema}}.workflow_tasks (deadline) WHERE deadline IS NOT NULL;

CREATE TABLE {{schema}}.activity_tasks (
    id bigserial PRIMARY KEY,
    run_id uuid NOT NULL,
    namespace text NOT NULL,
    workflow_id text NOT NULL,
    workflow_type text NOT NULL,
    scheduled_event_id bigint NOT NULL,
    activity_id text NOT NULL,
    activity_type text NOT NULL,
    task_queue text NOT NULL,
    input jsonb,
    header jsonb,
    scheduled_time timestamptz NOT NULL,
    attempt int NOT NULL DEFAULT 1,
    attempt_scheduled_time timestamptz NOT NULL,
    visible_at timestamptz NOT NULL,
    schedule_to_close double precision,   -- seconds; NULL means none
    schedule_to_start double precision,
    start_to_close double precision,
    heartbeat_timeout double precision,
    retry_policy jsonb,
    leased_by text,
    started_time timestamptz,
    heartbeat_details jsonb,
    last_heartbeat timestamptz,
    last_failure jsonb,
    cancel_requested boolean NOT NULL DEFAULT false,
    cancel_requested_event_id bigint,
    deadline timestamptz,                 -- when the sweeper must look at this row next
    UNIQUE (run_id, scheduled_event_id)
) WITH (fillfactor = 70);
CREATE INDEX activity_tasks_ready
    ON {{schema}}.activity_tasks (namespace, task_queue, visible_at) WHERE leased_by IS NULL;
CREATE INDEX activity_tasks_deadline
    ON {{schema}}.activity_tasks (deadline) WHERE deadline IS NOT NULL;

CREATE TABLE {{schema}}.timers (
    run_id uuid NOT NULL,
    started_event_id bigint NOT NULL,
    timer_id text NOT NULL,
    fire_at timestamptz NOT NULL,
    PRIMARY KEY (run_id, started_event_id)
);
CREATE INDEX timers_due ON {{schema}}.timers (fire_at);

-- ------------------------------------------------------------------ history appends

-- Insert events at ids p_first, p_first + 1, ... in one statement. An attribute
-- startedEventId of "$prev" stands for the id of the event just before (every
-- ActivityTask{Completed,Failed,TimedOut,Canceled} follows its Started event). An
-- event's user_metadata (a command's summary) goes to its own column. This is the one
-- place events are written: each row carries its run's start time (the partition key).
--
-- A run's event times never go backwards: an event is never stamped earlier than an
-- event before it, in this batch or in history. A WorkflowTaskStarted keeps the time
-- it brings: it is what workflow.now() read when the task ran, and reads again on
-- replay (lease_workflow_task keeps it after the run's last event). An event that
-- waited in the inbox keeps the time it arrived (inbox.arrived_at, stamped by
-- flush_inbox).
--
-- p_started is the run's start time when the caller has its row at hand (one read of
-- executions less; the previous event is then read from its partition directly).
CREATE FUNCTION {{schema}}.insert_events(
    p_run uuid, p_first bigint, p_events jsonb, p_started timestamptz DEFAULT NULL) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    v_started timestamptz := coalesce(
        p_started, (SELECT start_time FROM {{schema}}.executions WHERE run_id = p_run));
    v_floor timestamptz;
BEGIN
    IF p_first > 1 THEN  -- a new run's first events have nothing before them
        SELECT h.event_time INTO v_floor FROM {{schema}}.history_events h
         WHERE h.run_id = p_run AND h.event_id = p_first - 1 AND h.run_started = v_started;
    END IF;
    INSERT INTO {{schema}}.history_events
        (run_id, event_id, event_type, event_time, attributes, user_metadata, run_started)
    SELECT p_run, p_first + x.ord - 1, x.ev->>'type',
           CASE WHEN x.ev->>'type' = 'WorkflowTaskStarted' AND x.ev ? 'time'
                THEN (x.ev->>'time')::timestamptz
                ELSE greatest(max(coalesce((x.ev->>'time')::timestamptz, {{schema}}.now()))
                                  OVER (ORDER BY x.ord),
                              v_floor) END,
           CASE WHEN x.ev->'attrs'->>'startedEventId' = '$prev'
                THEN jsonb_set(x.ev->'attrs', '{startedEventId}', to_jsonb((p_first + x.ord - 2)::text))
                ELSE x.ev->'attrs' END,
           x.ev->'user_metadata',
           v_started
      FROM jsonb_array_elements(p_events) WITH ORDINALITY AS x(ev, ord);
END $$;

-- Append events at the run's next ids and return the last id. p_wft_state, when
-- given, is written in the same UPDATE (scheduling a task right after an append).

-- The time of one event of a run (NULL if it has none), naming the run's history
-- partition. Called from lease_workflow_task (a task's time is never before the run's
-- last event), complete_activity_run_ahead (a prediction older than the run's last
-- event is refused), apply_completion (the worker learns its last event's time) and
-- insert_events.
CREATE FUNCTION {{schema}}.event_time(p_run uuid, p_event_id bigint) RETURNS timestamptz
LANGUAGE plpgsql STABLE AS $$  -- PL/pgSQL for its cached plan (see now())
BEGIN
    RETURN (SELECT h.event_time FROM {{schema}}.history_events h
             WHERE h.run_id = p_run AND h.event_id = p_event_id
               AND h.run_started = (SELECT start_time FROM {{schema}}.executions WHERE run_id = p_run));
END $$;

-- p_events, each without a time of its own given p_time.
CREATE FUNCTION {{schema}}.stamped(p_events jsonb, p_time timestamptz) RETURNS jsonb
LANGUAGE plpgsql IMMUTABLE AS $$  -- PL/pgSQL for its cached plan (see now())
BEGIN
    RETURN (SELECT coalesce(jsonb_agg(CASE WHEN ev ? 'time' THEN ev
                                           ELSE ev || jsonb_build_object('time', p_time) END
                                      ORDER BY ord), '[]'::jsonb)
              FROM jsonb_array_elements(p_events) WITH ORDINALITY AS x(ev, ord));
END $$;

-- Append events at the run's next ids. An attribute value of "$prev" stands for the
-- id of the event appended just before (ActivityTaskCompleted -> its Started event).
CREATE FUNCTION {{schema}}.append_events(p_run uuid, p_events jsonb, p_wft_state smallint DEFAULT NULL)
RETURNS bigint
LANGUAGE plpgsql AS $$
DECLARE
    v_count int := jsonb_array_length(p_events);
    v_next bigint;
    v_started timestamptz;
BEGIN
    UPDATE {{schema}}.executions
       SET next_event_id = next_event_id + v_count,
           history_size = history_size + length(p_events::text),
           wft_state = coalesce(p_wft_state, wft_state)
     WHERE run_id = p_run
    RETURNING next_event_id, start_time INTO v_next, v_started;
    PERFORM {{schema}}.insert_events(p_run, v_next - v_count, p_events, v_started);
    RETURN v_next - 1;
END $$;

-- The WorkflowTaskScheduled event of a run's next task.
CREATE FUNCTION {{schema}}.workflow_task_scheduled(p_task_queue text, p_task_timeout double precision)
RETURNS jsonb
LANGUAGE sql IMMUTABLE AS $$
    SELECT jsonb_build_object(
        'type', 'WorkflowTaskScheduled',
        'attrs', jsonb_build_object(
            'taskQueue', jsonb_build_object('name', p_task_queue, 'kind', 'TASK_QUEUE_KIND_NORMAL'),
            'startToCloseTimeout', p_task_timeout || 's',
            'attempt', 1))
$$;

-- The workflow_tasks row of a task just scheduled (its event is already appended).
CREATE FUNCTION {{schema}}.insert_workflow_task(e {{schema}}.executions, p_scheduled_event_id bigint)
RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    v_now timestamptz := {{schema}}.now();
BEGIN
    INSERT INTO {{schema}}.workflow_tasks
        (run_id, namespace, task_queue, scheduled_event_id, visible_at, sticky_worker, sticky_until)
    VALUES (e.run_id, e.namespace, e.task_queue, p_scheduled_event_id, v_now, e.sticky_worker,
            v_now + e.sticky_timeout * interval '1 second');
END $$;

-- Append events (maybe none) and, when the run has no workflow task, schedule one:
-- one write of the run's row either way. The caller holds the run's row lock.
CREATE FUNCTION {{schema}}.append_and_schedule(e {{schema}}.executions, p_events jsonb, p_notify boolean)
RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    v_last bigint;
BEGIN
    IF e.wft_state <> 0 THEN
        IF jsonb_array_length(p_events) > 0 THEN
            PERFORM {{schema}}.append_events(e.run_id, p_events);
        END IF;
        RETURN;
    END IF;
    v_last := {{schema}}.append_events(
        e.run_id, p_events || {{schema}}.workflow_task_scheduled(e.task_queue, e.task_timeout), 1::smallint);
    PERFORM {{schema}}.insert_workflow_task(e, v_last);
    IF p_notify THEN
        PERFORM {{schema}}.notify('w|' || e.namespace || '|' || e.task_queue);
    END IF;
END $$;

-- ------------------------------------------------------------------- new runs

-- Insert a run with its first events and its first workflow task. With p_or_null, a
-- run already holding the workflow id makes it return NULL instead of raising
-- unique_violation (start_workflow's race with another start, without the cost of a
-- subtransaction).

-- Schedule a workflow task unless one is already scheduled or in flight.
CREATE FUNCTION {{schema}}.ensure_workflow_task(p_run uuid, p_notify boolean DEFAULT true)
RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    e {{schema}}.executions;
BEGIN
    SELECT * INTO e FROM {{schema}}.executions WHERE run_id = p_run;
    IF e.status = 1 AND e.wft_state = 0 THEN
        PERFORM {{schema}}.append_and_schedule(e, '[]'::jsonb, p_notify);
    END IF;
END $$;

-- Deliver events that happened outside workflow code (an activity finished, a timer
-- fired, a signal arrived...). While a workflow task is in flight they wait in the
-- inbox; otherwise they are appended and a workflow task is scheduled.
CREATE FUNCTION {{schema}}.deliver(p_run uuid, p_events jsonb, p_notify boolean DEFAULT true)
RETURNS boolean
LANGUAGE plpgsql AS $$
BEGIN
    RETURN {{schema}}.deliver_checked(p_run, p_events, p_notify) = 'ok';
END $$;

-- deliver(), saying why not: 'ok', 'not_running', or 'invalid_argument:<message>' when
-- the run's history already exceeds a hard limit. Then, as the Temporal server does
-- for any event from outside the workflow (a signal, a cancel request, an activity's
-- or a timer's outcome), the run is terminated instead, and a client's request is
-- refused with the reason (checked 2026-12-06 on a dev server: the signal that finds
-- 41 events over a limit of 40 gets INVALID_ARGUMENT; at exactly 40 it is appended).
CREATE FUNCTION {{schema}}.deliver_checked(p_run uuid, p_events jsonb, p_notify boolean DEFAULT true)
RETURNS text
LANGUAGE plpgsql AS $$
DECLARE
    e {{schema}}.executions;
    v_reason text;
BEGIN
    SELECT * INTO e FROM {{schema}}.executions WHERE run_id = p_run FOR UPDATE;
    IF NOT FOUND OR e.status <> 1 THEN
        RETURN 'not_running';
    END IF;
    v_reason := {{schema}}.history_limit_exceeded(e, false);
    IF v_reason IS NOT NULL THEN
        PERFORM {{schema}}.terminate_for_history(e, v_reason);
        RETURN 'invalid_argument:' || v_reason;
    END IF;
    IF e.wft_state = 2 THEN
        INSERT INTO {{schema}}.inbox (run_id, events) VALUES (p_run, p_events);
    ELSE
        PERFORM {{schema}}.append_and_schedule(e, p_events, p_notify);
    END IF;
    RETURN 'ok';
END $$;

-- Move buffered events into history, in arrival order. Returns how many inbox entries
-- were flushed.
CREATE FUNCTION {{schema}}.flush_inbox(p_run uuid) RETURNS int
LANGUAGE plpgsql AS $$
DECLARE
    v_events jsonb;
    n int;
BEGIN
    WITH gone AS (
        DELETE FROM {{schema}}.inbox WHERE run_id = p_run RETURNING seq, events, arrived_at
    )
    SELECT jsonb_agg(CASE WHEN ev ? 'time' THEN ev
                          ELSE ev || jsonb_build_object('time', gone.arrived_at) END
                     ORDER BY seq, ord),
           count(DISTINCT seq)
      INTO v_events, n
      FROM gone, jsonb_array_elements(gone.events) WITH ORDINALITY AS x(ev, ord);
    IF n > 0 THEN
        PERFORM {{schema}}.append_events(p_run, v_events);
    END IF;
    RETURN coalesce(n, 0);
END $$;

-- Events of a run after a given id, as a JSON array of {id, type, time, attrs}. This is
-- the hot read (a worker catching up on a run): naming the run's partition keeps it to
-- one index lookup however many days of partitions there are.
CREATE FUNCTION {{schema}}.events_after(p_run uuid, p_after bigint) RETURNS jsonb
LANGUAGE plpgsql STABLE AS $$  -- PL/pgSQL for its cached plan (see now())
BEGIN
    RETURN (SELECT coalesce(jsonb_agg(jsonb_build_object(
                       'id', event_id, 'type', event_type, 'time', event_time, 'attrs', attributes)
                       ORDER BY event_id), '[]'::jsonb)
              FROM {{schema}}.history_events
             WHERE run_id = p_run AND event_id > p_after
               AND run_started = (SELECT start_time FROM {{schema}}.executions WHERE run_id = p_run));
END $$;

-- ------------------------------------------------------------------- workflow tasks

-- Lease a workflow task to a worker: returns what it needs to run it, including the
-- history it has not seen (all of it, unless it completed the previous task of the run)
-- and the run's admitted updates ('updates': [update.v1.Request JSON], oldest first).
CREATE FUNCTION {{schema}}.lease_workflow_task(p_run uuid, p_worker text) RETURNS jsonb
LANGUAGE plpgsql AS $$
DECLARE
    e {{schema}}.executions;
    v_lease bigint := (random() * 9e15)::bigint;
    v_now timestamptz := {{schema}}.now();
    v_after bigint := 0;
    v_attempt int;
    v_updates jsonb;
    v_task_time timestamptz;
BEGIN
    -- Lock the run first: events delivered concurrently then either land before this
    -- lease (and next_event_id includes them) or see wft_state = 2 and wait in the inbox.
    UPDATE {{schema}}.executions SET wft_state = 2 WHERE run_id = p_run RETURNING * INTO e;
    -- The task's time (its WorkflowTaskStarted, workflow.now()): never before the run's
    -- last event, which a transaction that started earlier may have stamped later.
    v_task_time := greatest(v_now, {{schema}}.event_time(p_run, e.next_event_id - 1));
    UPDATE {{schema}}.workflow_tasks
       SET leased_by = p_worker, lease_id = v_lease, started_at = v_now,
           deadline = v_now + e.task_timeout * interval '1 second'
     WHERE run_id = p_run
    RETURNING attempt INTO v_attempt;
    IF e.sticky_worker = p_worker THEN
        v_after := e.sticky_event_id;
    END IF;
    IF e.task_timeout < 5 THEN  -- notify_deadline's own test, without the call
        PERFORM {{schema}}.notify_deadline(v_now + e.task_timeout * interval '1 second');
    END IF;
    -- A separate statement: inside the RETURN expression this subquery made the whole
    -- expression re-planned on every call.
    SELECT jsonb_agg(u.request ORDER BY u.seq) INTO v_updates
      FROM {{schema}}.updates u WHERE u.run_id = p_run AND u.state = 0;
    RETURN jsonb_build_object(
        'run_id', p_run, 'lease_id', v_lease, 'workflow_id', e.workflow_id,
        'namespace', e.namespace, 'task_queue', e.task_queue,
        'workflow_type', e.workflow_type, 'start_time', e.start_time,
        'next_event_id', e.next_event_id, 'started_at', v_task_time, 'attempt', v_attempt,
        'after', v_after, 'events', {{schema}}.events_after(p_run, v_after),
        'history_size', e.history_size,
        'updates', coalesce(v_updates, '[]'::jsonb));
END $$;

CREATE FUNCTION {{schema}}.claim_workflow_tasks(
    p_namespace text, p_queue text, p_worker text, p_limit int)
RETURNS SETOF jsonb
LANGUAGE plpgsql AS $$
DECLARE
    v_now timestamptz := {{schema}}.now();
    v_run uuid;
BEGIN
    FOR v_run IN
        SELECT t.run_id FROM {{schema}}.workflow_tasks t
          JOIN {{schema}}.executions e ON e.run_id = t.run_id
         WHERE t.namespace = p_namespace AND t.task_queue = p_queue
           AND t.leased_by IS NULL AND t.visible_at <= v_now
           AND (t.sticky_worker IS NULL OR t.sticky_worker = p_worker OR t.sticky_until <= v_now)
         ORDER BY t.visible_at
         LIMIT p_limit
         FOR UPDATE OF t, e SKIP LOCKED
    LOOP
        RETURN NEXT {{schema}}.lease_workflow_task(v_run, p_worker);
    END LOOP;
END $$;

-- Give up a leased workflow task (the worker failed it or could not run it): it is
-- retried after p_delay seconds, by any worker.
CREATE FUNCTION {{schema}}.release_workflow_task(
    p_run uuid, p_lease bigint, p_delay double precision)
RETURNS boolean
LANGUAGE plpgsql AS $$
DECLARE
    v_visible timestamptz := {{schema}}.now() + p_delay * interval '1 second';
BEGIN
    PERFORM 1 FROM {{schema}}.executions WHERE run_id = p_run FOR UPDATE;
    UPDATE {{schema}}.workflow_tasks
       SET leased_by = NULL, lease_id = NULL, started_at = NULL, attempt = attempt + 1,
           visible_at = v_visible, sticky_worker = NULL,
           deadline = CASE WHEN p_delay > 0 THEN v_visible END
     WHERE run_id = p_run AND lease_id = p_lease;
    IF NOT FOUND THEN
        RETURN false;
    END IF;
    UPDATE {{schema}}.executions SET wft_state = 1, sticky_worker = NULL WHERE run_id = p_run;
    -- Events that arrived meanwhile belong before the retried task starts.
    PERFORM {{schema}}.flush_inbox(p_run);
    IF p_delay > 0 THEN
        PERFORM {{schema}}.notify_deadline(v_visible);
    ELSE
        PERFORM {{schema}}.notify('w|' || e.namespace || '|' || e.task_queue)
           FROM {{schema}}.executions e WHERE e.run_id = p_run;
    END IF;
    RETURN true;
END $$;

-- A worker failed a workflow task (workflow code raised, or nondeterminism). As on
-- Temporal, the first failure of a streak is recorded: WorkflowTaskStarted, then
-- WorkflowTaskFailed with its cause and failure, then the retry's
-- WorkflowTaskScheduled; later failures of the streak leave no events and only raise
-- that Scheduled event's attempt. Then the task is released for a retry after p_delay.
CREATE FUNCTION {{schema}}.fail_workflow_task(
    p_run uuid, p_lease bigint, p_delay double precision, p_started_at timestamptz,
    p_identity text, p_cause text, p_failure jsonb)
RETURNS boolean
LANGUAGE plpgsql AS $$
DECLARE
    e {{schema}}.executions;
    t {{schema}}.workflow_tasks;
    v_last bigint;
BEGIN
    SELECT * INTO e FROM {{schema}}.executions WHERE run_id = p_run FOR UPDATE;
    SELECT * INTO t FROM {{schema}}.workflow_tasks WHERE run_id = p_run AND lease_id = p_lease;
    IF NOT FOUND OR e.status <> 1 THEN
        RETURN {{schema}}.release_workflow_task(p_run, p_lease, p_delay);
    END IF;
    IF t.attempt = 1 AND t.scheduled_event_id IS NOT NULL THEN
        v_last := {{schema}}.append_events(p_run, jsonb_build_array(
            jsonb_build_object('type', 'WorkflowTaskStarted', 'time', p_started_at,
                'attrs', jsonb_build_object(
                    'scheduledEventId', t.scheduled_event_id::text, 'identity', p_identity,
                    'requestId', gen_random_uuid()::text,
                    'historySizeBytes', e.history_size::text)),
            jsonb_build_object('type', 'WorkflowTaskFailed', 'attrs', jsonb_strip_nulls(
                jsonb_build_object(
                    'scheduledEventId', t.scheduled_event_id::text, 'startedEventId', '$prev',
                    'cause', p_cause, 'failure', p_failure, 'identity', p_identity))),
            {{schema}}.workflow_task_scheduled(e.task_queue, e.task_timeout)
                || jsonb_build_object('attrs',
                       {{schema}}.workflow_task_scheduled(e.task_queue, e.task_timeout)->'attrs'
                       || jsonb_build_object('attempt', 2))));
        UPDATE {{schema}}.workflow_tasks SET scheduled_event_id = v_last
         WHERE run_id = p_run AND lease_id = p_lease;
    ELSIF t.attempt > 1 AND t.scheduled_event_id IS NOT NULL THEN
        UPDATE {{schema}}.history_events
           SET attributes = jsonb_set(attributes, '{attempt}', to_jsonb(t.attempt + 1))
         WHERE run_id = p_run AND event_id = t.scheduled_event_id
           AND event_type = 'WorkflowTaskScheduled';
    END IF;
    RETURN {{schema}}.release_workflow_task(p_run, p_lease, p_delay);
END $$;

-- Insert the activity tasks a workflow task scheduled. Those marked eager are leased
-- right away to the worker that completed the workflow task (it runs them without a
-- claim round trip). Returns the eager ones.
CREATE FUNCTION {{schema}}.schedule_activities(e {{schema}}.executions, p_activities jsonb, p_worker text)
RETURNS jsonb
LANGUAGE plpgsql AS $$
DECLARE
    a jsonb;
    v_now timestamptz := {{schema}}.now();
    v_eager boolean;
    v_row {{schema}}.activity_tasks;
    v_out jsonb := '[]'::jsonb;
    v_queues text[] := '{}';
BEGIN
    FOR a IN SELECT * FROM jsonb_array_elements(p_activities) LOOP
        v_eager := coalesce((a->>'eager')::boolean, false);
        INSERT INTO {{schema}}.activity_tasks (
            run_id, namespace, workflow_id, workflow_type, scheduled_event_id, activity_id,
            activity_type, task_queue, input, header, scheduled_time, attempt_scheduled_time,
            visible_at, schedule_to_close, schedule_to_start, start_to_close, heartbeat_timeout,
            retry_policy, leased_by, started_time, deadline)
        VALUES (
            e.run_id, e.namespace, e.workflow_id, e.workflow_type,
            (a->>'scheduled_event_id')::bigint, a->>'activity_id', a->>'activity_type',
            a->>'task_queue', a->'input', a->'header', v_now, v_now, v_now,
            (a->>'schedule_to_close')::float8, (a->>'schedule_to_start')::float8,
            (a->>'start_to_close')::float8, (a->>'heartbeat_timeout')::float8,
            a->'retry_policy',
            CASE WHEN v_eager THEN p_worker END,
            CASE WHEN v_eager THEN v_now END,
            -- activity_deadline() of this row: every time in it is v_now, so a task
            -- handed over eagerly runs against start-to-close and heartbeat, a queued
            -- one against schedule-to-start (schedule-to-close for both).
            least(v_now + (a->>'schedule_to_close')::float8 * interval '1 second',
                  CASE WHEN NOT v_eager THEN v_now + (a->>'schedule_to_start')::float8 * interval '1 second' END,
                  CASE WHEN v_eager THEN v_now + (a->>'start_to_close')::float8 * interval '1 second' END,
                  CASE WHEN v_eager THEN v_now + (a->>'heartbeat_timeout')::float8 * interval '1 second' END))
        RETURNING * INTO v_row;
        IF v_eager THEN
            v_out := v_out || to_jsonb(v_row);
        ELSIF NOT v_row.task_queue = ANY (v_queues) THEN
            v_queues := v_queues || v_row.task_queue;
            PERFORM {{schema}}.notify('a|' || e.namespace || '|' || v_row.task_queue);
        END IF;
        IF v_row.deadline IS NOT NULL THEN
            PERFORM {{schema}}.notify_deadline(v_row.deadline);
        END IF;
    END LOOP;
    RETURN v_out;
END $$;

-- The next moment the sweeper has to look at an activity task.
CREATE FUNCTION {{schema}}.activity_deadline(t {{schema}}.activity_tasks) RETURNS timestamptz
LANGUAGE sql STABLE AS $$
    SELECT least(
        t.scheduled_time + t.schedule_to_close * interval '1 second',
        CASE WHEN t.leased_by IS NULL AND t.visible_at > {{schema}}.now() THEN t.visible_at END,
        CASE WHEN t.leased_by IS NULL
             THEN t.attempt_scheduled_time + t.schedule_to_start * interval '1 second' END,
        CASE WHEN t.leased_by IS NOT NULL
             THEN t.started_time + t.start_to_close * interval '1 second' END,
        CASE WHEN t.leased_by IS NOT NULL
             THEN coalesce(t.last_heartbeat, t.started_time) + t.heartbeat_timeout * interval '1 second' END)
$$;

-- Request cancellation of activities the workflow scheduled. One that no worker runs yet
-- is cancelled at once; a running one learns about it from its next heartbeat.
CREATE FUNCTION {{schema}}.request_cancel_activities(p_run uuid, p_requests jsonb) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    r jsonb;
    t {{schema}}.activity_tasks;
BEGIN
    FOR r IN SELECT * FROM jsonb_array_elements(p_requests) LOOP
        SELECT * INTO t FROM {{schema}}.activity_tasks
         WHERE run_id = p_run AND scheduled_event_id = (r->>'scheduled_event_id')::bigint
           FOR UPDATE;
        IF NOT FOUND THEN
            CONTINUE;
        END IF;
        IF t.leased_by IS NULL THEN
            DELETE FROM {{schema}}.activity_tasks WHERE id = t.id;
            INSERT INTO {{schema}}.inbox (run_id, events) VALUES (p_run, jsonb_build_array(
                jsonb_build_object('type', 'ActivityTaskCanceled', 'attrs', jsonb_build_object(
                    'scheduledEventId', t.scheduled_event_id::text,
                    'latestCancelRequestedEventId', r->>'requested_event_id',
                    'startedEventId', '0',
                    'identity', ''))));
        ELSE
            UPDATE {{schema}}.activity_tasks
               SET cancel_requested = true,
                   cancel_requested_event_id = (r->>'requested_event_id')::bigint
             WHERE id = t.id;
        END IF;
    END LOOP;
END $$;

-- Close a run: record its outcome, drop its pending work, wake whoever waits on it.
CREATE FUNCTION {{schema}}.close_run(p_run uuid, p_status smallint, p_result jsonb, p_failure jsonb, p_new_run uuid)
RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    v_parent jsonb;
BEGIN
    UPDATE {{schema}}.executions
       SET status = p_status, result = p_result, failure = p_failure,
           close_time = {{schema}}.now(), deadline = NULL, wft_state = 0, new_run_id = p_new_run
     WHERE run_id = p_run
    RETURNING parent INTO v_parent;
    DELETE FROM {{schema}}.workflow_tasks WHERE run_id = p_run;
    DELETE FROM {{schema}}.activity_tasks WHERE run_id = p_run;
    DELETE FROM {{schema}}.timers WHERE run_id = p_run;
    DELETE FROM {{schema}}.inbox WHERE run_id = p_run;
    -- Children: only a child reports its close, only a parent has policies to apply.
    IF v_parent IS NOT NULL OR EXISTS (
        SELECT 1 FROM {{schema}}.executions
         WHERE (parent->>'run_id') = p_run::text AND (parent->>'run_id') IS NOT NULL AND status = 1) THEN
        PERFORM {{schema}}.on_close_children(p_run, p_status, p_result, p_failure, p_new_run);
    END IF;
    PERFORM {{schema}}.on_close_updates(p_run, p_status);
    -- A hint only: the waiting client reads the outcome from the row (run_outcome).
    PERFORM {{schema}}.notify('c|' || p_run::text);
END $$;

-- Insert a new run with its first events and its first workflow task. p_start holds the
-- execution row's fields and the WorkflowExecutionStarted attributes.
CREATE FUNCTION {{schema}}.insert_run(p_start jsonb, p_or_null boolean DEFAULT false) RETURNS uuid
LANGUAGE plpgsql AS $$
DECLARE
    v_run uuid := (p_start->>'run_id')::uuid;
    v_now timestamptz := {{schema}}.now();
    v_delay double precision := coalesce((p_start->>'start_delay')::float8, 0);
    v_run_timeout double precision := (p_start->>'run_timeout')::float8;
    v_exec_timeout double precision := (p_start->>'execution_timeout')::float8;
    v_task_timeout double precision := coalesce((p_start->>'task_timeout')::float8, 10);
    v_exec_deadline timestamptz;
    v_run_deadline timestamptz;
    v_started jsonb := p_start->'started_attributes';
    v_events jsonb;
    e {{schema}}.executions;
BEGIN
    v_exec_deadline := coalesce(
        (p_start->>'execution_deadline')::timestamptz,
        v_now + (v_delay + v_exec_timeout) * interval '1 second');
    v_run_deadline := v_now + (v_delay + v_run_timeout) * interval '1 second';
    -- As on a Temporal server, WorkflowExecutionStarted records the execution deadline;
    -- retries, cron runs and continue-as-new pass it on, so the execution timeout bounds
    -- the whole chain (and the retry policy sees it).
    IF v_exec_deadline IS NOT NULL AND NOT v_started ? 'workflowExecutionExpirationTime' THEN
        v_started := v_started || jsonb_build_object('workflowExecutionExpirationTime',
            to_char(v_exec_deadline AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'));
    END IF;
    v_events := jsonb_build_array(jsonb_build_object(
        'type', 'WorkflowExecutionStarted', 'attrs', v_started));
    IF p_start ? 'signal' THEN
        v_events := v_events || jsonb_build_array(p_start->'signal');
    END IF;
    -- A delayed run's first task is scheduled by the sweeper when the delay is over.
    IF v_delay <= 0 THEN
        v_events := v_events || {{schema}}.workflow_task_scheduled(p_start->>'task_queue', v_task_timeout);
    END IF;
    INSERT INTO {{schema}}.executions (
        run_id, namespace, workflow_id, first_execution_run_id, workflow_type, task_queue,
        start_time, execution_time, task_timeout, run_deadline, execution_deadline, deadline,
        parent, memo, search_attributes, user_metadata, next_event_id, history_size, wft_state)
    VALUES (
        v_run, p_start->>'namespace', p_start->>'workflow_id',
        coalesce((p_start->>'first_execution_run_id')::uuid, v_run),
        p_start->>'workflow_type', p_start->>'task_queue',
        v_now, v_now + v_delay * interval '1 second', v_task_timeout,
        v_run_deadline, v_exec_deadline, least(v_run_deadline, v_exec_deadline),
        p_start->'parent', p_start->'memo', p_start->'search_attributes', p_start->'user_metadata',
        1 + jsonb_array_length(v_events), length(v_events::text), 1)
    ON CONFLICT (namespace, workflow_id) WHERE status = 1 DO NOTHING
    RETURNING * INTO e;
    IF NOT FOUND THEN
        IF p_or_null THEN
            RETURN NULL;
        END IF;
        RAISE unique_violation USING MESSAGE =
            format('workflow id %s already has a running run', p_start->>'workflow_id');
    END IF;
    PERFORM {{schema}}.insert_events(v_run, 1, v_events, e.start_time);
    IF v_delay > 0 THEN
        INSERT INTO {{schema}}.workflow_tasks (run_id, namespace, task_queue, visible_at, deadline)
        VALUES (v_run, e.namespace, e.task_queue,
                v_now + v_delay * interval '1 second', v_now + v_delay * interval '1 second');
        PERFORM {{schema}}.notify_deadline(v_now + v_delay * interval '1 second');
    ELSE
        PERFORM {{schema}}.insert_workflow_task(e, e.next_event_id - 1);
        -- A start handed to a worker in the starting process (start_workflow leases
        -- the task to it) wakes nobody.
        IF NOT p_start ? 'eager_worker' THEN
            PERFORM {{schema}}.notify('w|' || e.namespace || '|' || e.task_queue);
        END IF;
    END IF;
    IF e.deadline IS NOT NULL THEN
        PERFORM {{schema}}.notify_deadline(e.deadline);
    END IF;
    RETURN v_run;
END $$;

-- Complete a workflow task with what the workflow's commands produced (built by the
-- worker): the command events, then activities, timers, cancellations and the close.
-- Returns {status: ok|stale|rejected, activities: [eager tasks], next: leased task}.
CREATE FUNCTION {{schema}}.complete_workflow_task(
    p_run uuid, p_lease bigint, p_worker text, p_completion jsonb, p_eager_next boolean)
RETURNS jsonb
LANGUAGE plpgsql AS $$
DECLARE
    e {{schema}}.executions;
    v_next jsonb;
    v_error text;
BEGIN
    -- A task that only carried updates and only rejected them leaves no events (0003).
    IF p_completion ? 'updates' AND NOT p_completion ? 'close'
       AND jsonb_array_length(p_completion->'events') = 2 THEN
        v_next := {{schema}}.discard_speculative_task(p_run, p_lease, p_completion);
        IF v_next IS NOT NULL THEN
            RETURN v_next;
        END IF;
    END IF;
    -- The execution row first, then its task: every transition takes the locks in
    -- that order (terminate and cancel lock the execution, then delete its task), so
    -- they can never deadlock with a completion.
    SELECT * INTO e FROM {{schema}}.executions WHERE run_id = p_run FOR UPDATE;
    -- History moved on since the lease (the task is stale), or the run would close
    -- while new events wait (Temporal refuses that: the task is retried so workflow
    -- code sees them, and a signal is never lost to a completing workflow). Either way
    -- the task goes back to the queue; release_workflow_task checks the lease.
    IF e.next_event_id <> (p_completion->>'first_event_id')::bigint THEN
        PERFORM {{schema}}.release_workflow_task(p_run, p_lease, 0);
        RETURN jsonb_build_object('status', 'stale');
    END IF;
    -- Search attributes a registry refuses (0013): the task fails and is retried, as a
    -- Temporal server fails it with cause BAD_SEARCH_ATTRIBUTES; the run stays open.
    v_error := {{schema}}.completion_search_attribute_error(e.namespace, p_completion);
    IF v_error IS NOT NULL THEN
        PERFORM {{schema}}.release_workflow_task(p_run, p_lease, 1);
        RETURN jsonb_build_object('status', 'bad_search_attributes', 'message', v_error);
    END IF;
    -- A memo upserted past memo_size_error: the task fails and the run is terminated,
    -- as the Temporal server does (0004).
    -- (p_completion ? 'visibility' first: without it, NULL AND f() would call f.)
    IF p_completion ? 'visibility' AND p_completion->'visibility' ? 'memo'
       AND {{schema}}.refuse_oversized_memo(e, p_lease, p_completion) THEN
        RETURN jsonb_build_object('status', 'stale');
    END IF;
    IF p_completion ? 'close' AND EXISTS (SELECT 1 FROM {{schema}}.inbox WHERE run_id = p_run) THEN
        IF {{schema}}.release_workflow_task(p_run, p_lease, 0) THEN
            RETURN jsonb_build_object('status', 'rejected');
        END IF;
        RETURN jsonb_build_object('status', 'stale');
    END IF;
    DELETE FROM {{schema}}.workflow_tasks WHERE run_id = p_run AND lease_id = p_lease;
    IF NOT FOUND THEN
        RETURN jsonb_build_object('status', 'stale');
    END IF;
    RETURN {{schema}}.apply_completion(
        p_run, p_worker, p_completion, coalesce(p_completion->'events', '[]'::jsonb), p_eager_next);
END $$;

-- Terminate a run whose history reached the deployment's hard limits, as the Temporal
-- server does (same reasons, identity 'history-service'). History size is counted as
-- the events' JSON text, a close approximation of Temporal's encoded size.
-- e: the run's row with the counters already moved past p_events (apply_completion).
-- As the server refuses such a completion (checked 2026-12-06 on a dev server): none
-- of its events or commands are kept, history shows WorkflowTaskStarted and
-- WorkflowTaskFailed (cause FORCE_CLOSE_COMMAND, no failure), then the events that
-- waited for the task, then the termination. Updates the task accepted end with the
-- failure of an accepted update whose run closed (AcceptedUpdateCompletedWorkflow),
-- as there.
CREATE FUNCTION {{schema}}.refuse_task_for_history(
    e {{schema}}.executions, p_events jsonb, p_completion jsonb)
RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    v_reason text := {{schema}}.history_limit_exceeded(e, true);
    v_started jsonb := p_events->0;
BEGIN
    UPDATE {{schema}}.executions
       SET next_event_id = next_event_id - jsonb_array_length(p_events),
           history_size = history_size - length(p_events::text)
     WHERE run_id = e.run_id
    RETURNING * INTO e;
    IF v_started->>'type' = 'WorkflowTaskStarted' THEN
        PERFORM {{schema}}.append_events(e.run_id, jsonb_build_array(v_started,
            jsonb_build_object('type', 'WorkflowTaskFailed', 'attrs', jsonb_build_object(
                'scheduledEventId', v_started->'attrs'->'scheduledEventId',
                'startedEventId', '$prev',
                'cause', 'WORKFLOW_TASK_FAILED_CAUSE_FORCE_CLOSE_COMMAND',
                'identity', coalesce(v_started->'attrs'->>'identity', '')))));
    END IF;
    PERFORM {{schema}}.flush_inbox(e.run_id);
    UPDATE {{schema}}.updates SET state = 1
     WHERE run_id = e.run_id AND state = 0
       AND update_id IN (SELECT x->>'id' FROM jsonb_array_elements(p_completion->'updates') AS x
                          WHERE (x->>'state')::smallint IN (1, 2));
    SELECT * INTO e FROM {{schema}}.executions WHERE run_id = e.run_id;
    PERFORM {{schema}}.terminate_for_history(e, v_reason);
END $$;

-- The server's reason when a run's history is over a hard limit, else NULL. With a
-- workflow task's events (p_reached) reaching the limit is enough; before an event
-- from outside (deliver_checked) the history must already exceed it, as on Temporal.
CREATE FUNCTION {{schema}}.history_limit_exceeded(e {{schema}}.executions, p_reached boolean)
RETURNS text
LANGUAGE plpgsql STABLE AS $$
DECLARE
    l {{schema}}.limits;
    v_slack int := CASE WHEN p_reached THEN 0 ELSE 1 END;
BEGIN
    SELECT * INTO l FROM {{schema}}.limits;
    IF e.next_event_id - 1 >= l.history_count_error + v_slack THEN
        RETURN 'Workflow history count exceeds limit.';
    ELSIF e.history_size >= l.history_size_error + v_slack THEN
        RETURN 'Workflow history size exceeds limit.';
    END IF;
    RETURN NULL;
END $$;

-- Terminate a run for its history's size, as the server does (identity 'history-service').
CREATE FUNCTION {{schema}}.terminate_for_history(e {{schema}}.executions, p_reason text)
RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    DELETE FROM {{schema}}.workflow_tasks WHERE run_id = e.run_id;
    PERFORM {{schema}}.terminate_run(e, p_reason, NULL, 'history-service');
END $$;

-- What a kept completion does once its task is checked and gone: append p_events (the
-- task's events, after any that precede them in the same transaction) and apply the
-- completion's commands. The caller holds the run's row lock.
CREATE FUNCTION {{schema}}.apply_completion(
    p_run uuid, p_worker text, p_completion jsonb, p_events jsonb, p_eager_next boolean)
RETURNS jsonb
LANGUAGE plpgsql AS $$
DECLARE
    e {{schema}}.executions;
    v_close jsonb := p_completion->'close';
    v_count int := jsonb_array_length(p_events);
    v_timer jsonb;
    v_eager jsonb := '[]'::jsonb;
    v_last bigint;
    v_now timestamptz := {{schema}}.now();
    v_next jsonb;
    v_new_run uuid;
BEGIN
    -- The events, the task's end and the sticky fields: one write of the run's row.
    UPDATE {{schema}}.executions
       SET next_event_id = next_event_id + v_count,
           history_size = history_size + length(p_events::text),
           wft_state = 0, sticky_worker = p_worker, sticky_event_id = next_event_id + v_count - 1,
           sticky_timeout = coalesce((p_completion->>'sticky_timeout')::float8, sticky_timeout)
     WHERE run_id = p_run
    RETURNING * INTO e;
    -- Temporal's hard history limits (table limits): a task that would take the
    -- history to them is not kept; the run is terminated instead.
    IF v_close IS NULL AND {{schema}}.history_limit_exceeded(e, true) IS NOT NULL THEN
        PERFORM {{schema}}.refuse_task_for_history(e, p_events, p_completion);
        RETURN jsonb_build_object('status', 'stale');
    END IF;
    PERFORM {{schema}}.insert_events(p_run, e.next_event_id - v_count, p_events, e.start_time);
    v_last := e.next_event_id - 1;

    -- Feature hooks, for completions that carry their commands. They run on the close
    -- path too, so that a signal sent or an update answered in a run's last task still
    -- takes effect.
    IF p_completion ? 'children' OR p_completion ? 'externals' THEN
        PERFORM {{schema}}.apply_child_commands(e, p_completion, p_worker);
    END IF;
    PERFORM {{schema}}.apply_update_commands(e, p_completion, p_worker);
    IF p_completion ? 'visibility' THEN
        PERFORM {{schema}}.apply_visibility_commands(e, p_completion, p_worker);
    END IF;

    IF v_close IS NOT NULL THEN
        v_new_run := (v_close->'continue_as_new'->>'run_id')::uuid;
        -- Close first: the new run takes over the workflow id's one running slot.
        PERFORM {{schema}}.close_run(p_run, (v_close->>'status')::smallint,
                                     v_close->'result', v_close->'failure', v_new_run);
        IF v_new_run IS NOT NULL THEN
            PERFORM {{schema}}.insert_run(v_close->'continue_as_new');
        END IF;
        RETURN jsonb_build_object('status', 'ok', 'last_event_id', v_last,
                                  'queries', {{schema}}.queries_waiting(p_run));
    END IF;

    IF jsonb_array_length(coalesce(p_completion->'activities', '[]')) > 0 THEN
        v_eager := {{schema}}.schedule_activities(e, p_completion->'activities', p_worker);
    END IF;
    IF p_completion ? 'timers' THEN
        FOR v_timer IN SELECT * FROM jsonb_array_elements(p_completion->'timers') LOOP
            INSERT INTO {{schema}}.timers (run_id, started_event_id, timer_id, fire_at)
            VALUES (p_run, (v_timer->>'started_event_id')::bigint, v_timer->>'timer_id',
                    v_now + (v_timer->>'seconds')::float8 * interval '1 second');
            PERFORM {{schema}}.notify_deadline(v_now + (v_timer->>'seconds')::float8 * interval '1 second');
        END LOOP;
    END IF;
    IF p_completion ? 'cancel_timers' THEN
        DELETE FROM {{schema}}.timers
         WHERE run_id = p_run
           AND started_event_id IN (SELECT (x::text)::bigint
                                      FROM jsonb_array_elements_text(p_completion->'cancel_timers') AS x);
    END IF;
    IF p_completion ? 'cancel_activities' THEN
        PERFORM {{schema}}.request_cancel_activities(p_run, p_completion->'cancel_activities');
    END IF;

    IF {{schema}}.flush_inbox(p_run) > 0 THEN
        PERFORM {{schema}}.ensure_workflow_task(p_run, NOT p_eager_next);
        IF p_eager_next THEN
            UPDATE {{schema}}.workflow_tasks SET sticky_worker = p_worker WHERE run_id = p_run;
            v_next := {{schema}}.lease_workflow_task(p_run, p_worker);
        END IF;
    END IF;
    RETURN jsonb_build_object('status', 'ok', 'last_event_id', v_last,
                              -- the floor of a task run ahead's time (workflow_worker.py)
                              'last_event_time', {{schema}}.event_time(p_run, v_last),
                              'history_size', e.history_size,
                              'activities', v_eager, 'next', v_next,
                              'queries', {{schema}}.queries_waiting(p_run));
END $$;

-- ------------------------------------------------------------------- activity tasks

CREATE FUNCTION {{schema}}.claim_activity_tasks(p_namespace text, p_queue text, p_worker text, p_limit int)
RETURNS SETOF {{schema}}.activity_tasks
LANGUAGE plpgsql AS $$
DECLARE
    v_now timestamptz := {{schema}}.now();
    t {{schema}}.activity_tasks;
    -- A queue with a rate (0014) grants only the tokens its bucket holds.
    v_limit int := {{schema}}.take_task_queue_tokens(p_namespace, p_queue, p_limit);
    v_claimed int := 0;
BEGIN
    FOR t IN
        SELECT * FROM {{schema}}.activity_tasks
         WHERE namespace = p_namespace AND task_queue = p_queue
           AND leased_by IS NULL AND visible_at <= v_now
         ORDER BY visible_at
         LIMIT v_limit
         FOR UPDATE SKIP LOCKED
    LOOP
        v_claimed := v_claimed + 1;
        t.leased_by := p_worker;
        t.started_time := v_now;
        t.last_heartbeat := NULL;
        t.deadline := {{schema}}.activity_deadline(t);
        UPDATE {{schema}}.activity_tasks
           SET leased_by = t.leased_by, started_time = t.started_time,
               last_heartbeat = NULL, deadline = t.deadline
         WHERE id = t.id;
        PERFORM {{schema}}.notify_deadline(t.deadline);
        RETURN NEXT t;
    END LOOP;
    IF v_claimed < v_limit THEN
        PERFORM {{schema}}.return_task_queue_tokens(p_namespace, p_queue, v_limit - v_claimed);
    END IF;
END $$;

-- claim_activity_tasks over several queues in one round trip, for a worker that serves
-- them all (one claim loop, one wake-up): each queue in the given order (the caller
-- rotates it, so no queue is always last) gets what the others left of p_limit. A task
-- only ever goes to a worker that serves its own queue.
CREATE FUNCTION {{schema}}.claim_activity_tasks_of_queues(
    p_namespace text, p_queues text[], p_worker text, p_limit int)
RETURNS SETOF {{schema}}.activity_tasks
LANGUAGE plpgsql AS $$
DECLARE
    v_queue text;
    v_left int := p_limit;
    t {{schema}}.activity_tasks;
BEGIN
    FOREACH v_queue IN ARRAY p_queues LOOP
        EXIT WHEN v_left <= 0;
        FOR t IN SELECT * FROM {{schema}}.claim_activity_tasks(p_namespace, v_queue, p_worker, v_left)
        LOOP
            v_left := v_left - 1;
            RETURN NEXT t;
        END LOOP;
    END LOOP;
END $$;

-- The ActivityTaskStarted event Temporal writes when an activity reaches a final state.
CREATE FUNCTION {{schema}}.activity_started_event(t {{schema}}.activity_tasks, p_identity text)
RETURNS jsonb
LANGUAGE sql STABLE AS $$
    SELECT jsonb_build_object('type', 'ActivityTaskStarted', 'attrs', jsonb_strip_nulls(jsonb_build_object(
        'scheduledEventId', t.scheduled_event_id::text,
        'identity', p_identity,
        'requestId', md5(t.id::text || ':' || t.attempt::text),
        'attempt', t.attempt,
        'lastFailure', t.last_failure)))
$$;

-- ActivityTaskCompleted, right after the attempt's Started event ("$prev").
CREATE FUNCTION {{schema}}.activity_completed_event(
    t {{schema}}.activity_tasks, p_result jsonb, p_identity text)
RETURNS jsonb
LANGUAGE sql IMMUTABLE AS $$
    SELECT jsonb_build_object('type', 'ActivityTaskCompleted', 'attrs', jsonb_strip_nulls(jsonb_build_object(
        'result', p_result, 'scheduledEventId', t.scheduled_event_id::text,
        'startedEventId', '$prev', 'identity', p_identity)))
$$;

-- When the activity's run holds a workflow task ready for p_worker's sticky cache,
-- lease it to that worker now: it saves the worker a claim round trip.
CREATE FUNCTION {{schema}}.lease_sticky_task(p_run uuid, p_worker text) RETURNS jsonb
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM 1 FROM {{schema}}.workflow_tasks t
      JOIN {{schema}}.executions e USING (run_id)
     WHERE t.run_id = p_run AND t.leased_by IS NULL AND e.sticky_worker = p_worker
       AND t.visible_at <= {{schema}}.now()
       FOR UPDATE OF t SKIP LOCKED;
    IF NOT FOUND THEN
        RETURN NULL;
    END IF;
    RETURN {{schema}}.lease_workflow_task(p_run, p_worker);
END $$;

-- An activity attempt reached a final state (completed / failed / cancelled):
-- remove its task and deliver the Started event plus p_final to the run. A standalone
-- task (workflow_id '', 0009) closes its standalone_activities row instead.
CREATE FUNCTION {{schema}}.finish_activity(
    t {{schema}}.activity_tasks, p_identity text, p_final jsonb, p_worker text, p_lease_next boolean)
RETURNS jsonb
LANGUAGE plpgsql AS $$
BEGIN
    IF t.workflow_id = '' THEN
        PERFORM {{schema}}.finish_standalone_activity(t, p_identity, p_final);
        RETURN '{}'::jsonb;
    END IF;
    DELETE FROM {{schema}}.activity_tasks WHERE id = t.id;
    -- When this worker holds the run in its sticky cache it leases the new workflow
    -- task right here, so waking every worker of the queue would be wasted.
    PERFORM {{schema}}.deliver(t.run_id, jsonb_build_array(
        {{schema}}.activity_started_event(t, p_identity), p_final),
        NOT (p_lease_next AND EXISTS (SELECT 1 FROM {{schema}}.executions
                                       WHERE run_id = t.run_id AND sticky_worker = p_worker)));
    IF p_lease_next THEN
        RETURN jsonb_build_object('next', {{schema}}.lease_sticky_task(t.run_id, p_worker));
    END IF;
    RETURN '{}'::jsonb;
END $$;

-- The running attempt a worker reports on, locked; a row of NULLs when that attempt
-- is over (timed out and retried, cancelled with its run, or already reported).
CREATE FUNCTION {{schema}}.leased_attempt(p_task bigint, p_attempt int)
RETURNS {{schema}}.activity_tasks
LANGUAGE plpgsql AS $$
DECLARE
    t {{schema}}.activity_tasks;
BEGIN
    PERFORM 1 FROM {{schema}}.executions
     WHERE run_id = (SELECT run_id FROM {{schema}}.activity_tasks WHERE id = p_task)
       FOR UPDATE;
    SELECT * INTO t FROM {{schema}}.activity_tasks
     WHERE id = p_task AND attempt = p_attempt AND leased_by IS NOT NULL FOR UPDATE;
    RETURN t;
END $$;

CREATE FUNCTION {{schema}}.complete_activity_task(
    p_task bigint, p_attempt int, p_result jsonb, p_identity text, p_worker text, p_lease_next boolean)
RETURNS jsonb
LANGUAGE plpgsql AS $$
DECLARE
    t {{schema}}.activity_tasks;
BEGIN
    t := {{schema}}.leased_attempt(p_task, p_attempt);
    IF t.id IS NULL THEN
        RETURN jsonb_build_object('status', 'not_found');
    END IF;
    RETURN jsonb_build_object('status', 'ok') || {{schema}}.finish_activity(t, p_identity,
        {{schema}}.activity_completed_event(t, p_result, p_identity), p_worker, p_lease_next);
END $$;

-- Complete an activity and, in the same transaction, the workflow task it wakes, which
-- the worker already ran ahead on its sticky cache (workflow_worker.py, "run-ahead"):
-- one round trip instead of two, and no workflow_tasks row. The worker predicted the
-- history that task would see: its cached events up to p_after, then this attempt's
-- Started and Completed events and the task's WorkflowTaskScheduled. The completion is
-- kept only when that history is the run's (nothing else happened since p_after, no
-- update waits, the run is still sticky to this worker) and the worker's clock agrees
-- with the database's; otherwise this is complete_activity_task, and the worker runs
-- the task it leases the usual way.
CREATE FUNCTION {{schema}}.complete_activity_run_ahead(
    p_task bigint, p_attempt int, p_result jsonb, p_identity text, p_worker text,
    p_after bigint, p_completion jsonb)
RETURNS jsonb
LANGUAGE plpgsql AS $$
DECLARE
    t {{schema}}.activity_tasks := {{schema}}.leased_attempt(p_task, p_attempt);
    e {{schema}}.executions;
    v_started timestamptz := (p_completion->'events'->0->>'time')::timestamptz;
BEGIN
    SELECT * INTO e FROM {{schema}}.executions WHERE run_id = t.run_id;
    IF t.id IS NULL OR t.workflow_id = '' OR e.status <> 1 OR e.wft_state <> 0
       OR e.sticky_worker IS DISTINCT FROM p_worker OR e.sticky_event_id <> p_after
       OR e.next_event_id <> p_after + 1
       OR (p_completion->>'first_event_id')::bigint <> p_after + 4
       OR abs(extract(epoch FROM v_started - {{schema}}.now())) > 1
       OR {{schema}}.completion_search_attribute_error(e.namespace, p_completion) IS NOT NULL
       -- predicted before the run's last event: the task is run again, later
       OR v_started < {{schema}}.event_time(e.run_id, p_after)
       OR EXISTS (SELECT 1 FROM {{schema}}.updates u WHERE u.run_id = e.run_id AND u.state = 0) THEN
        RETURN {{schema}}.complete_activity_task(p_task, p_attempt, p_result, p_identity, p_worker, true);
    END IF;
    DELETE FROM {{schema}}.activity_tasks WHERE id = t.id;
    RETURN jsonb_build_object('status', 'ok', 'ran_ahead', {{schema}}.apply_completion(
        e.run_id, p_worker, p_completion,
        -- Stamped no later than the predicted WorkflowTaskStarted that follows them
        -- (its time is what the workflow read as now() when the task ran ahead).
        {{schema}}.stamped(jsonb_build_array(
            {{schema}}.activity_started_event(t, p_identity),
            {{schema}}.activity_completed_event(t, p_result, p_identity),
            {{schema}}.workflow_task_scheduled(e.task_queue, e.task_timeout)),
            least(v_started, {{schema}}.now()))
        || (p_completion->'events'),
        true));
END $$;

CREATE FUNCTION {{schema}}.cancel_activity_task(
    p_task bigint, p_attempt int, p_details jsonb, p_identity text, p_worker text, p_lease_next boolean)
RETURNS jsonb
LANGUAGE plpgsql AS $$
DECLARE
    t {{schema}}.activity_tasks;
BEGIN
    t := {{schema}}.leased_attempt(p_task, p_attempt);
    IF t.id IS NULL THEN
        RETURN jsonb_build_object('status', 'not_found');
    END IF;
    RETURN jsonb_build_object('status', 'ok') || {{schema}}.finish_activity(t, p_identity,
        jsonb_build_object('type', 'ActivityTaskCanceled', 'attrs', jsonb_strip_nulls(jsonb_build_object(
            'details', p_details, 'scheduledEventId', t.scheduled_event_id::text,
            'latestCancelRequestedEventId', t.cancel_requested_event_id::text,
            'startedEventId', '$prev', 'identity', p_identity))),
        p_worker, p_lease_next);
END $$;

-- Temporal's retry rules: returns the delay in seconds before the next attempt, or NULL
-- with the retry state that ends the activity.
CREATE FUNCTION {{schema}}.retry_delay(
    t {{schema}}.activity_tasks, p_error_type text, p_non_retryable boolean,
    p_next_retry_delay double precision, OUT delay double precision, OUT retry_state text)
LANGUAGE plpgsql STABLE AS $$
DECLARE
    p jsonb := coalesce(t.retry_policy, '{}'::jsonb);
    v_initial double precision := coalesce((p->>'initial_interval')::float8, 1);
    v_coefficient double precision := coalesce((p->>'backoff_coefficient')::float8, 2);
    v_maximum double precision := coalesce((p->>'maximum_interval')::float8, 100 * v_initial);
    v_attempts int := coalesce((p->>'maximum_attempts')::int, 0);
BEGIN
    IF p_non_retryable OR (p_error_type IS NOT NULL AND p ? 'non_retryable_error_types'
            AND p->'non_retryable_error_types' ? p_error_type) THEN
        retry_state := 'RETRY_STATE_NON_RETRYABLE_FAILURE';
        RETURN;
    END IF;
    IF v_attempts > 0 AND t.attempt >= v_attempts THEN
        retry_state := 'RETRY_STATE_MAXIMUM_ATTEMPTS_REACHED';
        RETURN;
    END IF;
    delay := coalesce(p_next_retry_delay,
                      least(v_initial * power(v_coefficient, t.attempt - 1), v_maximum));
    IF t.schedule_to_close IS NOT NULL AND {{schema}}.now() + delay * interval '1 second'
            >= t.scheduled_time + t.schedule_to_close * interval '1 second' THEN
        delay := NULL;
        retry_state := 'RETRY_STATE_TIMEOUT';
        RETURN;
    END IF;
    retry_state := 'RETRY_STATE_IN_PROGRESS';
END $$;

-- An attempt failed (p_failure) or timed out (p_timeout_type set): schedule the next
-- attempt after the backoff, or deliver the final Failed / TimedOut event. As a Temporal
-- server does, when no retry fits before the ScheduleToClose timeout a workflow's
-- activity ends as timed out (ActivityTaskTimedOut, a SCHEDULE_TO_CLOSE timeout "Not
-- enough time to schedule next retry ..." whose cause is the last attempt's failure),
-- not as failed.
CREATE FUNCTION {{schema}}.fail_attempt(
    t {{schema}}.activity_tasks, p_failure jsonb, p_error_type text, p_non_retryable boolean,
    p_next_retry_delay double precision, p_identity text, p_timeout_type text,
    p_worker text, p_lease_next boolean)
RETURNS jsonb
LANGUAGE plpgsql AS $$
DECLARE
    r record;
    v_now timestamptz := {{schema}}.now();
BEGIN
    SELECT * INTO r FROM {{schema}}.retry_delay(t, p_error_type, p_non_retryable, p_next_retry_delay);
    IF r.delay IS NOT NULL THEN
        t.attempt := t.attempt + 1;
        t.leased_by := NULL;
        t.started_time := NULL;
        t.visible_at := v_now + r.delay * interval '1 second';
        t.attempt_scheduled_time := t.visible_at;
        t.last_failure := p_failure;
        t.cancel_requested := false;
        t.deadline := {{schema}}.activity_deadline(t);
        UPDATE {{schema}}.activity_tasks
           SET attempt = t.attempt, leased_by = NULL, started_time = NULL,
               visible_at = t.visible_at, attempt_scheduled_time = t.attempt_scheduled_time,
               last_failure = t.last_failure, deadline = t.deadline, last_heartbeat = NULL
         WHERE id = t.id;
        IF r.delay > 0 THEN
            PERFORM {{schema}}.notify_deadline(t.visible_at);
        ELSE
            PERFORM {{schema}}.notify('a|' || t.namespace || '|' || t.task_queue);
        END IF;
        RETURN jsonb_build_object('status', 'retrying', 'delay', r.delay);
    END IF;
    IF p_timeout_type IS NULL AND r.retry_state = 'RETRY_STATE_TIMEOUT' AND t.workflow_id <> '' THEN
        -- No retry fits before the ScheduleToClose timeout: as on Temporal the activity
        -- times out (giving up retrying), with the attempt's failure as the cause. (A
        -- standalone activity, workflow_id '', keeps ending as failed.)
        RETURN jsonb_build_object('status', 'ok') || {{schema}}.finish_activity(t, p_identity,
            jsonb_build_object('type', 'ActivityTaskTimedOut', 'attrs', jsonb_build_object(
                'failure', {{schema}}.timeout_failure('TIMEOUT_TYPE_SCHEDULE_TO_CLOSE', NULL)
                           || jsonb_build_object(
                               'message', 'Not enough time to schedule next retry before '
                                          'activity ScheduleToClose timeout, giving up retrying',
                               'cause', p_failure),
                'scheduledEventId', t.scheduled_event_id::text,
                'startedEventId', '$prev', 'retryState', r.retry_state)),
            p_worker, p_lease_next);
    END IF;
    IF p_timeout_type IS NOT NULL THEN
        -- As a Temporal server does, the previous attempt's failure is the timeout's cause.
        RETURN jsonb_build_object('status', 'ok') || {{schema}}.finish_activity(t, p_identity,
            jsonb_build_object('type', 'ActivityTaskTimedOut', 'attrs', jsonb_build_object(
                'failure', p_failure || jsonb_strip_nulls(jsonb_build_object('cause', t.last_failure)),
                'scheduledEventId', t.scheduled_event_id::text,
                'startedEventId', '$prev', 'retryState', r.retry_state)),
            p_worker, p_lease_next);
    END IF;
    RETURN jsonb_build_object('status', 'ok') || {{schema}}.finish_activity(t, p_identity,
        jsonb_build_object('type', 'ActivityTaskFailed', 'attrs', jsonb_build_object(
            'failure', p_failure, 'scheduledEventId', t.scheduled_event_id::text,
            'startedEventId', '$prev', 'identity', p_identity, 'retryState', r.retry_state)),
        p_worker, p_lease_next);
END $$;

CREATE FUNCTION {{schema}}.fail_activity_task(
    p_task bigint, p_attempt int, p_failure jsonb, p_error_type text, p_non_retryable boolean,
    p_next_retry_delay double precision, p_identity text, p_worker text, p_lease_next boolean)
RETURNS jsonb
LANGUAGE plpgsql AS $$
DECLARE
    t {{schema}}.activity_tasks;
BEGIN
    t := {{schema}}.leased_attempt(p_task, p_attempt);
    IF t.id IS NULL THEN
        RETURN jsonb_build_object('status', 'not_found');
    END IF;
    RETURN {{schema}}.fail_attempt(t, p_failure, p_error_type, p_non_retryable,
                                   p_next_retry_delay, p_identity, NULL, p_worker, p_lease_next);
END $$;

-- Record a heartbeat. Returns 'cancel' when the workflow asked for cancellation,
-- 'gone' when the attempt no longer exists (timed out, or its run closed), else 'ok'.
CREATE FUNCTION {{schema}}.heartbeat_activity_task(p_task bigint, p_attempt int, p_details jsonb)
RETURNS text
LANGUAGE plpgsql AS $$
DECLARE
    t {{schema}}.activity_tasks;
BEGIN
    t := {{schema}}.leased_attempt(p_task, p_attempt);
    IF t.id IS NULL THEN
        RETURN 'gone';
    END IF;
    t.last_heartbeat := {{schema}}.now();
    t.heartbeat_details := coalesce(p_details, t.heartbeat_details);
    UPDATE {{schema}}.activity_tasks
       SET last_heartbeat = t.last_heartbeat, heartbeat_details = t.heartbeat_details,
           deadline = {{schema}}.activity_deadline(t)
     WHERE id = t.id;
    RETURN CASE WHEN t.cancel_requested THEN 'cancel' ELSE 'ok' END;
END $$;

-- ------------------------------------------------------------------------- sweeping

CREATE FUNCTION {{schema}}.timeout_failure(p_type text, p_details jsonb) RETURNS jsonb
LANGUAGE sql IMMUTABLE AS $$
    SELECT jsonb_build_object(
        'message', CASE p_type
            WHEN 'TIMEOUT_TYPE_START_TO_CLOSE' THEN 'activity StartToClose timeout'
            WHEN 'TIMEOUT_TYPE_SCHEDULE_TO_CLOSE' THEN 'activity ScheduleToClose timeout'
            WHEN 'TIMEOUT_TYPE_SCHEDULE_TO_START' THEN 'activity ScheduleToStart timeout'
            WHEN 'TIMEOUT_TYPE_HEARTBEAT' THEN 'activity Heartbeat timeout'
            ELSE 'activity timeout' END,
        'source', 'Server',
        'timeoutFailureInfo', jsonb_strip_nulls(jsonb_build_object(
            'timeoutType', p_type, 'lastHeartbeatDetails', p_details)))
$$;

-- An activity task whose deadline passed: a timeout, or the end of a retry backoff. A
-- ScheduleToStart timeout carries retry state TIMEOUT (not NON_RETRYABLE_FAILURE), as
-- on Temporal.
CREATE FUNCTION {{schema}}.sweep_activity(t {{schema}}.activity_tasks) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    v_now timestamptz := {{schema}}.now();
    v_type text;
    v_final jsonb;
BEGIN
    IF t.schedule_to_close IS NOT NULL
       AND t.scheduled_time + t.schedule_to_close * interval '1 second' <= v_now THEN
        v_final := jsonb_build_object('type', 'ActivityTaskTimedOut', 'attrs', jsonb_build_object(
            'failure', {{schema}}.timeout_failure('TIMEOUT_TYPE_SCHEDULE_TO_CLOSE', t.heartbeat_details)
                       || jsonb_strip_nulls(jsonb_build_object('cause', t.last_failure)),
            'scheduledEventId', t.scheduled_event_id::text,
            'startedEventId', '$prev', 'retryState', 'RETRY_STATE_TIMEOUT'));
        PERFORM {{schema}}.finish_activity(t, coalesce(t.leased_by, ''), v_final, NULL, false);
        RETURN;
    END IF;
    IF t.leased_by IS NULL THEN
        IF t.schedule_to_start IS NOT NULL
           AND t.attempt_scheduled_time + t.schedule_to_start * interval '1 second' <= v_now THEN
            DELETE FROM {{schema}}.activity_tasks WHERE id = t.id;
            PERFORM {{schema}}.deliver(t.run_id, jsonb_build_array(jsonb_build_object(
                'type', 'ActivityTaskTimedOut', 'attrs', jsonb_build_object(
                    'failure', {{schema}}.timeout_failure('TIMEOUT_TYPE_SCHEDULE_TO_START', NULL)
                               || jsonb_strip_nulls(jsonb_build_object('cause', t.last_failure)),
                    'scheduledEventId', t.scheduled_event_id::text,
                    'startedEventId', '0', 'retryState', 'RETRY_STATE_TIMEOUT'))));
            RETURN;
        END IF;
        -- The backoff is over: the task is claimable now.
        UPDATE {{schema}}.activity_tasks SET deadline = {{schema}}.activity_deadline(t) WHERE id = t.id;
        PERFORM {{schema}}.notify('a|' || t.namespace || '|' || t.task_queue);
        RETURN;
    END IF;
    IF t.start_to_close IS NOT NULL
       AND t.started_time + t.start_to_close * interval '1 second' <= v_now THEN
        v_type := 'TIMEOUT_TYPE_START_TO_CLOSE';
    ELSE
        v_type := 'TIMEOUT_TYPE_HEARTBEAT';
    END IF;
    -- A retry policy names a timeout as non-retryable as Temporal does: "TemporalTimeout:<type>".
    PERFORM {{schema}}.fail_attempt(t, {{schema}}.timeout_failure(v_type, t.heartbeat_details),
                                    'TemporalTimeout:' || v_type, false, NULL, t.leased_by, v_type,
                                    NULL, false);
END $$;

-- Workflow task timeouts in history (issue 20). A leased workflow task whose lease
-- expired (its worker crashed, or ran past the task timeout) is recorded as Temporal
-- records a workflow task's start-to-close timeout: WorkflowTaskStarted (when it was
-- leased, by whom), WorkflowTaskTimedOut (TIMEOUT_TYPE_START_TO_CLOSE), then the
-- retry's WorkflowTaskScheduled (attempt 2). As for failures (fail_workflow_task),
-- later timeouts of the streak leave no events and only raise that Scheduled event's
-- attempt. The task is then released to any worker, as before.
CREATE FUNCTION {{schema}}.time_out_workflow_task(t {{schema}}.workflow_tasks) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    e {{schema}}.executions;
    v_last bigint;
BEGIN
    SELECT * INTO e FROM {{schema}}.executions WHERE run_id = t.run_id FOR UPDATE;
    IF NOT FOUND OR e.status <> 1 OR t.scheduled_event_id IS NULL THEN
        RETURN;
    END IF;
    IF t.attempt = 1 THEN
        v_last := {{schema}}.append_events(t.run_id, jsonb_build_array(
            jsonb_build_object('type', 'WorkflowTaskStarted', 'time', t.started_at,
                'attrs', jsonb_build_object(
                    'scheduledEventId', t.scheduled_event_id::text, 'identity', t.leased_by,
                    'requestId', gen_random_uuid()::text,
                    'historySizeBytes', e.history_size::text)),
            jsonb_build_object('type', 'WorkflowTaskTimedOut', 'attrs', jsonb_build_object(
                'scheduledEventId', t.scheduled_event_id::text, 'startedEventId', '$prev',
                'timeoutType', 'TIMEOUT_TYPE_START_TO_CLOSE')),
            {{schema}}.workflow_task_scheduled(e.task_queue, e.task_timeout)
                || jsonb_build_object('attrs',
                       {{schema}}.workflow_task_scheduled(e.task_queue, e.task_timeout)->'attrs'
                       || jsonb_build_object('attempt', 2))));
        UPDATE {{schema}}.workflow_tasks SET scheduled_event_id = v_last
         WHERE run_id = t.run_id AND lease_id = t.lease_id;
    ELSE
        UPDATE {{schema}}.history_events
           SET attributes = jsonb_set(attributes, '{attempt}', to_jsonb(t.attempt + 1))
         WHERE run_id = t.run_id AND event_id = t.scheduled_event_id
           AND event_type = 'WorkflowTaskScheduled';
    END IF;
END $$;

-- A workflow task whose deadline passed: a lease that expired (the worker died or is
-- too slow: its timeout is recorded, and any worker may take it now), or a delayed
-- first task that is due.
CREATE FUNCTION {{schema}}.sweep_workflow_task(t {{schema}}.workflow_tasks) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    IF t.leased_by IS NOT NULL THEN
        PERFORM {{schema}}.time_out_workflow_task(t);
        PERFORM {{schema}}.release_workflow_task(t.run_id, t.lease_id, 0);
        RETURN;
    END IF;
    IF t.scheduled_event_id IS NULL THEN
        -- start_delay is over: write the first WorkflowTaskScheduled event.
        DELETE FROM {{schema}}.workflow_tasks WHERE run_id = t.run_id;
        UPDATE {{schema}}.executions SET wft_state = 0 WHERE run_id = t.run_id;
        PERFORM {{schema}}.ensure_workflow_task(t.run_id);
        RETURN;
    END IF;
    UPDATE {{schema}}.workflow_tasks SET deadline = NULL WHERE run_id = t.run_id;
    PERFORM {{schema}}.notify('w|' || t.namespace || '|' || t.task_queue);
END $$;

-- A run reached its run or execution timeout. As on Temporal, a run that reaches its
-- run timeout before the execution timeout is retried when its retry policy allows,
-- else continues its cron chain: such a run is handed to the workers (run_timeouts,
-- 0007; the backoff and the calendar are computed in Python). Any other run closes
-- here, with retry state RETRY_POLICY_NOT_SET (TIMEOUT when the execution timeout was
-- reached).
CREATE FUNCTION {{schema}}.timeout_run(e {{schema}}.executions) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    v_run_timeout boolean := e.run_deadline <= {{schema}}.now()
        AND (e.execution_deadline IS NULL OR e.run_deadline < e.execution_deadline);
BEGIN
    IF v_run_timeout AND EXISTS (
            SELECT 1 FROM {{schema}}.history_events
             WHERE run_id = e.run_id AND event_id = 1
               AND (attributes ? 'cronSchedule' OR attributes ? 'retryPolicy')) THEN
        UPDATE {{schema}}.executions SET deadline = NULL WHERE run_id = e.run_id;
        INSERT INTO {{schema}}.run_timeouts VALUES (e.run_id, {{schema}}.now())
        ON CONFLICT DO NOTHING;
        RETURN;
    END IF;
    DELETE FROM {{schema}}.inbox WHERE run_id = e.run_id;
    PERFORM {{schema}}.append_events(e.run_id, jsonb_build_array(jsonb_build_object(
        'type', 'WorkflowExecutionTimedOut',
        'attrs', jsonb_build_object('retryState', CASE WHEN v_run_timeout
            THEN 'RETRY_STATE_RETRY_POLICY_NOT_SET' ELSE 'RETRY_STATE_TIMEOUT' END))));
    PERFORM {{schema}}.close_run(e.run_id, 7::smallint, NULL, NULL, NULL);
END $$;

-- Fire whatever is due (timers, activity and workflow task deadlines, run timeouts), at
-- most p_limit of each kind, and return when the next known deadline is.
CREATE FUNCTION {{schema}}.sweep(p_limit int) RETURNS TABLE (fired int, next_deadline timestamptz)
LANGUAGE plpgsql AS $$
DECLARE
    v_now timestamptz := {{schema}}.now();
    v_timer {{schema}}.timers;
    v_activity {{schema}}.activity_tasks;
    v_wft {{schema}}.workflow_tasks;
    v_exec {{schema}}.executions;
    n int := 0;
BEGIN
    FOR v_timer IN
        DELETE FROM {{schema}}.timers WHERE (run_id, started_event_id) IN (
            SELECT t.run_id, t.started_event_id
              FROM {{schema}}.timers t JOIN {{schema}}.executions e ON e.run_id = t.run_id
             WHERE t.fire_at <= v_now ORDER BY t.fire_at LIMIT p_limit
               FOR UPDATE OF t, e SKIP LOCKED)
        RETURNING *
    LOOP
        PERFORM {{schema}}.deliver(v_timer.run_id, jsonb_build_array(jsonb_build_object(
            'type', 'TimerFired', 'attrs', jsonb_build_object(
                'timerId', v_timer.timer_id,
                'startedEventId', v_timer.started_event_id::text))));
        n := n + 1;
    END LOOP;
    FOR v_activity IN
        SELECT t.* FROM {{schema}}.activity_tasks t JOIN {{schema}}.executions e ON e.run_id = t.run_id
         WHERE t.deadline <= v_now ORDER BY t.deadline LIMIT p_limit
           FOR UPDATE OF t, e SKIP LOCKED
    LOOP
        PERFORM {{schema}}.sweep_activity(v_activity);
        n := n + 1;
    END LOOP;
    FOR v_wft IN
        SELECT t.* FROM {{schema}}.workflow_tasks t JOIN {{schema}}.executions e ON e.run_id = t.run_id
         WHERE t.deadline <= v_now ORDER BY t.deadline LIMIT p_limit
           FOR UPDATE OF t, e SKIP LOCKED
    LOOP
        PERFORM {{schema}}.sweep_workflow_task(v_wft);
        n := n + 1;
    END LOOP;
    FOR v_exec IN
        SELECT * FROM {{schema}}.executions WHERE deadline <= v_now AND status = 1
         ORDER BY deadline LIMIT p_limit FOR UPDATE SKIP LOCKED
    LOOP
        PERFORM {{schema}}.timeout_run(v_exec);
        n := n + 1;
    END LOOP;
    n := n + {{schema}}.sweep_schedules(v_now, p_limit);
    n := n + {{schema}}.sweep_standalone_activities(v_now, p_limit);
    fired := n;
    next_deadline := least(
        (SELECT min(fire_at) FROM {{schema}}.timers),
        (SELECT min(deadline) FROM {{schema}}.activity_tasks),
        (SELECT min(deadline) FROM {{schema}}.workflow_tasks),
        (SELECT min(deadline) FROM {{schema}}.executions WHERE status = 1),
        {{schema}}.next_schedule_fire());
    RETURN NEXT;
END $$;

-- --------------------------------------------------------------- client operations

-- Start a run, applying Temporal's id reuse and id conflict policies.
-- Returns {status: started|existing|already_started, run_id}. A run terminated by the
-- new start (WorkflowIDConflictPolicy.TERMINATE_EXISTING,
-- WorkflowIDReusePolicy.TERMINATE_IF_RUNNING) reads as on Temporal: the reason
-- 'TerminateIfRunning WorkflowIdReusePolicy' and the detail 'terminated by new runID:
-- <the new run id>'.
CREATE FUNCTION {{schema}}.start_workflow(p_start jsonb) RETURNS jsonb
LANGUAGE plpgsql AS $$
DECLARE
    v_ns text := p_start->>'namespace';
    v_wid text := p_start->>'workflow_id';
    v_reuse int := coalesce((p_start->>'id_reuse_policy')::int, 1);
    v_conflict int := coalesce((p_start->>'id_conflict_policy')::int, 0);
    v_running {{schema}}.executions;
    v_last_status smallint;
    v_run uuid;
    v_refused text := {{schema}}.search_attribute_error(v_ns, p_start->'search_attributes');
    v_delivered text;
BEGIN
    IF v_refused IS NOT NULL THEN  -- a search-attribute registry refuses them (0013)
        RETURN jsonb_build_object('status', 'invalid_argument', 'message', v_refused);
    END IF;
    SELECT * INTO v_running FROM {{schema}}.executions
     WHERE namespace = v_ns AND workflow_id = v_wid AND status = 1 FOR UPDATE;
    IF FOUND AND v_running.run_id = (p_start->>'run_id')::uuid THEN
        -- This very start, sent again after its connection was lost (the caller chose
        -- the run id): it did start.
        RETURN jsonb_build_object('status', 'started', 'run_id', v_running.run_id);
    ELSIF FOUND THEN
        -- WorkflowIDConflictPolicy: 2 USE_EXISTING, 3 TERMINATE_EXISTING;
        -- WorkflowIDReusePolicy 4 TERMINATE_IF_RUNNING terminates too.
        IF p_start ? 'signal' THEN
            -- Signal-with-start on a running workflow signals it and starts nothing
            -- (or, its history over a hard limit, ends it and says so, as Temporal).
            v_delivered := {{schema}}.deliver_checked(
                v_running.run_id, jsonb_build_array(p_start->'signal'));
            IF v_delivered LIKE 'invalid_argument:%' THEN
                RETURN jsonb_build_object('status', 'invalid_argument',
                                          'message', substr(v_delivered, 18));
            END IF;
            RETURN jsonb_build_object('status', 'existing', 'run_id', v_running.run_id);
        ELSIF v_conflict = 2 THEN
            RETURN jsonb_build_object('status', 'existing', 'run_id', v_running.run_id);
        ELSIF v_conflict = 3 OR (v_conflict = 0 AND v_reuse = 4) THEN
            -- Temporal's reason, and the new run's id as the detail.
            PERFORM {{schema}}.terminate_run(v_running, 'TerminateIfRunning WorkflowIdReusePolicy',
                jsonb_build_object('payloads', jsonb_build_array(jsonb_build_object(
                    'metadata', jsonb_build_object('encoding', 'anNvbi9wbGFpbg=='),  -- json/plain
                    'data', translate(encode(convert_to(
                        to_jsonb('terminated by new runID: ' || (p_start->>'run_id'))::text,
                        'UTF8'), 'base64'), E'\n', '')))));
        ELSE
            RETURN jsonb_build_object('status', 'already_started', 'run_id', v_running.run_id);
        END IF;
    ELSIF v_reuse IN (2, 3) THEN
        SELECT status INTO v_last_status FROM {{schema}}.executions
         WHERE namespace = v_ns AND workflow_id = v_wid ORDER BY start_time DESC LIMIT 1;
        IF FOUND AND (v_reuse = 3 OR v_last_status NOT IN (3, 4, 5, 7)) THEN
            RETURN jsonb_build_object('status', 'already_started', 'run_id',
                (SELECT run_id FROM {{schema}}.executions
                  WHERE namespace = v_ns AND workflow_id = v_wid ORDER BY start_time DESC LIMIT 1));
        END IF;
    END IF;
    v_run := {{schema}}.insert_run(p_start, true);
    IF v_run IS NULL THEN
        -- Another start of the same id won the race.
        RETURN jsonb_build_object('status', 'already_started', 'run_id',
            (SELECT run_id FROM {{schema}}.executions
              WHERE namespace = v_ns AND workflow_id = v_wid AND status = 1));
    END IF;
    IF p_start ? 'eager_worker' AND coalesce((p_start->>'start_delay')::float8, 0) <= 0 THEN
        -- The starting process runs a worker for this queue with room for the task:
        -- lease it the first task now, saving it a claim and everyone a wake-up.
        RETURN jsonb_build_object('status', 'started', 'run_id', v_run,
            'task', {{schema}}.lease_workflow_task(v_run, p_start->>'eager_worker'));
    END IF;
    RETURN jsonb_build_object('status', 'started', 'run_id', v_run);
END $$;

CREATE FUNCTION {{schema}}.terminate_run(
    e {{schema}}.executions, p_reason text, p_details jsonb, p_identity text DEFAULT '')
RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    DELETE FROM {{schema}}.inbox WHERE run_id = e.run_id;
    PERFORM {{schema}}.append_events(e.run_id, jsonb_build_array(jsonb_build_object(
        'type', 'WorkflowExecutionTerminated',
        'attrs', jsonb_strip_nulls(jsonb_build_object(
            'reason', p_reason, 'details', p_details, 'identity', p_identity)))));
    PERFORM {{schema}}.close_run(e.run_id, 5::smallint, NULL, NULL, NULL);
END $$;

-- The run a client addresses: a given run id, else the latest run of the workflow id.
-- A cron run and the run it starts (like a continue-as-new) are written in one
-- transaction, so both have the same start_time: ties go to the running one.
CREATE FUNCTION {{schema}}.find_run(p_namespace text, p_workflow_id text, p_run uuid)
RETURNS {{schema}}.executions
LANGUAGE sql STABLE AS $$
    SELECT * FROM {{schema}}.executions
     WHERE namespace = p_namespace AND workflow_id = p_workflow_id
       AND (p_run IS NULL OR run_id = p_run)
     ORDER BY start_time DESC, (status = 1) DESC LIMIT 1
$$;

CREATE FUNCTION {{schema}}.terminate_workflow(
    p_namespace text, p_workflow_id text, p_run uuid, p_reason text, p_details jsonb)
RETURNS text
LANGUAGE plpgsql AS $$
DECLARE
    e {{schema}}.executions;
BEGIN
    e := {{schema}}.find_run(p_namespace, p_workflow_id, p_run);
    IF e.run_id IS NULL THEN
        RETURN 'not_found';
    END IF;
    SELECT * INTO e FROM {{schema}}.executions WHERE run_id = e.run_id FOR UPDATE;
    IF e.status <> 1 THEN
        RETURN 'not_running';
    END IF;
    PERFORM {{schema}}.terminate_run(e, p_reason, p_details);
    RETURN 'ok';
END $$;

CREATE FUNCTION {{schema}}.request_cancel_workflow(
    p_namespace text, p_workflow_id text, p_run uuid, p_reason text, p_identity text)
RETURNS text
LANGUAGE plpgsql AS $$
DECLARE
    e {{schema}}.executions;
BEGIN
    e := {{schema}}.find_run(p_namespace, p_workflow_id, p_run);
    IF e.run_id IS NULL THEN
        RETURN 'not_found';
    END IF;
    IF e.status <> 1 THEN
        RETURN 'not_running';
    END IF;
    IF e.cancel_requested THEN
        RETURN 'ok';
    END IF;
    UPDATE {{schema}}.executions SET cancel_requested = true WHERE run_id = e.run_id;
    RETURN {{schema}}.deliver_checked(e.run_id, jsonb_build_array(jsonb_build_object(
        'type', 'WorkflowExecutionCancelRequested',
        'attrs', jsonb_build_object('cause', coalesce(p_reason, ''), 'identity', coalesce(p_identity, '')))));
END $$;

-- A worker is shutting down: its cached runs' next tasks go to any worker at once,
-- instead of waiting for the sticky timeout (Temporal drops the sticky queue too).
CREATE FUNCTION {{schema}}.forget_worker(p_worker text) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    v_queue record;
BEGIN
    UPDATE {{schema}}.executions SET sticky_worker = NULL
     WHERE sticky_worker = p_worker AND status = 1;
    FOR v_queue IN
        UPDATE {{schema}}.workflow_tasks SET sticky_worker = NULL
         WHERE sticky_worker = p_worker RETURNING namespace, task_queue
    LOOP
        PERFORM {{schema}}.notify('w|' || v_queue.namespace || '|' || v_queue.task_queue);
    END LOOP;
END $$;

-- ------------------------------------------------------------- signals and queries

CREATE FUNCTION {{schema}}.signal_workflow(
    p_namespace text, p_workflow_id text, p_run uuid, p_signal jsonb)
RETURNS text
LANGUAGE plpgsql AS $$
DECLARE
    e {{schema}}.executions;
BEGIN
    e := {{schema}}.find_run(p_namespace, p_workflow_id, p_run);
    IF e.run_id IS NULL THEN
        RETURN 'not_found';
    END IF;
    RETURN {{schema}}.deliver_checked(e.run_id, jsonb_build_array(p_signal));
END $$;

-- A query waits here until a worker of the run's task queue answers it. Queries never
-- touch history: the worker answers from its cached instance or by replaying.
CREATE UNLOGGED TABLE {{schema}}.queries (
    id uuid PRIMARY KEY,
    run_id uuid NOT NULL,
    namespace text NOT NULL,
    task_queue text NOT NULL,
    request jsonb NOT NULL,
    claimed_by text,
    answer jsonb,
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX queries_pending ON {{schema}}.queries (namespace, task_queue) WHERE claimed_by IS NULL;
CREATE INDEX queries_waiting_by_run ON {{schema}}.queries (run_id) WHERE claimed_by IS NULL;

-- Whether a query of p_run waits to be claimed. claim_queries holds a run's queries
-- back while the run has a task pending; the statement completing that task says so
-- ('queries' in apply_completion's reply), and only then does the worker claim again,
-- rather than after every task.
CREATE FUNCTION {{schema}}.queries_waiting(p_run uuid) RETURNS boolean
LANGUAGE plpgsql STABLE AS $$
BEGIN
    RETURN EXISTS (SELECT 1 FROM {{schema}}.queries WHERE run_id = p_run AND claimed_by IS NULL);
END $$;

CREATE FUNCTION {{schema}}.ask_query(
    p_id uuid, p_namespace text, p_workflow_id text, p_run uuid, p_request jsonb)
RETURNS jsonb
LANGUAGE plpgsql AS $$
DECLARE
    e {{schema}}.executions;
BEGIN
    e := {{schema}}.find_run(p_namespace, p_workflow_id, p_run);
    IF e.run_id IS NULL THEN
        RETURN jsonb_build_object('status', 'not_found');
    END IF;
    INSERT INTO {{schema}}.queries (id, run_id, namespace, task_queue, request)
    VALUES (p_id, e.run_id, e.namespace, e.task_queue, p_request);
    PERFORM {{schema}}.notify('q|' || e.namespace || '|' || e.task_queue);
    RETURN jsonb_build_object('status', 'ok', 'run_id', e.run_id, 'run_status', e.status);
END $$;

-- A query waits while its run has a workflow task ready or in flight, as on Temporal:
-- a query sent right after a signal is answered once the task delivering the signal
-- has completed, so it sees the signal's effect. A task that is failing (attempt > 1)
-- or not yet due (a delayed start, a cron backoff) does not hold queries back: they
-- are answered from the last completed task's state.
CREATE FUNCTION {{schema}}.claim_queries(p_namespace text, p_queue text, p_worker text, p_limit int)
RETURNS SETOF {{schema}}.queries
LANGUAGE plpgsql AS $$  -- PL/pgSQL for its cached plan (see now())
BEGIN
    RETURN QUERY
    UPDATE {{schema}}.queries q SET claimed_by = p_worker
     WHERE id IN (SELECT id FROM {{schema}}.queries x
                   WHERE namespace = p_namespace AND task_queue = p_queue AND claimed_by IS NULL
                     AND NOT EXISTS (
                         SELECT 1 FROM {{schema}}.workflow_tasks t
                          WHERE t.run_id = x.run_id AND t.attempt = 1
                            AND t.visible_at <= {{schema}}.now())
                   ORDER BY created_at LIMIT p_limit FOR UPDATE SKIP LOCKED)
    RETURNING q.*;
END $$;

CREATE FUNCTION {{schema}}.answer_query(p_id uuid, p_answer jsonb) RETURNS void
LANGUAGE sql AS $$
    UPDATE {{schema}}.queries SET answer = p_answer WHERE id = p_id;
    SELECT {{schema}}.notify('r|' || p_id::text);
$$;

CREATE FUNCTION {{schema}}.take_answer(p_id uuid) RETURNS jsonb
LANGUAGE sql AS $$
    DELETE FROM {{schema}}.queries WHERE id = p_id AND answer IS NOT NULL RETURNING answer
$$;
