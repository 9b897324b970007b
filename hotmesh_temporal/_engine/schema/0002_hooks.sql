-- Lock order. Every transition that touches a run locks its executions row before the
-- run's task, timer or activity rows; the sweeper and the claims lock both at once with
-- SKIP LOCKED, so they never wait while holding a row. (0001 locked a task row first in
-- a few places, which could deadlock against terminate or a completing workflow task.)
-- The sweep, claim_workflow_tasks, release_workflow_task and leased_attempt below
-- replace 0001's versions for that reason.
--
-- Feature hooks. complete_workflow_task, close_run and sweep call one function per
-- feature, so each feature's migration replaces only its own functions (never one of
-- these three). The stubs here do nothing; a later migration CREATE OR REPLACEs them:
--   apply_child_commands / on_close_children    child workflows and external handles
--   apply_update_commands / on_close_updates    workflow updates
--   apply_visibility_commands                   memo and search-attribute upserts
--   sweep_schedules / next_schedule_fire        schedules
--   sweep_standalone_activities                 activities started by a client

CREATE FUNCTION {{schema}}.apply_child_commands(
    e {{schema}}.executions, p_completion jsonb, p_worker text) RETURNS void
LANGUAGE sql AS $$ SELECT $$;

CREATE FUNCTION {{schema}}.apply_update_commands(
    e {{schema}}.executions, p_completion jsonb, p_worker text) RETURNS void
LANGUAGE sql AS $$ SELECT $$;

CREATE FUNCTION {{schema}}.apply_visibility_commands(
    e {{schema}}.executions, p_completion jsonb, p_worker text) RETURNS void
LANGUAGE sql AS $$ SELECT $$;

CREATE FUNCTION {{schema}}.on_close_children(
    p_run uuid, p_status smallint, p_result jsonb, p_failure jsonb, p_new_run uuid) RETURNS void
LANGUAGE sql AS $$ SELECT $$;

CREATE FUNCTION {{schema}}.on_close_updates(p_run uuid, p_status smallint) RETURNS void
LANGUAGE sql AS $$ SELECT $$;

CREATE FUNCTION {{schema}}.sweep_schedules(p_now timestamptz, p_limit int) RETURNS int
LANGUAGE sql AS $$ SELECT 0 $$;

CREATE FUNCTION {{schema}}.next_schedule_fire() RETURNS timestamptz
LANGUAGE sql AS $$ SELECT NULL::timestamptz $$;

CREATE FUNCTION {{schema}}.sweep_standalone_activities(p_now timestamptz, p_limit int) RETURNS int
LANGUAGE sql AS $$ SELECT 0 $$;

CREATE OR REPLACE FUNCTION {{schema}}.close_run(p_run uuid, p_status smallint, p_result jsonb, p_failure jsonb, p_new_run uuid)
RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    v_outcome text;
BEGIN
    UPDATE {{schema}}.executions
       SET status = p_status, result = p_result, failure = p_failure,
           close_time = {{schema}}.now(), deadline = NULL, wft_state = 0, new_run_id = p_new_run
     WHERE run_id = p_run;
    DELETE FROM {{schema}}.workflow_tasks WHERE run_id = p_run;
    DELETE FROM {{schema}}.activity_tasks WHERE run_id = p_run;
    DELETE FROM {{schema}}.timers WHERE run_id = p_run;
    DELETE FROM {{schema}}.inbox WHERE run_id = p_run;
    PERFORM {{schema}}.on_close_children(p_run, p_status, p_result, p_failure, p_new_run);
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
    PERFORM 1 FROM {{schema}}.workflow_tasks WHERE run_id = p_run AND lease_id = p_lease FOR UPDATE;
    IF NOT FOUND THEN
        RETURN jsonb_build_object('status', 'stale');
    END IF;
    IF e.next_event_id <> (p_completion->>'first_event_id')::bigint THEN
        PERFORM {{schema}}.release_workflow_task(p_run, p_lease, 0);
        RETURN jsonb_build_object('status', 'stale');
    END IF;
    -- Temporal refuses to close a run while new events wait: the task is retried so
    -- that workflow code sees them (a signal is never lost to a completing workflow).
    IF v_close IS NOT NULL AND EXISTS (SELECT 1 FROM {{schema}}.inbox WHERE run_id = p_run) THEN
        PERFORM {{schema}}.release_workflow_task(p_run, p_lease, 0);
        RETURN jsonb_build_object('status', 'rejected');
    END IF;

    v_last := {{schema}}.append_events(p_run, p_completion->'events');
    DELETE FROM {{schema}}.workflow_tasks WHERE run_id = p_run;
    UPDATE {{schema}}.executions
       SET wft_state = 0, sticky_worker = p_worker, sticky_event_id = v_last,
           sticky_timeout = coalesce((p_completion->>'sticky_timeout')::float8, sticky_timeout)
     WHERE run_id = p_run
    RETURNING * INTO e;

    -- Feature hooks: each feature owns one function (stubs below, replaced by the
    -- migration that brings the feature). They run on the close path too, so that a
    -- signal sent or an update answered in a run's last task still takes effect.
    PERFORM {{schema}}.apply_child_commands(e, p_completion, p_worker);
    PERFORM {{schema}}.apply_update_commands(e, p_completion, p_worker);
    PERFORM {{schema}}.apply_visibility_commands(e, p_completion, p_worker);

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
    FOR v_timer IN SELECT * FROM jsonb_array_elements(coalesce(p_completion->'timers', '[]')) LOOP
        INSERT INTO {{schema}}.timers (run_id, started_event_id, timer_id, fire_at)
        VALUES (p_run, (v_timer->>'started_event_id')::bigint, v_timer->>'timer_id',
                v_now + (v_timer->>'seconds')::float8 * interval '1 second');
        PERFORM {{schema}}.notify_deadline(v_now + (v_timer->>'seconds')::float8 * interval '1 second');
    END LOOP;
    DELETE FROM {{schema}}.timers
     WHERE run_id = p_run
       AND started_event_id IN (SELECT (x::text)::bigint FROM jsonb_array_elements_text(
                                    coalesce(p_completion->'cancel_timers', '[]')) AS x);
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

CREATE OR REPLACE FUNCTION {{schema}}.sweep(p_limit int) RETURNS TABLE (fired int, next_deadline timestamptz)
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


CREATE OR REPLACE FUNCTION {{schema}}.claim_workflow_tasks(
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

CREATE OR REPLACE FUNCTION {{schema}}.release_workflow_task(
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

-- The running attempt a worker reports on, locked after its run; a row of NULLs when
-- that attempt is over (timed out and retried, cancelled with its run, or reported).
CREATE OR REPLACE FUNCTION {{schema}}.leased_attempt(p_task bigint, p_attempt int)
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
