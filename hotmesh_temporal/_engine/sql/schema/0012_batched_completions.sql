-- Several completed activities of one run reported together (activity_worker.py's
-- CompletionBatcher): one transaction instead of one per activity. A fan-out's
-- completions all lock the same run, so reported one by one they queue on that row
-- and pay a commit each; together they take the lock once and commit once, and the
-- workflow task they wake sees all of them. Only the last one may lease that task to
-- this worker (leasing it earlier would buffer the rest behind it).
CREATE FUNCTION {{schema}}.complete_activity_tasks(
    p_tasks bigint[], p_attempts int[], p_results jsonb, p_identity text, p_worker text,
    p_lease_next boolean)
RETURNS jsonb
LANGUAGE plpgsql AS $$
DECLARE
    v_replies jsonb := '[]'::jsonb;
    v_count int := cardinality(p_tasks);
BEGIN
    FOR i IN 1 .. v_count LOOP
        v_replies := v_replies || jsonb_build_array({{schema}}.complete_activity_task(
            p_tasks[i], p_attempts[i], p_results->(i - 1), p_identity, p_worker,
            p_lease_next AND i = v_count));
    END LOOP;
    RETURN v_replies;
END $$;
