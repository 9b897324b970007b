-- Event times (issue 13): a run's event times never go backwards, and an event that
-- waited in the inbox keeps the time it arrived (inbox.arrived_at, stamped by
-- flush_inbox).

-- The time of one event of a run (NULL if it has none), now naming the run's history
-- partition (0013). Called from lease_workflow_task (a task's time is never before
-- the run's last event), complete_activity_run_ahead (a prediction older than the
-- run's last event is refused), apply_completion (the worker learns its last event's
-- time) and insert_events below.
CREATE OR REPLACE FUNCTION {{schema}}.event_time(p_run uuid, p_event_id bigint) RETURNS timestamptz
LANGUAGE sql STABLE AS $$
    SELECT h.event_time FROM {{schema}}.history_events h
     WHERE h.run_id = p_run AND h.event_id = p_event_id
       AND h.run_started = (SELECT start_time FROM {{schema}}.executions WHERE run_id = p_run)
$$;

-- 0013's insert_events, with times that never go backwards: an event is never stamped
-- earlier than an event before it, in this batch or in history. A WorkflowTaskStarted
-- keeps the time it brings: it is what workflow.now() read when the task ran, and
-- reads again on replay (lease_workflow_task keeps it after the run's last event).
CREATE OR REPLACE FUNCTION {{schema}}.insert_events(p_run uuid, p_first bigint, p_events jsonb) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    v_started timestamptz := (SELECT start_time FROM {{schema}}.executions WHERE run_id = p_run);
    v_floor timestamptz := {{schema}}.event_time(p_run, p_first - 1);
BEGIN
    INSERT INTO {{schema}}.history_events
        (run_id, event_id, event_type, event_time, attributes, user_metadata, run_started)
    SELECT p_run, p_first + x.ord - 1, x.ev->>'type',
           CASE WHEN x.ev->>'type' = 'WorkflowTaskStarted' AND x.ev ? 'time'
                THEN (x.ev->>'time')::timestamptz
                ELSE greatest(max(coalesce((x.ev->>'time')::timestamptz, {{schema}}.now()))
                                  OVER (ORDER BY x.ord),
                              v_floor) END,
           CASE WHEN x.ev->'attrs'->>'startedEventId' = '$prev'
                THEN jsonb_set(x.ev->'attrs', '{startedEventId}', to_jsonb((p_first + x.ord - 2)::text))
                ELSE x.ev->'attrs' END,
           x.ev->'user_metadata',
           v_started
      FROM jsonb_array_elements(p_events) WITH ORDINALITY AS x(ev, ord);
END $$;
