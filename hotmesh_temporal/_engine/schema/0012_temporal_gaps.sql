-- Behaviour that now matches a Temporal server where earlier migrations differed.

-- ------------------------------------------ run timeouts: retry policy and cron

-- A run's user metadata, as Temporal's sdk.v1.UserMetadata JSON ({summary, details}:
-- payloads, as encoded by the client's data converter): the static summary and details
-- given at start, shown by describe().
ALTER TABLE {{schema}}.executions ADD COLUMN user_metadata jsonb;

-- Redefined from 0001: a run's WorkflowExecutionStarted records its execution deadline
-- (workflowExecutionExpirationTime) when it has an execution timeout, as a Temporal
-- server does. Retries, cron runs and continue-as-new pass it on, so the execution
-- timeout bounds the whole chain, and the retry policy sees it. It also stores the
-- start's user metadata (p_start->'user_metadata').
CREATE OR REPLACE FUNCTION {{schema}}.insert_run(p_start jsonb) RETURNS uuid
LANGUAGE plpgsql AS $$
DECLARE
    v_run uuid := (p_start->>'run_id')::uuid;
    v_now timestamptz := {{schema}}.now();
    v_delay double precision := coalesce((p_start->>'start_delay')::float8, 0);
    v_run_timeout double precision := (p_start->>'run_timeout')::float8;
    v_exec_timeout double precision := (p_start->>'execution_timeout')::float8;
    v_exec_deadline timestamptz;
    v_run_deadline timestamptz;
    v_started jsonb := p_start->'started_attributes';
BEGIN
    v_exec_deadline := coalesce(
        (p_start->>'execution_deadline')::timestamptz,
        v_now + (v_delay + v_exec_timeout) * interval '1 second');
    v_run_deadline := v_now + (v_delay + v_run_timeout) * interval '1 second';
    IF v_exec_deadline IS NOT NULL AND NOT v_started ? 'workflowExecutionExpirationTime' THEN
        v_started := v_started || jsonb_build_object('workflowExecutionExpirationTime',
            to_char(v_exec_deadline AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'));
    END IF;
    INSERT INTO {{schema}}.executions (
        run_id, namespace, workflow_id, first_execution_run_id, workflow_type, task_queue,
        start_time, execution_time, task_timeout, run_deadline, execution_deadline, deadline,
        parent, memo, search_attributes, user_metadata)
    VALUES (
        v_run, p_start->>'namespace', p_start->>'workflow_id',
        coalesce((p_start->>'first_execution_run_id')::uuid, v_run),
        p_start->>'workflow_type', p_start->>'task_queue',
        v_now, v_now + v_delay * interval '1 second',
        coalesce((p_start->>'task_timeout')::float8, 10),
        v_run_deadline, v_exec_deadline, least(v_run_deadline, v_exec_deadline),
        p_start->'parent', p_start->'memo', p_start->'search_attributes',
        p_start->'user_metadata');
    PERFORM {{schema}}.append_events(v_run, jsonb_build_array(jsonb_build_object(
        'type', 'WorkflowExecutionStarted', 'attrs', v_started)));
    IF p_start ? 'signal' THEN
        PERFORM {{schema}}.append_events(v_run, jsonb_build_array(p_start->'signal'));
    END IF;
    IF v_delay > 0 THEN
        -- The first workflow task is scheduled by the sweeper when the delay is over.
        INSERT INTO {{schema}}.workflow_tasks (run_id, namespace, task_queue, visible_at, deadline)
        VALUES (v_run, p_start->>'namespace', p_start->>'task_queue',
                v_now + v_delay * interval '1 second', v_now + v_delay * interval '1 second');
        UPDATE {{schema}}.executions SET wft_state = 1 WHERE run_id = v_run;
        PERFORM {{schema}}.notify_deadline(v_now + v_delay * interval '1 second');
    ELSE
        PERFORM {{schema}}.ensure_workflow_task(v_run);
    END IF;
    IF least(v_run_deadline, v_exec_deadline) IS NOT NULL THEN
        PERFORM {{schema}}.notify_deadline(least(v_run_deadline, v_exec_deadline));
    END IF;
    RETURN v_run;
END $$;

-- Runs that reached their run timeout and may go on (a retry, or the next cron run)
-- wait here for a worker: the retry backoff and the cron calendar are computed in
-- Python. 0008 named the table for cron runs only.
ALTER TABLE {{schema}}.cron_timeouts RENAME TO run_timeouts;

-- Redefined from 0008: on Temporal a run that reaches its run timeout before the
-- execution timeout is retried when its retry policy allows, else continues its cron
-- chain; either way it is handed to the workers. A run with neither closes here, with
-- retry state RETRY_POLICY_NOT_SET (TIMEOUT when the execution timeout was reached).
CREATE OR REPLACE FUNCTION {{schema}}.timeout_run(e {{schema}}.executions) RETURNS void
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

DROP FUNCTION {{schema}}.due_cron_timeouts(int);
DROP FUNCTION {{schema}}.cron_run_timed_out(uuid, jsonb);

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

CREATE OR REPLACE FUNCTION {{schema}}.next_schedule_fire() RETURNS timestamptz
LANGUAGE sql STABLE AS $$
    SELECT least(
        (SELECT min(next_fire_at) FROM {{schema}}.schedules WHERE next_fire_at IS NOT NULL),
        (SELECT {{schema}}.now() FROM {{schema}}.schedule_wakeups LIMIT 1),
        (SELECT min(due_at) FROM {{schema}}.run_timeouts))
$$;

-- ------------------------------------------ child id reuse: TERMINATE_IF_RUNNING

-- Redefined from 0003: a child started with id reuse policy TERMINATE_IF_RUNNING
-- terminates the running workflow with its id and starts, as a Temporal server does
-- (it turns that policy into conflict policy TERMINATE_EXISTING for children too).
-- Every other child start fails on a running id (conflict policy FAIL). A parent
-- never terminates itself this way: its own id counts as taken.
CREATE OR REPLACE FUNCTION {{schema}}.start_child(e {{schema}}.executions, p_child jsonb) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    v_start jsonb := p_child->'start';
    v_attrs jsonb := v_start->'started_attributes';
    v_terminate boolean := coalesce((v_start->>'id_reuse_policy')::int, 1) = 4
        AND NOT (v_start->>'namespace' = e.namespace AND v_start->>'workflow_id' = e.workflow_id);
    v_reply jsonb;
BEGIN
    v_reply := {{schema}}.start_workflow(v_start || jsonb_build_object(
        'id_conflict_policy', CASE WHEN v_terminate THEN 3 ELSE 1 END));
    IF v_reply->>'status' = 'started' THEN
        PERFORM {{schema}}.append_after_task(e.run_id, jsonb_build_object(
            'type', 'ChildWorkflowExecutionStarted',
            'attrs', jsonb_strip_nulls(jsonb_build_object(
                'namespace', v_start->>'namespace',
                'initiatedEventId', p_child->>'initiated_event_id',
                'workflowExecution', {{schema}}.execution_json(
                    v_start->>'workflow_id', v_reply->>'run_id'),
                'workflowType', v_attrs->'workflowType',
                'header', v_attrs->'header'))));
    ELSE
        PERFORM {{schema}}.append_after_task(e.run_id, jsonb_build_object(
            'type', 'StartChildWorkflowExecutionFailed',
            'attrs', jsonb_build_object(
                'namespace', v_start->>'namespace',
                'workflowId', v_start->>'workflow_id',
                'workflowType', v_attrs->'workflowType',
                'cause', 'START_CHILD_WORKFLOW_EXECUTION_FAILED_CAUSE_WORKFLOW_ALREADY_EXISTS',
                'initiatedEventId', p_child->>'initiated_event_id',
                'workflowTaskCompletedEventId', p_child->>'completed_event_id')));
    END IF;
END $$;

-- ------------------------------------------ speculative workflow tasks (updates)

-- A workflow task scheduled with no new event since the run's previous task completed
-- exists only to deliver updates (request_update, or apply_update_commands for those
-- that arrived while a task was in flight): it is speculative, as on Temporal. If the
-- workflow rejects every update it carries and nothing else happened, the task leaves
-- no events: its WorkflowTaskScheduled is taken back.

-- The completion of a task as 0002 defines it keeps its body under a new name; the
-- complete_workflow_task below first discards a speculative task that only rejected
-- updates, and hands every other completion to it.
ALTER FUNCTION {{schema}}.complete_workflow_task(uuid, bigint, text, jsonb, boolean)
    RENAME TO complete_workflow_task_events;

CREATE FUNCTION {{schema}}.complete_workflow_task(
    p_run uuid, p_lease bigint, p_worker text, p_completion jsonb, p_eager_next boolean)
RETURNS jsonb
LANGUAGE plpgsql AS $$
DECLARE
    e {{schema}}.executions;
    t {{schema}}.workflow_tasks;
    v_update jsonb;
    v_size bigint;
BEGIN
    -- Only WorkflowTaskStarted and WorkflowTaskCompleted: no command, no accepted or
    -- finished update (each writes an event), no close.
    IF p_completion ? 'close' OR NOT p_completion ? 'updates'
       OR jsonb_array_length(coalesce(p_completion->'events', '[]')) <> 2 THEN
        RETURN {{schema}}.complete_workflow_task_events(
            p_run, p_lease, p_worker, p_completion, p_eager_next);
    END IF;
    -- Same lock order as the completion: the execution row, then its task.
    SELECT * INTO e FROM {{schema}}.executions WHERE run_id = p_run FOR UPDATE;
    SELECT * INTO t FROM {{schema}}.workflow_tasks
     WHERE run_id = p_run AND lease_id = p_lease FOR UPDATE;
    -- Discard it only when it was scheduled right after the previous task's events
    -- (sticky_event_id is the last of them), its WorkflowTaskScheduled is still the
    -- run's last event and no event waits in the inbox (an empty entry is an update
    -- that arrived meanwhile).
    IF t.run_id IS NULL
       OR e.next_event_id <> (p_completion->>'first_event_id')::bigint
       OR t.scheduled_event_id <> e.next_event_id - 1
       OR t.scheduled_event_id - 1 <> e.sticky_event_id
       OR EXISTS (SELECT 1 FROM {{schema}}.inbox WHERE run_id = p_run AND events <> '[]'::jsonb) THEN
        RETURN {{schema}}.complete_workflow_task_events(
            p_run, p_lease, p_worker, p_completion, p_eager_next);
    END IF;
    DELETE FROM {{schema}}.inbox WHERE run_id = p_run;
    DELETE FROM {{schema}}.workflow_tasks WHERE run_id = p_run;
    DELETE FROM {{schema}}.history_events
     WHERE run_id = p_run AND event_id = t.scheduled_event_id
    RETURNING length(jsonb_build_array(jsonb_build_object(
        'type', event_type, 'attrs', attributes))::text) INTO v_size;
    -- The sticky worker and the last event it saw stay as they were: the history is
    -- what it was before this task.
    UPDATE {{schema}}.executions
       SET next_event_id = t.scheduled_event_id, wft_state = 0,
           history_size = history_size - coalesce(v_size, 0)
     WHERE run_id = p_run;
    FOR v_update IN SELECT * FROM jsonb_array_elements(p_completion->'updates') LOOP
        PERFORM {{schema}}.set_update_state(p_run, v_update->>'id',
                                            (v_update->>'state')::smallint, v_update->'outcome');
    END LOOP;
    IF EXISTS (SELECT 1 FROM {{schema}}.updates WHERE run_id = p_run AND state = 0) THEN
        PERFORM {{schema}}.ensure_workflow_task(p_run);
    END IF;
    RETURN jsonb_build_object('status', 'ok', 'discarded', true,
                              'last_event_id', t.scheduled_event_id - 1);
END $$;
