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

-- 0001's sweep_workflow_task, recording the timeout of an expired lease first.
CREATE OR REPLACE FUNCTION {{schema}}.sweep_workflow_task(t {{schema}}.workflow_tasks) RETURNS void
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
