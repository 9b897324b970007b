-- Time skipping across processes (0006): a worker in any process of a time-skipping
-- environment holds the clock for the work ready on the queues it polls, as workers of
-- the environment's own process do. Workers announce their queues here, only in a
-- schema whose clock skips (clock.skipping, set by the environment), and refresh the
-- announcement while they run; one not refreshed for a while (its process died) no
-- longer counts.
ALTER TABLE {{schema}}.clock ADD COLUMN skipping boolean NOT NULL DEFAULT false;

CREATE TABLE {{schema}}.polled_queues (
    poller text NOT NULL,
    namespace text NOT NULL,
    task_queue text NOT NULL,
    seen_at timestamptz NOT NULL DEFAULT now(),  -- real time: liveness, not durable time
    PRIMARY KEY (poller, namespace, task_queue)
);

-- Announce (or refresh) a poller's queue; false when the schema's clock does not skip
-- (nothing to announce, and the worker need not refresh).
CREATE FUNCTION {{schema}}.announce_polled_queue(p_poller text, p_namespace text, p_queue text)
RETURNS boolean
LANGUAGE plpgsql AS $$
BEGIN
    IF NOT (SELECT skipping FROM {{schema}}.clock) THEN
        RETURN false;
    END IF;
    INSERT INTO {{schema}}.polled_queues (poller, namespace, task_queue)
    VALUES (p_poller, p_namespace, p_queue)
    ON CONFLICT (poller, namespace, task_queue) DO UPDATE SET seen_at = now();
    RETURN true;
END $$;

-- The queues live pollers of every process announced, with the caller's own.
CREATE FUNCTION {{schema}}.time_skipping_queues(p_namespaces text[], p_queues text[])
RETURNS TABLE (namespace text, task_queue text)
LANGUAGE sql STABLE AS $$
    SELECT * FROM unnest(p_namespaces, p_queues)
    UNION
    SELECT q.namespace, q.task_queue FROM {{schema}}.polled_queues q
     WHERE q.seen_at > now() - interval '30 seconds'
$$;

CREATE OR REPLACE FUNCTION {{schema}}.time_is_locked(p_namespaces text[], p_queues text[]) RETURNS boolean
LANGUAGE sql STABLE AS $$
    SELECT EXISTS (
        SELECT 1 FROM {{schema}}.workflow_tasks t
         WHERE t.leased_by IS NOT NULL
            OR ((t.visible_at <= {{schema}}.now() OR t.attempt > 1)
                AND (t.namespace, t.task_queue) IN (
                    SELECT * FROM {{schema}}.time_skipping_queues(p_namespaces, p_queues))))
        OR EXISTS (
        SELECT 1 FROM {{schema}}.activity_tasks t
         WHERE t.leased_by IS NOT NULL
            OR (t.visible_at <= {{schema}}.now()
                AND (t.namespace, t.task_queue) IN (
                    SELECT * FROM {{schema}}.time_skipping_queues(p_namespaces, p_queues))))
$$;
