-- Activity timeouts report what a Temporal server reports:
-- * when no retry fits before the ScheduleToClose timeout, a workflow's activity ends as timed
--   out (ActivityTaskTimedOut, a SCHEDULE_TO_CLOSE timeout "Not enough time to
--   schedule next retry ..." whose cause is the last attempt's failure), not as failed;
-- * a ScheduleToStart timeout carries retry state TIMEOUT (not NON_RETRYABLE_FAILURE).
-- fail_attempt and sweep_activity as in 0001_init.sql otherwise.

CREATE OR REPLACE FUNCTION {{schema}}.fail_attempt(
    t {{schema}}.activity_tasks, p_failure jsonb, p_error_type text, p_non_retryable boolean,
    p_next_retry_delay double precision, p_identity text, p_timeout_type text,
    p_worker text, p_lease_next boolean)
RETURNS jsonb
LANGUAGE plpgsql AS $$
DECLARE
    r record;
    v_now timestamptz := {{schema}}.now();
BEGIN
    SELECT * INTO r FROM {{schema}}.retry_delay(t, p_error_type, p_non_retryable, p_next_retry_delay);
    IF r.delay IS NOT NULL THEN
        t.attempt := t.attempt + 1;
        t.leased_by := NULL;
        t.started_time := NULL;
        t.visible_at := v_now + r.delay * interval '1 second';
        t.attempt_scheduled_time := t.visible_at;
        t.last_failure := p_failure;
        t.cancel_requested := false;
        t.deadline := {{schema}}.activity_deadline(t);
        UPDATE {{schema}}.activity_tasks
           SET attempt = t.attempt, leased_by = NULL, started_time = NULL,
               visible_at = t.visible_at, attempt_scheduled_time = t.attempt_scheduled_time,
               last_failure = t.last_failure, deadline = t.deadline, last_heartbeat = NULL
         WHERE id = t.id;
        IF r.delay > 0 THEN
            PERFORM {{schema}}.notify_deadline(t.visible_at);
        ELSE
            PERFORM {{schema}}.notify('a|' || t.namespace || '|' || t.task_queue);
        END IF;
        RETURN jsonb_build_object('status', 'retrying', 'delay', r.delay);
    END IF;
    IF p_timeout_type IS NULL AND r.retry_state = 'RETRY_STATE_TIMEOUT' AND t.workflow_id <> '' THEN
        -- No retry fits before the ScheduleToClose timeout: as on Temporal the activity
        -- times out (giving up retrying), with the attempt's failure as the cause. (A
        -- standalone activity, workflow_id '', keeps ending as failed.)
        RETURN jsonb_build_object('status', 'ok') || {{schema}}.finish_activity(t, p_identity,
            jsonb_build_object('type', 'ActivityTaskTimedOut', 'attrs', jsonb_build_object(
                'failure', {{schema}}.timeout_failure('TIMEOUT_TYPE_SCHEDULE_TO_CLOSE', NULL)
                           || jsonb_build_object(
                               'message', 'Not enough time to schedule next retry before '
                                          'activity ScheduleToClose timeout, giving up retrying',
                               'cause', p_failure),
                'scheduledEventId', t.scheduled_event_id::text,
                'startedEventId', '$prev', 'retryState', r.retry_state)),
            p_worker, p_lease_next);
    END IF;
    IF p_timeout_type IS NOT NULL THEN
        -- As a Temporal server does, the previous attempt's failure is the timeout's cause.
        RETURN jsonb_build_object('status', 'ok') || {{schema}}.finish_activity(t, p_identity,
            jsonb_build_object('type', 'ActivityTaskTimedOut', 'attrs', jsonb_build_object(
                'failure', p_failure || jsonb_strip_nulls(jsonb_build_object('cause', t.last_failure)),
                'scheduledEventId', t.scheduled_event_id::text,
                'startedEventId', '$prev', 'retryState', r.retry_state)),
            p_worker, p_lease_next);
    END IF;
    RETURN jsonb_build_object('status', 'ok') || {{schema}}.finish_activity(t, p_identity,
        jsonb_build_object('type', 'ActivityTaskFailed', 'attrs', jsonb_build_object(
            'failure', p_failure, 'scheduledEventId', t.scheduled_event_id::text,
            'startedEventId', '$prev', 'identity', p_identity, 'retryState', r.retry_state)),
        p_worker, p_lease_next);
END $$;

CREATE OR REPLACE FUNCTION {{schema}}.sweep_activity(t {{schema}}.activity_tasks) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    v_now timestamptz := {{schema}}.now();
    v_type text;
    v_final jsonb;
BEGIN
    IF t.schedule_to_close IS NOT NULL
       AND t.scheduled_time + t.schedule_to_close * interval '1 second' <= v_now THEN
        v_final := jsonb_build_object('type', 'ActivityTaskTimedOut', 'attrs', jsonb_build_object(
            'failure', {{schema}}.timeout_failure('TIMEOUT_TYPE_SCHEDULE_TO_CLOSE', t.heartbeat_details)
                       || jsonb_strip_nulls(jsonb_build_object('cause', t.last_failure)),
            'scheduledEventId', t.scheduled_event_id::text,
            'startedEventId', '$prev', 'retryState', 'RETRY_STATE_TIMEOUT'));
        PERFORM {{schema}}.finish_activity(t, coalesce(t.leased_by, ''), v_final, NULL, false);
        RETURN;
    END IF;
    IF t.leased_by IS NULL THEN
        IF t.schedule_to_start IS NOT NULL
           AND t.attempt_scheduled_time + t.schedule_to_start * interval '1 second' <= v_now THEN
            DELETE FROM {{schema}}.activity_tasks WHERE id = t.id;
            PERFORM {{schema}}.deliver(t.run_id, jsonb_build_array(jsonb_build_object(
                'type', 'ActivityTaskTimedOut', 'attrs', jsonb_build_object(
                    'failure', {{schema}}.timeout_failure('TIMEOUT_TYPE_SCHEDULE_TO_START', NULL)
                               || jsonb_strip_nulls(jsonb_build_object('cause', t.last_failure)),
                    'scheduledEventId', t.scheduled_event_id::text,
                    'startedEventId', '0', 'retryState', 'RETRY_STATE_TIMEOUT'))));
            RETURN;
        END IF;
        -- The backoff is over: the task is claimable now.
        UPDATE {{schema}}.activity_tasks SET deadline = {{schema}}.activity_deadline(t) WHERE id = t.id;
        PERFORM {{schema}}.notify('a|' || t.namespace || '|' || t.task_queue);
        RETURN;
    END IF;
    IF t.start_to_close IS NOT NULL
       AND t.started_time + t.start_to_close * interval '1 second' <= v_now THEN
        v_type := 'TIMEOUT_TYPE_START_TO_CLOSE';
    ELSE
        v_type := 'TIMEOUT_TYPE_HEARTBEAT';
    END IF;
    -- A retry policy names a timeout as non-retryable as Temporal does: "TemporalTimeout:<type>".
    PERFORM {{schema}}.fail_attempt(t, {{schema}}.timeout_failure(v_type, t.heartbeat_details),
                                    'TemporalTimeout:' || v_type, false, NULL, t.leased_by, v_type,
                                    NULL, false);
END $$;
