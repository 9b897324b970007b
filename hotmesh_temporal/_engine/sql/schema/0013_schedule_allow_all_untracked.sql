-- Actions started under ALLOW_ALL are not tracked as running, as on Temporal: they
-- cannot overlap anything, so the schedule does not watch them (describe() lists no
-- running action for them, and later overlap policies do not see them). A schedule
-- that pauses on failure still watches them, to see the failure.
CREATE OR REPLACE FUNCTION {{schema}}.schedule_start(s {{schema}}.schedules, p_item jsonb, p_sequential boolean)
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
