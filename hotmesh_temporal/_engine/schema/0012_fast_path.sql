-- The hot path, redone for fewer statements per transition.
--
-- A one-activity workflow ran about 145 statements inside these functions: every event
-- was its own INSERT (after a jsonb_each scan for "$prev"), every append re-read and
-- re-wrote the run's row, scheduling a workflow task wrote the row twice more, and each
-- write recomputed the generated search_values column. Postgres CPU per workflow is
-- what limits both latency and throughput (bench/README.md), so here:
--   * events of one append go in with one INSERT ... SELECT (insert_events);
--   * the run's row is written once per transition: the append's counters, wft_state
--     and the sticky fields move together (append_events' p_wft_state, and
--     complete_workflow_task's own UPDATE);
--   * a new run is inserted with its first events and its first workflow task already
--     counted (no UPDATE at all), and without a subtransaction (ON CONFLICT instead of
--     catching unique_violation);
--   * search_values is an ordinary column kept by a trigger that fires only when
--     search attributes are written;
--   * feature hooks are called only when the completion carries their commands.
-- Behaviour is unchanged; the functions keep their names and results.

-- --------------------------------------------------------------- search_values

ALTER TABLE {{schema}}.executions ALTER COLUMN search_values DROP EXPRESSION;
ALTER TABLE {{schema}}.executions ALTER COLUMN search_values SET DEFAULT '{}'::jsonb;

CREATE FUNCTION {{schema}}.set_search_values() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    NEW.search_values := {{schema}}.search_attribute_values(NEW.search_attributes);
    RETURN NEW;
END $$;

CREATE TRIGGER executions_search_values_on_insert
    BEFORE INSERT ON {{schema}}.executions
    FOR EACH ROW WHEN (NEW.search_attributes IS NOT NULL)
    EXECUTE FUNCTION {{schema}}.set_search_values();
CREATE TRIGGER executions_search_values_on_update
    BEFORE UPDATE OF search_attributes ON {{schema}}.executions
    FOR EACH ROW EXECUTE FUNCTION {{schema}}.set_search_values();

-- ------------------------------------------------------------------ history appends

-- Insert events at ids p_first, p_first + 1, ... in one statement. An attribute
-- startedEventId of "$prev" stands for the id of the event just before (every
-- ActivityTask{Completed,Failed,TimedOut,Canceled} follows its Started event).
CREATE FUNCTION {{schema}}.insert_events(p_run uuid, p_first bigint, p_events jsonb) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO {{schema}}.history_events (run_id, event_id, event_type, event_time, attributes)
    SELECT p_run, p_first + x.ord - 1, x.ev->>'type',
           -- An event may bring its own time: WorkflowTaskStarted is written at
           -- completion but carries the lease time, which workflow.now() is on replay.
           coalesce((x.ev->>'time')::timestamptz, {{schema}}.now()),
           CASE WHEN x.ev->'attrs'->>'startedEventId' = '$prev'
                THEN jsonb_set(x.ev->'attrs', '{startedEventId}', to_jsonb((p_first + x.ord - 2)::text))
                ELSE x.ev->'attrs' END
      FROM jsonb_array_elements(p_events) WITH ORDINALITY AS x(ev, ord);
END $$;

-- Append events at the run's next ids and return the last id. p_wft_state, when
-- given, is written in the same UPDATE (scheduling a task right after an append).
DROP FUNCTION {{schema}}.append_events(uuid, jsonb);
CREATE FUNCTION {{schema}}.append_events(p_run uuid, p_events jsonb, p_wft_state smallint DEFAULT NULL)
RETURNS bigint
LANGUAGE plpgsql AS $$
DECLARE
    v_count int := jsonb_array_length(p_events);
    v_next bigint;
BEGIN
    UPDATE {{schema}}.executions
       SET next_event_id = next_event_id + v_count,
           history_size = history_size + length(p_events::text),
           wft_state = coalesce(p_wft_state, wft_state)
     WHERE run_id = p_run
    RETURNING next_event_id INTO v_next;
    PERFORM {{schema}}.insert_events(p_run, v_next - v_count, p_events);
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

-- Schedule a workflow task unless one is already scheduled or in flight.
CREATE OR REPLACE FUNCTION {{schema}}.ensure_workflow_task(p_run uuid, p_notify boolean DEFAULT true)
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
CREATE OR REPLACE FUNCTION {{schema}}.deliver(p_run uuid, p_events jsonb, p_notify boolean DEFAULT true)
RETURNS boolean
LANGUAGE plpgsql AS $$
DECLARE
    e {{schema}}.executions;
BEGIN
    SELECT * INTO e FROM {{schema}}.executions WHERE run_id = p_run FOR UPDATE;
    IF NOT FOUND OR e.status <> 1 THEN
        RETURN false;
    END IF;
    IF e.wft_state = 2 THEN
        INSERT INTO {{schema}}.inbox (run_id, events) VALUES (p_run, p_events);
    ELSE
        PERFORM {{schema}}.append_and_schedule(e, p_events, p_notify);
    END IF;
    RETURN true;
END $$;

-- ------------------------------------------------------------------- new runs

-- Insert a run with its first events and its first workflow task. With p_or_null, a
-- run already holding the workflow id makes it return NULL instead of raising
-- unique_violation (start_workflow's race with another start, without the cost of a
-- subtransaction).
DROP FUNCTION {{schema}}.insert_run(jsonb);
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
    v_events jsonb;
    e {{schema}}.executions;
BEGIN
    v_exec_deadline := coalesce(
        (p_start->>'execution_deadline')::timestamptz,
        v_now + (v_delay + v_exec_timeout) * interval '1 second');
    v_run_deadline := v_now + (v_delay + v_run_timeout) * interval '1 second';
    v_events := jsonb_build_array(jsonb_build_object(
        'type', 'WorkflowExecutionStarted', 'attrs', p_start->'started_attributes'));
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
        parent, memo, search_attributes, next_event_id, history_size, wft_state)
    VALUES (
        v_run, p_start->>'namespace', p_start->>'workflow_id',
        coalesce((p_start->>'first_execution_run_id')::uuid, v_run),
        p_start->>'workflow_type', p_start->>'task_queue',
        v_now, v_now + v_delay * interval '1 second', v_task_timeout,
        v_run_deadline, v_exec_deadline, least(v_run_deadline, v_exec_deadline),
        p_start->'parent', p_start->'memo', p_start->'search_attributes',
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
    PERFORM {{schema}}.insert_events(v_run, 1, v_events);
    IF v_delay > 0 THEN
        INSERT INTO {{schema}}.workflow_tasks (run_id, namespace, task_queue, visible_at, deadline)
        VALUES (v_run, e.namespace, e.task_queue,
                v_now + v_delay * interval '1 second', v_now + v_delay * interval '1 second');
        PERFORM {{schema}}.notify_deadline(v_now + v_delay * interval '1 second');
    ELSE
        PERFORM {{schema}}.insert_workflow_task(e, e.next_event_id - 1);
        PERFORM {{schema}}.notify('w|' || e.namespace || '|' || e.task_queue);
    END IF;
    IF e.deadline IS NOT NULL THEN
        PERFORM {{schema}}.notify_deadline(e.deadline);
    END IF;
    RETURN v_run;
END $$;

CREATE OR REPLACE FUNCTION {{schema}}.start_workflow(p_start jsonb) RETURNS jsonb
LANGUAGE plpgsql AS $$
DECLARE
    v_ns text := p_start->>'namespace';
    v_wid text := p_start->>'workflow_id';
    v_reuse int := coalesce((p_start->>'id_reuse_policy')::int, 1);
    v_conflict int := coalesce((p_start->>'id_conflict_policy')::int, 0);
    v_running {{schema}}.executions;
    v_last_status smallint;
    v_run uuid;
BEGIN
    SELECT * INTO v_running FROM {{schema}}.executions
     WHERE namespace = v_ns AND workflow_id = v_wid AND status = 1 FOR UPDATE;
    IF FOUND THEN
        -- WorkflowIDConflictPolicy: 2 USE_EXISTING, 3 TERMINATE_EXISTING;
        -- WorkflowIDReusePolicy 4 TERMINATE_IF_RUNNING terminates too.
        IF p_start ? 'signal' THEN
            -- Signal-with-start on a running workflow signals it and starts nothing.
            PERFORM {{schema}}.deliver(v_running.run_id, jsonb_build_array(p_start->'signal'));
            RETURN jsonb_build_object('status', 'existing', 'run_id', v_running.run_id);
        ELSIF v_conflict = 2 THEN
            RETURN jsonb_build_object('status', 'existing', 'run_id', v_running.run_id);
        ELSIF v_conflict = 3 OR (v_conflict = 0 AND v_reuse = 4) THEN
            PERFORM {{schema}}.terminate_run(v_running, 'terminated by a new start of the workflow id', NULL);
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
    RETURN jsonb_build_object('status', 'started', 'run_id', v_run);
END $$;

-- ------------------------------------------------------------------- workflow tasks

CREATE OR REPLACE FUNCTION {{schema}}.lease_workflow_task(p_run uuid, p_worker text) RETURNS jsonb
LANGUAGE plpgsql AS $$
DECLARE
    e {{schema}}.executions;
    v_lease bigint := (random() * 9e15)::bigint;
    v_now timestamptz := {{schema}}.now();
    v_after bigint := 0;
    v_attempt int;
    v_updates jsonb;
BEGIN
    -- Lock the run first: events delivered concurrently then either land before this
    -- lease (and next_event_id includes them) or see wft_state = 2 and wait in the inbox.
    UPDATE {{schema}}.executions SET wft_state = 2 WHERE run_id = p_run RETURNING * INTO e;
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
        'next_event_id', e.next_event_id, 'started_at', v_now, 'attempt', v_attempt,
        'after', v_after, 'events', {{schema}}.events_after(p_run, v_after),
        'history_size', e.history_size,
        'updates', coalesce(v_updates, '[]'::jsonb));
END $$;

CREATE OR REPLACE FUNCTION {{schema}}.close_run(p_run uuid, p_status smallint, p_result jsonb, p_failure jsonb, p_new_run uuid)
RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    v_outcome text;
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
    -- The outcome rides along when it fits, so a waiting client needs no extra query.
    v_outcome := jsonb_build_object('status', p_status, 'result', p_result,
                                    'failure', p_failure, 'new_run_id', p_new_run)::text;
    IF length(v_outcome) > 7000 THEN
        v_outcome := '';
    END IF;
    PERFORM {{schema}}.notify('c|' || p_run::text || '|' || v_outcome);
END $$;

CREATE OR REPLACE FUNCTION {{schema}}.complete_workflow_task(
    p_run uuid, p_lease bigint, p_worker text, p_completion jsonb, p_eager_next boolean)
RETURNS jsonb
LANGUAGE plpgsql AS $$
DECLARE
    e {{schema}}.executions;
    v_close jsonb := p_completion->'close';
    v_events jsonb := coalesce(p_completion->'events', '[]'::jsonb);
    v_count int;
    v_timer jsonb;
    v_eager jsonb := '[]'::jsonb;
    v_last bigint;
    v_now timestamptz := {{schema}}.now();
    v_next jsonb;
    v_new_run uuid;
BEGIN
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
    IF v_close IS NOT NULL AND EXISTS (SELECT 1 FROM {{schema}}.inbox WHERE run_id = p_run) THEN
        IF {{schema}}.release_workflow_task(p_run, p_lease, 0) THEN
            RETURN jsonb_build_object('status', 'rejected');
        END IF;
        RETURN jsonb_build_object('status', 'stale');
    END IF;
    DELETE FROM {{schema}}.workflow_tasks WHERE run_id = p_run AND lease_id = p_lease;
    IF NOT FOUND THEN
        RETURN jsonb_build_object('status', 'stale');
    END IF;

    -- The events, the task's end and the sticky fields: one write of the run's row.
    v_count := jsonb_array_length(v_events);
    UPDATE {{schema}}.executions
       SET next_event_id = next_event_id + v_count,
           history_size = history_size + length(v_events::text),
           wft_state = 0, sticky_worker = p_worker, sticky_event_id = next_event_id + v_count - 1,
           sticky_timeout = coalesce((p_completion->>'sticky_timeout')::float8, sticky_timeout)
     WHERE run_id = p_run
    RETURNING * INTO e;
    PERFORM {{schema}}.insert_events(p_run, e.next_event_id - v_count, v_events);
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
        RETURN jsonb_build_object('status', 'ok', 'last_event_id', v_last);
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
                              'activities', v_eager, 'next', v_next);
END $$;

-- ------------------------------------------------------------------- activities

-- As in 0001, with the deadline written by the INSERT instead of a second UPDATE.
CREATE OR REPLACE FUNCTION {{schema}}.schedule_activities(e {{schema}}.executions, p_activities jsonb, p_worker text)
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
