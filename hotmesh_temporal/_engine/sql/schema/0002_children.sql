-- Child workflows and external workflow handles.
--
-- A child is an ordinary run whose `parent` column holds
-- {namespace, workflow_id, run_id, initiated_event_id}: the parent run and the id of its
-- StartChildWorkflowExecutionInitiated event. Everything else about the child (its
-- type, parent close policy, ...) is read from that event when needed, so a run that
-- continues as new only has to carry the same four fields to stay the parent's child.
--
-- The parent hears about its children through events in its own history:
--   started / could not start    written in the same transaction as the parent's task
--   closed                        delivered when the child's run closes (on_close_children)
-- Signals and cancel requests to other workflows are applied in the transaction of the
-- task that sent them, and their outcome is recorded right after that task's events.

-- A closing parent finds its running children with this index.
CREATE INDEX executions_by_parent
    ON {{schema}}.executions ((parent->>'run_id')) WHERE (parent->>'run_id') IS NOT NULL AND status = 1;

-- An event for the parent's history that must follow the current task's events: it
-- joins the inbox, which complete_workflow_task flushes at the end of the same
-- transaction (and so schedules the parent's next task, eagerly for the same worker).
CREATE FUNCTION {{schema}}.append_after_task(p_run uuid, p_event jsonb) RETURNS void
LANGUAGE sql AS $$
    INSERT INTO {{schema}}.inbox (run_id, events) VALUES (p_run, jsonb_build_array(p_event))
$$;

CREATE FUNCTION {{schema}}.execution_json(p_workflow_id text, p_run text) RETURNS jsonb
LANGUAGE sql IMMUTABLE AS $$
    SELECT jsonb_strip_nulls(jsonb_build_object('workflowId', p_workflow_id, 'runId', p_run))
$$;

-- Start a child in the parent's transaction and write the outcome to the parent's
-- history after the current task's events. As a Temporal server does, a child started
-- with id reuse policy TERMINATE_IF_RUNNING terminates the running workflow with its id
-- (conflict policy TERMINATE_EXISTING); every other child start fails on a running id
-- (conflict policy FAIL). A parent never terminates itself this way: its own id counts
-- as taken.
CREATE FUNCTION {{schema}}.start_child(e {{schema}}.executions, p_child jsonb) RETURNS void
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

-- The run a signal or cancel request addresses, if it is running (and, for a request
-- that only children may receive, if it is a child of p_sender).
CREATE FUNCTION {{schema}}.external_target(p_sender uuid, p_request jsonb)
RETURNS {{schema}}.executions
LANGUAGE plpgsql AS $$
DECLARE
    t {{schema}}.executions;
BEGIN
    t := {{schema}}.find_run(p_request->>'namespace', p_request->>'workflow_id',
                             (p_request->>'run_id')::uuid);
    IF t.run_id IS NULL OR t.status <> 1 THEN
        RETURN NULL;
    END IF;
    IF (p_request->>'child_only')::boolean AND t.parent->>'run_id' IS DISTINCT FROM p_sender::text THEN
        RETURN NULL;
    END IF;
    RETURN t;
END $$;

-- Signal or request cancellation of another workflow, then record the outcome in the
-- sender's history: ExternalWorkflowExecutionSignaled / ...CancelRequested, or the
-- matching *Failed event with cause EXTERNAL_WORKFLOW_EXECUTION_NOT_FOUND.
CREATE FUNCTION {{schema}}.apply_external(e {{schema}}.executions, p_request jsonb) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    t {{schema}}.executions := {{schema}}.external_target(e.run_id, p_request);
    v_signal boolean := p_request->>'kind' = 'signal';
    v_done boolean := t.run_id IS NOT NULL;
    v_target jsonb := {{schema}}.execution_json(p_request->>'workflow_id', p_request->>'run_id');
    v_type text;
BEGIN
    IF v_done AND v_signal THEN
        v_done := {{schema}}.deliver(t.run_id, jsonb_build_array(p_request->'signal'));
    ELSIF v_done AND NOT t.cancel_requested THEN
        UPDATE {{schema}}.executions SET cancel_requested = true WHERE run_id = t.run_id;
        v_done := {{schema}}.deliver(t.run_id, jsonb_build_array(jsonb_build_object(
            'type', 'WorkflowExecutionCancelRequested',
            'attrs', jsonb_build_object(
                'cause', coalesce(p_request->>'reason', ''),
                'externalInitiatedEventId', p_request->>'initiated_event_id',
                'externalWorkflowExecution', {{schema}}.execution_json(e.workflow_id, e.run_id::text),
                'identity', ''))));
    END IF;
    IF v_done THEN
        v_type := CASE WHEN v_signal THEN 'ExternalWorkflowExecutionSignaled'
                       ELSE 'ExternalWorkflowExecutionCancelRequested' END;
        PERFORM {{schema}}.append_after_task(e.run_id, jsonb_build_object('type', v_type,
            'attrs', jsonb_build_object(
                'initiatedEventId', p_request->>'initiated_event_id',
                'namespace', p_request->>'namespace',
                'workflowExecution', v_target)));
    ELSE
        v_type := CASE WHEN v_signal THEN 'SignalExternalWorkflowExecutionFailed'
                       ELSE 'RequestCancelExternalWorkflowExecutionFailed' END;
        PERFORM {{schema}}.append_after_task(e.run_id, jsonb_build_object('type', v_type,
            'attrs', jsonb_build_object(
                'cause', CASE WHEN v_signal
                    THEN 'SIGNAL_EXTERNAL_WORKFLOW_EXECUTION_FAILED_CAUSE_EXTERNAL_WORKFLOW_EXECUTION_NOT_FOUND'
                    ELSE 'CANCEL_EXTERNAL_WORKFLOW_EXECUTION_FAILED_CAUSE_EXTERNAL_WORKFLOW_EXECUTION_NOT_FOUND' END,
                'workflowTaskCompletedEventId', p_request->>'completed_event_id',
                'namespace', p_request->>'namespace',
                'workflowExecution', v_target,
                'initiatedEventId', p_request->>'initiated_event_id')));
    END IF;
END $$;

-- Hook of complete_workflow_task: the child starts, signals and cancel requests of a completed task.
CREATE FUNCTION {{schema}}.apply_child_commands(
    e {{schema}}.executions, p_completion jsonb, p_worker text) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    v_item jsonb;
BEGIN
    FOR v_item IN SELECT * FROM jsonb_array_elements(coalesce(p_completion->'children', '[]')) LOOP
        PERFORM {{schema}}.start_child(e, v_item);
    END LOOP;
    FOR v_item IN SELECT * FROM jsonb_array_elements(coalesce(p_completion->'externals', '[]')) LOOP
        PERFORM {{schema}}.apply_external(e, v_item);
    END LOOP;
END $$;

-- The parent's StartChildWorkflowExecutionInitiated event for a child.
CREATE FUNCTION {{schema}}.child_initiated(p_parent jsonb) RETURNS jsonb
LANGUAGE sql STABLE AS $$
    SELECT attributes FROM {{schema}}.history_events
     WHERE run_id = (p_parent->>'run_id')::uuid
       AND event_id = (p_parent->>'initiated_event_id')::bigint
$$;

-- Tell the parent that its child closed: ChildWorkflowExecutionCompleted, Failed,
-- Canceled, Terminated or TimedOut, with the ids of the parent's initiated and started
-- events.
CREATE FUNCTION {{schema}}.report_child_close(
    c {{schema}}.executions, p_status smallint, p_result jsonb, p_failure jsonb) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    v_parent_run uuid := (c.parent->>'run_id')::uuid;
    v_type text;
    v_attrs jsonb;
BEGIN
    v_type := CASE p_status WHEN 2 THEN 'ChildWorkflowExecutionCompleted'
                            WHEN 3 THEN 'ChildWorkflowExecutionFailed'
                            WHEN 4 THEN 'ChildWorkflowExecutionCanceled'
                            WHEN 5 THEN 'ChildWorkflowExecutionTerminated'
                            WHEN 7 THEN 'ChildWorkflowExecutionTimedOut' END;
    IF v_type IS NULL THEN
        RETURN;
    END IF;
    v_attrs := jsonb_build_object(
        'namespace', c.parent->>'namespace',
        'workflowExecution', {{schema}}.execution_json(c.workflow_id, c.first_execution_run_id::text),
        'workflowType', coalesce({{schema}}.child_initiated(c.parent)->'workflowType',
                                 jsonb_build_object('name', c.workflow_type)),
        'initiatedEventId', c.parent->>'initiated_event_id',
        'startedEventId', coalesce((
            -- Written by the same transaction as the initiated event, a few events
            -- after it: a short forward scan of the parent's history finds it.
            SELECT event_id::text FROM {{schema}}.history_events
             WHERE run_id = v_parent_run
               AND event_id > (c.parent->>'initiated_event_id')::bigint
               AND event_type = 'ChildWorkflowExecutionStarted'
               AND attributes->>'initiatedEventId' = c.parent->>'initiated_event_id'
             ORDER BY event_id LIMIT 1), '0'));
    IF p_status = 2 AND p_result IS NOT NULL THEN
        v_attrs := v_attrs || jsonb_build_object('result', p_result);
    ELSIF p_status = 3 THEN
        v_attrs := v_attrs || jsonb_strip_nulls(jsonb_build_object('failure', p_failure,
            'retryState', (SELECT attributes->>'retryState' FROM {{schema}}.history_events
                            WHERE run_id = c.run_id ORDER BY event_id DESC LIMIT 1)));
    ELSIF p_status = 7 THEN
        v_attrs := v_attrs || '{"retryState": "RETRY_STATE_TIMEOUT"}'::jsonb;
    END IF;
    PERFORM {{schema}}.deliver(v_parent_run, jsonb_build_array(
        jsonb_build_object('type', v_type, 'attrs', v_attrs)));
END $$;

-- Apply a closing parent's close policy to one running child: TERMINATE (the default),
-- REQUEST_CANCEL, or ABANDON (nothing).
CREATE FUNCTION {{schema}}.apply_parent_close_policy(p_parent uuid, c {{schema}}.executions) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    v_policy text := coalesce({{schema}}.child_initiated(c.parent)->>'parentClosePolicy',
                              'PARENT_CLOSE_POLICY_TERMINATE');
    v_parent {{schema}}.executions;
BEGIN
    IF v_policy = 'PARENT_CLOSE_POLICY_TERMINATE' THEN
        PERFORM {{schema}}.terminate_run(c, 'by parent close policy', NULL);
    ELSIF v_policy = 'PARENT_CLOSE_POLICY_REQUEST_CANCEL' AND NOT c.cancel_requested THEN
        SELECT * INTO v_parent FROM {{schema}}.executions WHERE run_id = p_parent;
        UPDATE {{schema}}.executions SET cancel_requested = true WHERE run_id = c.run_id;
        PERFORM {{schema}}.deliver(c.run_id, jsonb_build_array(jsonb_build_object(
            'type', 'WorkflowExecutionCancelRequested',
            'attrs', jsonb_build_object(
                'cause', 'by parent close policy',
                'externalWorkflowExecution', {{schema}}.execution_json(
                    v_parent.workflow_id, p_parent::text),
                'identity', ''))));
    END IF;
END $$;

-- Hook of close_run: report the closing run to its parent (unless it
-- continues in a new run, which stays the parent's child), then apply the closing
-- run's parent close policy to its own running children.
CREATE FUNCTION {{schema}}.on_close_children(
    p_run uuid, p_status smallint, p_result jsonb, p_failure jsonb, p_new_run uuid) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    v_closing {{schema}}.executions;
    v_child {{schema}}.executions;
BEGIN
    SELECT * INTO v_closing FROM {{schema}}.executions WHERE run_id = p_run;
    IF v_closing.parent IS NOT NULL AND p_new_run IS NULL THEN
        PERFORM {{schema}}.report_child_close(v_closing, p_status, p_result, p_failure);
    END IF;
    FOR v_child IN
        SELECT * FROM {{schema}}.executions
         WHERE parent->>'run_id' = p_run::text AND status = 1
         ORDER BY run_id FOR UPDATE
    LOOP
        PERFORM {{schema}}.apply_parent_close_policy(p_run, v_child);
    END LOOP;
END $$;
