-- Local activities run inside the workflow task that scheduled them. While they run,
-- the worker keeps the task's lease alive (Temporal's workflow task heartbeat), so the
-- sweeper does not hand the task to another worker, which would run them again.
-- Answers false when the lease is no longer this worker's.
CREATE FUNCTION {{schema}}.extend_workflow_task_lease(p_run uuid, p_lease bigint)
RETURNS boolean
LANGUAGE sql AS $$
    WITH extended AS (
        UPDATE {{schema}}.workflow_tasks t
           SET deadline = {{schema}}.now() + e.task_timeout * interval '1 second'
          FROM {{schema}}.executions e
         WHERE t.run_id = p_run AND t.lease_id = p_lease AND e.run_id = p_run
        RETURNING t.run_id)
    SELECT EXISTS (SELECT 1 FROM extended)
$$;
