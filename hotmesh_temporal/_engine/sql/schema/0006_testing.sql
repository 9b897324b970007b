-- Time skipping for the test environment (hotmesh_temporal.testing).
--
-- The clock table's offset moves {{schema}}.now() for the whole schema. skip_time()
-- moves it to the next deadline when nothing can make progress at the current time:
-- no workflow task or activity task is in flight, and none is ready on a task queue
-- that a live worker serves. Work waiting on a queue that nobody polls cannot
-- progress anyway, so it does not hold the clock. A workflow task waiting to be
-- retried after a failure holds it too: skipping its backoff would let a buggy
-- workflow race the clock forward (its timers would fire).
--
-- The live workers are those of the calling process (p_queues) and those of any other
-- process on the schema: a worker in any process of a time-skipping environment holds
-- the clock for the work ready on the queues it polls. Workers announce their queues
-- in polled_queues, only in a schema whose clock skips (clock.skipping, set by the
-- environment), and refresh the announcement while they run; one not refreshed for a
-- while (its process died) no longer counts.

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

-- Whether anything in flight or ready on a live worker's queue holds the clock.
CREATE FUNCTION {{schema}}.time_is_locked(p_namespaces text[], p_queues text[]) RETURNS boolean
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

-- Advance the clock to the next deadline (never past p_until, when given; with no
-- deadline at all, to p_until), fire what is then due and wake the sweepers.
-- Returns the new now(), or NULL when time is locked or there is nothing to skip to.
CREATE FUNCTION {{schema}}.skip_time(p_namespaces text[], p_queues text[], p_until timestamptz)
RETURNS timestamptz
LANGUAGE plpgsql AS $$
DECLARE
    v_now timestamptz := {{schema}}.now();
    v_target timestamptz;
BEGIN
    -- One skipper at a time per schema; a concurrent caller simply reports no skip.
    IF NOT pg_try_advisory_xact_lock(hashtext('{{schema}}' || '.skip_time')) THEN
        RETURN NULL;
    END IF;
    IF {{schema}}.time_is_locked(p_namespaces, p_queues) THEN
        RETURN NULL;
    END IF;
    -- sweep(0) fires nothing and reports the next deadline of every kind (timers,
    -- task and run deadlines, and what the feature hooks add, such as schedules).
    SELECT s.next_deadline INTO v_target FROM {{schema}}.sweep(0) s;
    v_target := least(v_target, p_until);
    IF v_target IS NULL THEN
        RETURN NULL;
    END IF;
    IF v_target > v_now THEN
        UPDATE {{schema}}.clock
           SET offset_us = offset_us + ceil(extract(epoch FROM v_target - v_now) * 1000000)::bigint;
    END IF;
    PERFORM {{schema}}.sweep(200);
    PERFORM {{schema}}.notify('t|clock');
    RETURN {{schema}}.now();
END $$;
