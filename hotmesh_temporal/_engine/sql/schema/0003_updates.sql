-- Workflow updates.
--
-- As in Temporal, an update request is not a history event: it waits in `updates`
-- until a workflow task delivers it to the workflow (lease_workflow_task hands the
-- run's admitted requests to the worker with the task). The worker's answers come back
-- in the completion: an accepted update writes WorkflowExecutionUpdateAccepted, a
-- finished one WorkflowExecutionUpdateCompleted (both written by the worker as command
-- events), a rejected one writes no event. The row keeps the outcome, so the same
-- update id sent again gets the same outcome and the handler runs once. A rejection
-- is kept only for the clients waiting on it (by row id): as on Temporal, the same
-- update id sent again is a new update (its validator runs again), and looking it up
-- by update id finds nothing.
--
-- state: 0 admitted (waiting for a workflow task), 1 accepted, 2 completed (outcome
-- set: {success} or {failure}, Temporal's update.v1.Outcome JSON), 3 aborted (the run
-- closed before a workflow task accepted it; the client gets "workflow execution
-- already completed"), 4 rejected (outcome: {failure}).
-- A waiting client LISTENs for the hint of 'u|<id>' (sent on every state change) and
-- then reads the row (update_by_id): the notification carries no outcome.

CREATE TABLE {{schema}}.updates (
    id uuid PRIMARY KEY,
    seq bigserial NOT NULL,
    -- Pruning a closed run (docs/operations.md) takes its updates along.
    run_id uuid NOT NULL REFERENCES {{schema}}.executions (run_id) ON DELETE CASCADE,
    update_id text NOT NULL,
    request jsonb NOT NULL,            -- Temporal's update.v1.Request JSON: {meta, input}
    state smallint NOT NULL DEFAULT 0,
    outcome jsonb,
    created_at timestamptz NOT NULL DEFAULT now()
);
-- One live update per id; rejected ones stay apart until their waiters have read them.
CREATE UNIQUE INDEX updates_update_id ON {{schema}}.updates (run_id, update_id) WHERE state <> 4;
CREATE INDEX updates_admitted ON {{schema}}.updates (run_id, seq) WHERE state = 0;

-- The failure an accepted update ends with when its run closes first (Temporal's).
CREATE FUNCTION {{schema}}.update_abandoned_failure() RETURNS jsonb
LANGUAGE sql IMMUTABLE AS $$
    SELECT jsonb_build_object(
        'message', 'Workflow Update failed because the Workflow completed before the Update completed.',
        'source', 'Server',
        'applicationFailureInfo', jsonb_build_object(
            'type', 'AcceptedUpdateCompletedWorkflow', 'nonRetryable', true))
$$;

CREATE FUNCTION {{schema}}.update_reply(u {{schema}}.updates) RETURNS jsonb
LANGUAGE sql IMMUTABLE AS $$
    SELECT jsonb_build_object('status', 'ok', 'id', u.id, 'run_id', u.run_id,
                              'state', u.state, 'outcome', u.outcome)
$$;

-- Admit an update to a run (the latest run of the workflow id unless p_run is given).
-- Returns {status: not_found | not_running | ok, id, run_id, state, outcome}; an update
-- id the run has seen before returns that update as it is (deduplication), unless it
-- was rejected. p_row is the id of the new row: the client chose it, so it listens for
-- it before asking.
CREATE FUNCTION {{schema}}.request_update(
    p_namespace text, p_workflow_id text, p_run uuid, p_request jsonb, p_row uuid)
RETURNS jsonb
LANGUAGE plpgsql AS $$
DECLARE
    e {{schema}}.executions;
    u {{schema}}.updates;
BEGIN
    e := {{schema}}.find_run(p_namespace, p_workflow_id, p_run);
    IF e.run_id IS NULL THEN
        RETURN jsonb_build_object('status', 'not_found');
    END IF;
    -- Lock the run: a lease or a completion then sees this update, or runs before it.
    SELECT * INTO e FROM {{schema}}.executions WHERE run_id = e.run_id FOR UPDATE;
    SELECT * INTO u FROM {{schema}}.updates
     WHERE run_id = e.run_id AND update_id = p_request->'meta'->>'updateId' AND state <> 4;
    IF FOUND THEN
        RETURN {{schema}}.update_reply(u);
    END IF;
    IF e.status <> 1 THEN
        RETURN jsonb_build_object('status', 'not_running', 'run_id', e.run_id);
    END IF;
    INSERT INTO {{schema}}.updates (id, run_id, update_id, request)
    VALUES (p_row, e.run_id, p_request->'meta'->>'updateId', p_request)
    RETURNING * INTO u;
    IF e.wft_state = 0 THEN
        PERFORM {{schema}}.ensure_workflow_task(e.run_id);
    ELSIF e.wft_state = 2 THEN
        -- The task in flight did not see it. An empty inbox entry makes
        -- complete_workflow_task refuse to close the run (Temporal's UNHANDLED_UPDATE:
        -- the next task delivers the update); otherwise apply_update_commands
        -- schedules that next task.
        INSERT INTO {{schema}}.inbox (run_id, events) VALUES (e.run_id, '[]'::jsonb);
    END IF;
    RETURN {{schema}}.update_reply(u);
END $$;

-- Update-with-start: start the workflow (or find the running one, per the conflict
-- policy) and admit the update to that run, in one transaction.
CREATE FUNCTION {{schema}}.start_workflow_with_update(p_start jsonb, p_request jsonb, p_row uuid)
RETURNS jsonb
LANGUAGE plpgsql AS $$
DECLARE
    v_start jsonb := {{schema}}.start_workflow(p_start);
BEGIN
    IF v_start->>'status' NOT IN ('started', 'existing') THEN
        RETURN v_start;
    END IF;
    RETURN v_start || jsonb_build_object('update', {{schema}}.request_update(
        p_start->>'namespace', p_start->>'workflow_id', (v_start->>'run_id')::uuid, p_request, p_row));
END $$;

-- An update as a client sees it: by run (the latest of the workflow id unless given).
CREATE FUNCTION {{schema}}.find_update(
    p_namespace text, p_workflow_id text, p_run uuid, p_update_id text)
RETURNS jsonb
LANGUAGE plpgsql STABLE AS $$
DECLARE
    e {{schema}}.executions;
    u {{schema}}.updates;
BEGIN
    e := {{schema}}.find_run(p_namespace, p_workflow_id, p_run);
    IF e.run_id IS NULL THEN
        RETURN jsonb_build_object('status', 'not_found');
    END IF;
    SELECT * INTO u FROM {{schema}}.updates
     WHERE run_id = e.run_id AND update_id = p_update_id AND state <> 4;
    IF NOT FOUND THEN
        RETURN jsonb_build_object('status', 'update_not_found', 'run_id', e.run_id);
    END IF;
    RETURN {{schema}}.update_reply(u);
END $$;

CREATE FUNCTION {{schema}}.notify_update(u {{schema}}.updates) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM {{schema}}.notify('u|' || u.id::text);
END $$;

CREATE FUNCTION {{schema}}.set_update_state(
    p_run uuid, p_update_id text, p_state smallint, p_outcome jsonb)
RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    u {{schema}}.updates;
BEGIN
    UPDATE {{schema}}.updates
       SET state = p_state, outcome = coalesce(p_outcome, outcome)
     WHERE run_id = p_run AND update_id = p_update_id AND state < p_state
    RETURNING * INTO u;
    IF u.id IS NOT NULL THEN
        PERFORM {{schema}}.notify_update(u);
    END IF;
END $$;

-- Hook of complete_workflow_task: record what the workflow said about its updates
-- (completion 'updates': [{id, state, outcome}]), and schedule the next task when
-- updates arrived while this one was in flight.
CREATE FUNCTION {{schema}}.apply_update_commands(
    e {{schema}}.executions, p_completion jsonb, p_worker text) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    v_update jsonb;
BEGIN
    FOR v_update IN SELECT * FROM jsonb_array_elements(coalesce(p_completion->'updates', '[]')) LOOP
        PERFORM {{schema}}.set_update_state(e.run_id, v_update->>'id',
                                            (v_update->>'state')::smallint, v_update->'outcome');
    END LOOP;
    IF p_completion->'close' IS NULL
       AND EXISTS (SELECT 1 FROM {{schema}}.updates WHERE run_id = e.run_id AND state = 0) THEN
        PERFORM {{schema}}.ensure_workflow_task(e.run_id);
    END IF;
END $$;

-- Hook of close_run: updates the run can no longer answer end as Temporal ends them.
CREATE FUNCTION {{schema}}.on_close_updates(p_run uuid, p_status smallint) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    u {{schema}}.updates;
BEGIN
    FOR u IN
        UPDATE {{schema}}.updates
           SET state = CASE WHEN state = 0 THEN 3 ELSE 2 END,
               outcome = CASE WHEN state = 0 THEN NULL
                              ELSE jsonb_build_object('failure', {{schema}}.update_abandoned_failure()) END
         WHERE run_id = p_run AND state IN (0, 1)
        RETURNING *
    LOOP
        PERFORM {{schema}}.notify_update(u);
    END LOOP;
END $$;

-- ------------------------------------------------- speculative workflow tasks

-- A workflow task scheduled with no new event since the run's previous task completed
-- exists only to deliver updates (request_update, or apply_update_commands for those
-- that arrived while a task was in flight): it is speculative, as on Temporal. If the
-- workflow rejects every update it carries and nothing else happened (its completion
-- holds only WorkflowTaskStarted and WorkflowTaskCompleted: an accepted or finished
-- update writes an event, and so does every command), the task leaves no events: its
-- WorkflowTaskScheduled is taken back. complete_workflow_task asks here first; NULL
-- means "not such a task, complete it as usual".
CREATE FUNCTION {{schema}}.discard_speculative_task(p_run uuid, p_lease bigint, p_completion jsonb)
RETURNS jsonb
LANGUAGE plpgsql AS $$
DECLARE
    e {{schema}}.executions;
    t {{schema}}.workflow_tasks;
    v_update jsonb;
    v_size bigint;
BEGIN
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
        RETURN NULL;
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
                              'last_event_id', t.scheduled_event_id - 1,
                              'queries', {{schema}}.queries_waiting(p_run));
END $$;
