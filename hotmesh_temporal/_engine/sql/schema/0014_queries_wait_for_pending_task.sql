-- A query waits while its run has a workflow task ready or in flight, as on Temporal:
-- a query sent right after a signal is answered once the task delivering the signal
-- has completed, so it sees the signal's effect. A task that is failing (attempt > 1)
-- or not yet due (a delayed start, a cron backoff) does not hold queries back: they
-- are answered from the last completed task's state.
CREATE OR REPLACE FUNCTION {{schema}}.claim_queries(p_namespace text, p_queue text, p_worker text, p_limit int)
RETURNS SETOF {{schema}}.queries
LANGUAGE sql AS $$
    UPDATE {{schema}}.queries q SET claimed_by = p_worker
     WHERE id IN (SELECT id FROM {{schema}}.queries x
                   WHERE namespace = p_namespace AND task_queue = p_queue AND claimed_by IS NULL
                     AND NOT EXISTS (
                         SELECT 1 FROM {{schema}}.workflow_tasks t
                          WHERE t.run_id = x.run_id AND t.attempt = 1
                            AND t.visible_at <= {{schema}}.now())
                   ORDER BY created_at LIMIT p_limit FOR UPDATE SKIP LOCKED)
    RETURNING q.*
$$;
