-- Async activity completion: an activity that called raise_complete_async() keeps its
-- leased attempt; a client later completes, fails, heartbeats or cancels it by task
-- token (task id and attempt) or by workflow id, run id and activity id.

-- The running attempt of an activity named by ids: {"task": id, "attempt": n}, or NULL
-- when the run has no such activity running (finished, timed out, or never scheduled).
-- A NULL p_run means the workflow id's current run.
CREATE FUNCTION {{schema}}.activity_attempt_by_ids(
    p_namespace text, p_workflow_id text, p_run uuid, p_activity_id text)
RETURNS jsonb
LANGUAGE sql STABLE AS $$
    SELECT jsonb_build_object('task', t.id, 'attempt', t.attempt)
      FROM {{schema}}.activity_tasks t
     WHERE t.run_id = coalesce(p_run, (
               SELECT run_id FROM {{schema}}.executions
                WHERE namespace = p_namespace AND workflow_id = p_workflow_id
                ORDER BY start_time DESC LIMIT 1))
       AND t.namespace = p_namespace AND t.workflow_id = p_workflow_id
       AND t.activity_id = p_activity_id AND t.leased_by IS NOT NULL
$$;
