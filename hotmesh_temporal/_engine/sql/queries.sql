-- Every statement the Python side sends, by name. `{schema}` is the quoted schema name.
-- The transitions themselves are SQL functions (schema/*.sql), so each is one round trip.

-- name: start_workflow
SELECT {schema}.start_workflow($1::jsonb);

-- Client calls sent again after a lost connection are applied once per request id
-- (schema/0015_request_ids.sql).

-- name: signal_with_start
SELECT {schema}.signal_with_start_once($1, $2::jsonb);

-- name: signal_workflow_once
SELECT {schema}.signal_workflow_once($1, $2, $3, $4, $5::jsonb);

-- name: request_cancel_workflow_once
SELECT {schema}.request_cancel_workflow_once($1, $2, $3, $4, $5, $6);

-- name: terminate_workflow_once
SELECT {schema}.terminate_workflow_once($1, $2, $3, $4, $5, $6::jsonb);

-- name: claim_workflow_tasks
SELECT * FROM {schema}.claim_workflow_tasks($1, $2, $3, $4);

-- name: complete_workflow_task
SELECT {schema}.complete_workflow_task($1, $2, $3, $4::jsonb, $5);

-- name: release_workflow_task
SELECT {schema}.release_workflow_task($1, $2, $3);

-- name: fail_workflow_task
SELECT {schema}.fail_workflow_task($1, $2, $3, $4, $5, $6, $7::jsonb);

-- name: events_after
SELECT {schema}.events_after($1, $2);

-- name: events_page
-- At most $3 events after $2, in events_after's form: one page of a long history
-- without reading the rest of it (fetch_history_events with a page_size). Like
-- events_after, it names the run's partition (run_started) so only that one is read.
SELECT coalesce(jsonb_agg(jsonb_build_object(
           'id', event_id, 'type', event_type, 'time', event_time, 'attrs', attributes)
           ORDER BY event_id), '[]'::jsonb)
  FROM (SELECT event_id, event_type, event_time, attributes
          FROM {schema}.history_events
         WHERE run_id = $1 AND event_id > $2
           AND run_started = (SELECT start_time FROM {schema}.executions WHERE run_id = $1)
         ORDER BY event_id LIMIT $3) AS page;

-- Local activities (history feature) ----------------------------------------------

-- name: extend_workflow_task_lease
SELECT {schema}.extend_workflow_task_lease($1, $2);

-- name: claim_activity_tasks
SELECT * FROM {schema}.claim_activity_tasks($1, $2, $3, $4);

-- name: claim_activity_tasks_of_queues
SELECT * FROM {schema}.claim_activity_tasks_of_queues($1, $2::text[], $3, $4);

-- name: complete_activity_task
SELECT {schema}.complete_activity_task($1, $2, $3::jsonb, $4, $5, $6);

-- name: complete_activity_tasks
SELECT {schema}.complete_activity_tasks($1::bigint[], $2::int[], $3::jsonb, $4, $5, $6);

-- name: complete_activity_run_ahead
SELECT {schema}.complete_activity_run_ahead($1, $2, $3::jsonb, $4, $5, $6, $7::jsonb);

-- name: fail_activity_task
SELECT {schema}.fail_activity_task($1, $2, $3::jsonb, $4, $5, $6, $7, $8, $9);

-- name: cancel_activity_task
SELECT {schema}.cancel_activity_task($1, $2, $3::jsonb, $4, $5, $6);

-- name: heartbeat_activity_task
SELECT {schema}.heartbeat_activity_task($1, $2, $3::jsonb);

-- Async activity completion ------------------------------------------------------

-- name: activity_attempt_by_ids
SELECT {schema}.activity_attempt_by_ids($1, $2, $3, $4);

-- Standalone activities ---------------------------------------------------------

-- name: start_standalone_activity
SELECT {schema}.start_standalone_activity($1::jsonb);

-- name: cancel_standalone_activity
SELECT {schema}.cancel_standalone_activity($1, $2, $3, $4, $5);

-- name: terminate_standalone_activity
SELECT {schema}.terminate_standalone_activity($1, $2, $3, $4, $5);

-- name: pause_standalone_activity
SELECT {schema}.pause_standalone_activity($1, $2, $3, $4, $5);

-- name: update_standalone_activity_options
SELECT {schema}.update_standalone_activity_options($1, $2, $3, $4::jsonb, $5);

-- name: describe_standalone_activity
SELECT {schema}.describe_standalone_activity($1, $2, $3);

-- name: standalone_activity_outcome
SELECT run_id, status, result, failure
  FROM {schema}.find_standalone_activity($1, $2, $3) WHERE run_id IS NOT NULL;

-- The latest run of an activity id (async completion by id addresses it).
-- name: standalone_activity_run
SELECT run_id FROM {schema}.find_standalone_activity($1, $2, NULL);

-- {where}, {after}, {order} and {sort} as for list_workflows below.
-- name: list_standalone_activities
SELECT run_id, namespace, activity_id, activity_type, task_queue, status, start_time,
       execution_time, close_time, search_attributes, {sort}
  FROM {schema}.standalone_activities
 WHERE namespace = $1 AND ({where}) AND {after}
 ORDER BY {order}
 LIMIT $2;

-- name: count_standalone_activities
SELECT count(*) FROM {schema}.standalone_activities WHERE namespace = $1 AND ({where});

-- name: count_standalone_activities_by_status
SELECT status, count(*) FROM {schema}.standalone_activities
 WHERE namespace = $1 AND ({where}) GROUP BY status ORDER BY status;

-- now: the sweep's own time (its transaction's start); clock: the time when it ended,
-- read after sweep() returned (the sweeper measures its clock offset with it).
-- name: sweep
SELECT fired, next_deadline, {schema}.now() AS now,
       {schema}.now() + (clock_timestamp() - now()) AS clock
  FROM {schema}.sweep($1);

-- ---- testing: the time-skipping clock (hotmesh_temporal.testing)

-- name: skip_time
SELECT {schema}.skip_time($1::text[], $2::text[], $3);

-- Whether something is due at the current (virtual) time and not yet done, such as
-- a schedule that a worker's sweeper has still to fire.
-- name: work_is_due
SELECT coalesce((SELECT next_deadline FROM {schema}.sweep(0)) <= {schema}.now(), false);

-- ---- end testing

-- ------------------------------------------------------------ visibility
-- {where} and {order} are filled by list_filter.compile_filter: whitelisted column
-- expressions and $n placeholders only ($1 is always the namespace).

-- {after} is the keyset condition of the page (rows after the last one seen), and
-- {sort} selects the ORDER BY values that the next page's token is made of.
-- name: list_workflows
SELECT run_id, namespace, workflow_id, first_execution_run_id, workflow_type, task_queue,
       status, start_time, execution_time, close_time, next_event_id, history_size,
       parent, memo, search_attributes, {sort}
  FROM {schema}.executions
 WHERE namespace = $1 AND ({where}) AND {after}
 ORDER BY {order}
 LIMIT $2;

-- name: count_workflows
SELECT count(*) FROM {schema}.executions WHERE namespace = $1 AND ({where});

-- name: count_workflows_by_status
SELECT status, count(*) FROM {schema}.executions
 WHERE namespace = $1 AND ({where}) GROUP BY status ORDER BY status;

-- name: pending_activities
SELECT * FROM {schema}.activity_tasks WHERE run_id = $1 ORDER BY scheduled_event_id;

-- name: terminate_workflow
SELECT {schema}.terminate_workflow($1, $2, $3, $4, $5::jsonb);

-- name: request_cancel_workflow
SELECT {schema}.request_cancel_workflow($1, $2, $3, $4, $5);

-- name: find_run
SELECT * FROM {schema}.find_run($1, $2, $3);

-- name: run_outcome
SELECT run_id, status, result, failure, new_run_id, workflow_id
  FROM {schema}.executions WHERE run_id = $1;

-- The user metadata (sdk.v1.UserMetadata JSON) of a run's events after a given id, as
-- {event id: metadata}: the start's static summary / details (kept on the run's row,
-- shown on WorkflowExecutionStarted) and the summaries commands left on their events.
-- name: events_user_metadata
SELECT coalesce(jsonb_object_agg(m.event_id, m.user_metadata), '{}'::jsonb) FROM (
    SELECT 1::bigint AS event_id, user_metadata FROM {schema}.executions
     WHERE run_id = $1 AND $2::bigint < 1 AND user_metadata IS NOT NULL
    UNION ALL
    SELECT event_id, user_metadata FROM {schema}.history_events
     WHERE run_id = $1 AND event_id > $2 AND user_metadata IS NOT NULL
) m;

-- name: forget_worker
SELECT {schema}.forget_worker($1);

-- name: signal_workflow
SELECT {schema}.signal_workflow($1, $2, $3, $4::jsonb);

-- name: ask_query
SELECT {schema}.ask_query($1, $2, $3, $4, $5::jsonb);

-- name: claim_queries
SELECT * FROM {schema}.claim_queries($1, $2, $3, $4);

-- name: claim_queries_of_run
-- The queries waiting for a run whose task heartbeats while its local activities run
-- (workflow_worker.py): answered from the live run in the task after the heartbeat,
-- as Temporal hands buffered queries to the next workflow task.
UPDATE {schema}.queries SET claimed_by = $2
 WHERE run_id = $1 AND claimed_by IS NULL
RETURNING *;

-- name: answer_query
SELECT {schema}.answer_query($1, $2::jsonb);

-- name: take_answer
SELECT {schema}.take_answer($1);

-- name: cancel_query
DELETE FROM {schema}.queries WHERE id = $1;

-- ---------------------------------------------------------------- workflow updates

-- name: request_update
SELECT {schema}.request_update($1, $2, $3, $4::jsonb, $5);

-- name: start_workflow_with_update
SELECT {schema}.start_workflow_with_update($1::jsonb, $2::jsonb, $3);

-- name: find_update
SELECT {schema}.find_update($1, $2, $3, $4);

-- name: update_by_id
SELECT {schema}.update_reply(u) FROM {schema}.updates u WHERE u.id = $1;

-- ---------------------------------------------------------------- schedules

-- name: due_schedules
SELECT * FROM {schema}.due_schedules($1);

-- name: schedule_tick
SELECT {schema}.schedule_tick($1, $2, $3, $4, $5, $6::jsonb, $7);

-- name: due_run_timeouts
SELECT * FROM {schema}.due_run_timeouts($1);

-- name: run_timed_out
SELECT {schema}.run_timed_out($1, $2, $3::jsonb);

-- name: create_schedule
SELECT {schema}.create_schedule($1::jsonb);

-- name: update_schedule
SELECT {schema}.update_schedule($1::jsonb, $2);

-- name: set_schedule_paused
SELECT {schema}.set_schedule_paused($1, $2, $3, $4);

-- name: delete_schedule
SELECT {schema}.delete_schedule($1, $2);

-- name: describe_schedule
SELECT * FROM {schema}.describe_schedule($1, $2);

-- {where} is a list filter compiled with list_filter.SCHEDULES (placeholders from $4).
-- name: list_schedules
SELECT to_jsonb(s) - 'running' - 'workflow_type' - 'search_values' AS schedule
  FROM (SELECT x.*,
               x.action->'start'->'started_attributes'->'workflowType'->>'name' AS workflow_type,
               {schema}.search_attribute_values(x.search_attributes)
                   || jsonb_build_object('TemporalSchedulePaused', x.paused) AS search_values
          FROM {schema}.schedules x
         WHERE x.namespace = $1 AND x.schedule_id > $2) s
 WHERE ({where})
 ORDER BY schedule_id LIMIT $3;

-- name: run_row
SELECT * FROM {schema}.executions WHERE run_id = $1;

-- name: now
SELECT {schema}.now();

-- name: send_wakeups
-- Wake-ups that statements collected instead of sending (wakeups.py), sent after
-- their commit (already hashed by notify()).
SELECT pg_notify(k.channel, m) FROM {schema}.hint_key k, unnest($1::text[]) AS m;

-- name: deployment_settings
-- What a Store reads once at open (schema 0001): the secret wake-up hints are derived
-- from, their channel, and the deployment's limits.
SELECT k.secret, k.channel, to_jsonb(l) - 'singleton' AS limits
  FROM {schema}.hint_key k, {schema}.limits l;

-- Search-attribute registry (schema/0013) ------------------------------------------

-- name: register_search_attributes
SELECT {schema}.register_search_attributes($1, $2::jsonb);

-- name: registered_search_attributes
SELECT name, value_type FROM {schema}.search_attribute_registry
 WHERE namespace = $1 ORDER BY name;

-- name: remove_search_attributes
DELETE FROM {schema}.search_attribute_registry WHERE namespace = $1 AND name = ANY($2::text[]);

-- name: search_attribute_error
SELECT {schema}.search_attribute_error($1, $2::jsonb);

-- name: unregistered_filter_name
SELECT {schema}.unregistered_filter_name($1, $2::text[]);

-- Task-queue activity rate (schema/0014) -------------------------------------------

-- name: claim_activity_tasks_at_rate
SELECT (r.task).*, r.token_wait FROM {schema}.claim_activity_tasks_at_rate($1, $2, $3, $4, $5) r;

-- Time skipping across processes (schema/0006) --------------------------------------

-- name: start_skipping_time
UPDATE {schema}.clock SET skipping = true;

-- name: announce_polled_queue
SELECT {schema}.announce_polled_queue($1, $2, $3);

-- name: forget_polled_queue
DELETE FROM {schema}.polled_queues WHERE poller = $1 AND namespace = $2 AND task_queue = $3;

-- ---- retention (0010_retention.sql)

-- name: claim_purge_turn
SELECT {schema}.claim_purge_turn();

-- name: purge_expired_runs
SELECT {schema}.purge_expired_runs($1);

-- name: delete_runs
SELECT {schema}.delete_runs($1::uuid[]);

-- name: upsert_namespace
SELECT namespace, extract(epoch FROM retention)::float8 AS retention_seconds, description,
       owner_email, data, created_at, updated_at
  FROM {schema}.upsert_namespace($1, make_interval(secs => $2), $3, $4, $5);

-- name: describe_namespace
SELECT $1::text AS namespace,
       extract(epoch FROM {schema}.retention_of($1))::float8 AS retention_seconds,
       coalesce(n.description, '') AS description, coalesce(n.owner_email, '') AS owner_email,
       coalesce(n.data, '{}') AS data, n.created_at, n.updated_at
  FROM (SELECT 1) one LEFT JOIN {schema}.namespaces n ON n.namespace = $1;

-- name: list_namespaces
SELECT namespace, extract(epoch FROM retention)::float8 AS retention_seconds, description,
       owner_email, data, created_at, updated_at
  FROM {schema}.namespaces ORDER BY namespace;

-- name: set_retention_limits
UPDATE {schema}.retention_settings
   SET min_retention = coalesce(make_interval(secs => $1), min_retention),
       default_retention = coalesce(make_interval(secs => $2), default_retention),
       purge_every = coalesce(make_interval(secs => $3), purge_every),
       last_purge = '-infinity';

-- name: maintain_history_partitions
SELECT made, dropped FROM {schema}.maintain_history_partitions();
