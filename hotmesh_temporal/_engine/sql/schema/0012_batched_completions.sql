-- Several completed activities of one run reported together (activity_worker.py's
-- CompletionBatcher): one transaction instead of one per activity. A fan-out's
-- completions all lock the same run, so reported one by one they queue on that row
-- and pay a commit each; together they take the lock once and commit once, and the
-- workflow task they wake sees all of them, delivered in one append. The last one
-- completed may lease that task to this worker.
CREATE FUNCTION {{schema}}.complete_activity_tasks(
    p_tasks bigint[], p_attempts int[], p_results jsonb, p_identity text, p_worker text,
    p_lease_next boolean)
RETURNS jsonb
LANGUAGE plpgsql AS $$
DECLARE
    v_replies jsonb := '[]'::jsonb;
    v_events jsonb := '[]'::jsonb;  -- Started and Completed of each, in report order
    v_run uuid;
    v_last int;                     -- the reply that gets the leased task, if any
    t {{schema}}.activity_tasks;
BEGIN
    FOR i IN 1 .. cardinality(p_tasks) LOOP
        t := {{schema}}.leased_attempt(p_tasks[i], p_attempts[i]);
        IF t.id IS NULL THEN
            v_replies := v_replies || jsonb_build_array(jsonb_build_object('status', 'not_found'));
        ELSIF t.workflow_id = '' OR t.run_id IS DISTINCT FROM coalesce(v_run, t.run_id) THEN
            -- a standalone activity (or, never from the batcher, another run's): alone
            v_replies := v_replies || jsonb_build_array(jsonb_build_object('status', 'ok')
                || {{schema}}.finish_activity(t, p_identity,
                       {{schema}}.activity_completed_event(t, p_results->(i - 1), p_identity),
                       p_worker, false));
        ELSE
            DELETE FROM {{schema}}.activity_tasks WHERE id = t.id;
            v_events := v_events || jsonb_build_array(
                {{schema}}.activity_started_event(t, p_identity),
                {{schema}}.activity_completed_event(t, p_results->(i - 1), p_identity));
            v_run := t.run_id;
            v_replies := v_replies || jsonb_build_array(jsonb_build_object('status', 'ok'));
            v_last := i - 1;
        END IF;
    END LOOP;
    IF v_run IS NULL THEN
        RETURN v_replies;
    END IF;
    -- One delivery for all of them: one append of the run's history (or one inbox
    -- entry while its workflow task is in flight) and at most one task scheduled,
    -- where one delivery each appended and updated the run's row every time.
    PERFORM {{schema}}.deliver(v_run, v_events,
        NOT (p_lease_next AND EXISTS (SELECT 1 FROM {{schema}}.executions
                                       WHERE run_id = v_run AND sticky_worker = p_worker)));
    IF p_lease_next THEN
        v_replies := jsonb_set(v_replies, ARRAY[v_last::text],
            (v_replies->v_last) || jsonb_build_object(
                'next', {{schema}}.lease_sticky_task(v_run, p_worker)));
    END IF;
    RETURN v_replies;
END $$;
