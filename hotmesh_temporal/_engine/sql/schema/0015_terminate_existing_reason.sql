-- A run terminated by a new start (WorkflowIDConflictPolicy.TERMINATE_EXISTING,
-- WorkflowIDReusePolicy.TERMINATE_IF_RUNNING) reads as on Temporal: the reason
-- 'TerminateIfRunning WorkflowIdReusePolicy' and the detail 'terminated by new runID:
-- <the new run id>'. start_workflow as in 0001_init.sql otherwise.
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
    IF FOUND AND v_running.run_id = (p_start->>'run_id')::uuid THEN
        -- This very start, sent again after its connection was lost (the caller chose
        -- the run id): it did start.
        RETURN jsonb_build_object('status', 'started', 'run_id', v_running.run_id);
    ELSIF FOUND THEN
        -- WorkflowIDConflictPolicy: 2 USE_EXISTING, 3 TERMINATE_EXISTING;
        -- WorkflowIDReusePolicy 4 TERMINATE_IF_RUNNING terminates too.
        IF p_start ? 'signal' THEN
            -- Signal-with-start on a running workflow signals it and starts nothing.
            PERFORM {{schema}}.deliver(v_running.run_id, jsonb_build_array(p_start->'signal'));
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
