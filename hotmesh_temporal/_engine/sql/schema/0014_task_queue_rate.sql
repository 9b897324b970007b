-- Worker(max_task_queue_activities_per_second=...): a rate for a whole activity task
-- queue, shared by every worker that claims from it, as a Temporal server's matching
-- service enforces it. One token bucket row per (namespace, task queue), refilled
-- continuously at `rate` per second up to a burst of one second's worth (at least one
-- task), read and updated under its row lock inside claim_activity_tasks, so workers
-- in any number of processes never start more than the rate allows together.
--
-- As on Temporal, the rate is the one the latest poller that set it sent, and it stays
-- with the queue: workers of the queue that do not set it are limited too.
CREATE TABLE {{schema}}.task_queue_rates (
    namespace text NOT NULL,
    task_queue text NOT NULL,
    rate double precision NOT NULL CHECK (rate > 0),
    tokens double precision NOT NULL,
    refilled_at timestamptz NOT NULL,
    PRIMARY KEY (namespace, task_queue)
);

-- Take up to p_wanted tokens from the queue's bucket (locking it until the claim's
-- transaction ends); how many were granted. p_wanted itself when the queue has none.
CREATE FUNCTION {{schema}}.take_task_queue_tokens(p_namespace text, p_queue text, p_wanted int)
RETURNS int
LANGUAGE plpgsql AS $$
DECLARE
    b {{schema}}.task_queue_rates;
    v_now timestamptz := {{schema}}.now();
    v_granted int;
BEGIN
    SELECT * INTO b FROM {{schema}}.task_queue_rates
     WHERE namespace = p_namespace AND task_queue = p_queue FOR UPDATE;
    IF NOT FOUND THEN
        RETURN p_wanted;
    END IF;
    b.tokens := least(greatest(1, b.rate),
                      b.tokens + greatest(0, extract(epoch FROM v_now - b.refilled_at)) * b.rate);
    v_granted := least(p_wanted, floor(b.tokens)::int);
    UPDATE {{schema}}.task_queue_rates
       SET tokens = b.tokens - v_granted, refilled_at = v_now
     WHERE namespace = p_namespace AND task_queue = p_queue;
    RETURN v_granted;
END $$;

-- Give back tokens granted for tasks the claim did not find.
CREATE FUNCTION {{schema}}.return_task_queue_tokens(p_namespace text, p_queue text, p_unused int)
RETURNS void
LANGUAGE sql AS $$
    UPDATE {{schema}}.task_queue_rates SET tokens = tokens + p_unused
     WHERE namespace = p_namespace AND task_queue = p_queue AND p_unused > 0
$$;

-- The claim of a worker that sets the queue's rate: record the rate, claim, and, when
-- the bucket is empty afterwards, one extra row (task NULL) saying how many seconds
-- until the next token, so the worker knows when to claim again without a wake-up.
CREATE FUNCTION {{schema}}.claim_activity_tasks_at_rate(
    p_namespace text, p_queue text, p_worker text, p_limit int, p_rate double precision)
RETURNS TABLE (task {{schema}}.activity_tasks, token_wait double precision)
LANGUAGE plpgsql AS $$
DECLARE
    t {{schema}}.activity_tasks;
    b {{schema}}.task_queue_rates;
BEGIN
    INSERT INTO {{schema}}.task_queue_rates AS r (namespace, task_queue, rate, tokens, refilled_at)
    VALUES (p_namespace, p_queue, p_rate, greatest(1, p_rate), {{schema}}.now())
    ON CONFLICT (namespace, task_queue) DO UPDATE SET rate = EXCLUDED.rate
     WHERE r.rate IS DISTINCT FROM EXCLUDED.rate;
    FOR t IN SELECT * FROM {{schema}}.claim_activity_tasks(p_namespace, p_queue, p_worker, p_limit) LOOP
        task := t;
        token_wait := NULL;
        RETURN NEXT;
    END LOOP;
    SELECT * INTO b FROM {{schema}}.task_queue_rates
     WHERE namespace = p_namespace AND task_queue = p_queue;
    IF b.tokens < 1 THEN
        task := NULL;
        token_wait := (1 - b.tokens) / b.rate;
        RETURN NEXT;
    END IF;
END $$;
