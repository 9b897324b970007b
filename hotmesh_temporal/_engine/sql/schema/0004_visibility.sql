-- Visibility: memo and search-attribute upserts, and what list/count filters read.
--
-- executions.search_attributes keeps each attribute as its Temporal payload (what
-- describe() and list_workflows() hand back). Filters need the values themselves, so
-- the column `search_values` holds them decoded: {"Name": value, ...} with
-- Int/Double as JSON numbers, Bool as JSON booleans, Keyword/Text as strings,
-- KeywordList as an array of strings and Datetime as a UTC string of fixed width
-- (YYYY-MM-DDTHH:MI:SS.USZ, so that text order is time order). A GIN index serves the
-- equality filters, which the filter compiler writes as containment (`@>`).

-- The decoded value of one search-attribute payload, or NULL for a payload that is not
-- a JSON value (a value only a custom converter could read cannot be filtered on).
CREATE FUNCTION {{schema}}.search_attribute_value(p_payload jsonb) RETURNS jsonb
LANGUAGE plpgsql IMMUTABLE AS $$
DECLARE
    v_encoding text := convert_from(decode(p_payload->'metadata'->>'encoding', 'base64'), 'UTF8');
    v_type text := convert_from(decode(coalesce(p_payload->'metadata'->>'type', ''), 'base64'), 'UTF8');
    v_value jsonb;
BEGIN
    IF v_encoding IS DISTINCT FROM 'json/plain' THEN
        RETURN NULL;
    END IF;
    v_value := convert_from(decode(coalesce(p_payload->>'data', ''), 'base64'), 'UTF8')::jsonb;
    -- The deprecated untyped form sends single values as one-element lists.
    IF jsonb_typeof(v_value) = 'array' AND v_type <> 'KeywordList'
       AND jsonb_array_length(v_value) = 1 THEN
        v_value := v_value->0;
    END IF;
    IF v_type = 'Datetime' AND jsonb_typeof(v_value) = 'string' THEN
        v_value := to_jsonb(to_char((v_value#>>'{}')::timestamptz AT TIME ZONE 'UTC',
                                    'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'));
    END IF;
    RETURN v_value;
EXCEPTION WHEN others THEN
    -- A malformed payload must never stop a run from starting or upserting.
    RETURN NULL;
END $$;

CREATE FUNCTION {{schema}}.search_attribute_values(p_attributes jsonb) RETURNS jsonb
LANGUAGE sql IMMUTABLE AS $$
    SELECT coalesce(jsonb_object_agg(key, {{schema}}.search_attribute_value(value))
                        FILTER (WHERE {{schema}}.search_attribute_value(value) IS NOT NULL),
                    '{}'::jsonb)
      FROM jsonb_each(coalesce(p_attributes, '{}'::jsonb))
$$;

-- Not a generated column: Postgres recomputes those on every UPDATE of the row, and a
-- run's row is updated at every transition. The trigger fires only when search
-- attributes are written.
ALTER TABLE {{schema}}.executions ADD COLUMN search_values jsonb DEFAULT '{}'::jsonb;

CREATE FUNCTION {{schema}}.set_search_values() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    NEW.search_values := {{schema}}.search_attribute_values(NEW.search_attributes);
    RETURN NEW;
END $$;

CREATE TRIGGER executions_search_values_on_insert
    BEFORE INSERT ON {{schema}}.executions
    FOR EACH ROW WHEN (NEW.search_attributes IS NOT NULL)
    EXECUTE FUNCTION {{schema}}.set_search_values();
CREATE TRIGGER executions_search_values_on_update
    BEFORE UPDATE OF search_attributes ON {{schema}}.executions
    FOR EACH ROW EXECUTE FUNCTION {{schema}}.set_search_values();
UPDATE {{schema}}.executions
   SET search_values = {{schema}}.search_attribute_values(search_attributes)
 WHERE search_attributes IS NOT NULL;

CREATE INDEX executions_search_values
    ON {{schema}}.executions USING gin (search_values jsonb_path_ops);
CREATE INDEX executions_close_time
    ON {{schema}}.executions (namespace, close_time DESC) WHERE close_time IS NOT NULL;
CREATE INDEX executions_type ON {{schema}}.executions (namespace, workflow_type, start_time DESC);

-- True for a payload that removes an entry on upsert: Temporal's null payload
-- (value_unset(), or a memo value of None) and the deprecated form's empty list.
CREATE FUNCTION {{schema}}.is_unset_payload(p_payload jsonb) RETURNS boolean
LANGUAGE sql IMMUTABLE AS $$
    SELECT p_payload IS NULL OR p_payload = 'null'::jsonb
        OR convert_from(decode(coalesce(p_payload->'metadata'->>'encoding', ''), 'base64'), 'UTF8')
           = 'binary/null'
        OR (convert_from(decode(coalesce(p_payload->'metadata'->>'encoding', ''), 'base64'), 'UTF8')
            = 'json/plain'
            AND convert_from(decode(coalesce(p_payload->>'data', ''), 'base64'), 'UTF8')
                IN ('[]', 'null'))
$$;

-- Upsert a payload map ({name: payload}) into another; unset payloads remove entries.
-- NULL when nothing is left, as for a run started without any.
CREATE FUNCTION {{schema}}.merge_payload_map(p_current jsonb, p_changes jsonb) RETURNS jsonb
LANGUAGE sql IMMUTABLE AS $$
    SELECT jsonb_object_agg(key, value) FILTER (WHERE NOT {{schema}}.is_unset_payload(value))
      FROM jsonb_each(coalesce(p_current, '{}'::jsonb) || coalesce(p_changes, '{}'::jsonb))
$$;

-- Hook of complete_workflow_task: the task's UpsertWorkflowSearchAttributes and
-- WorkflowPropertiesModified commands, merged in command order by the worker into
-- p_completion->'visibility' = {search_attributes: {...}, memo: {...}}.
CREATE FUNCTION {{schema}}.apply_visibility_commands(
    e {{schema}}.executions, p_completion jsonb, p_worker text) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    v_changes jsonb := p_completion->'visibility';
BEGIN
    IF v_changes IS NULL THEN
        RETURN;
    END IF;
    UPDATE {{schema}}.executions
       SET search_attributes = CASE WHEN v_changes ? 'search_attributes'
               THEN {{schema}}.merge_payload_map(search_attributes, v_changes->'search_attributes')
               ELSE search_attributes END,
           memo = CASE WHEN v_changes ? 'memo'
               THEN {{schema}}.merge_payload_map(memo, v_changes->'memo')
               ELSE memo END
     WHERE run_id = e.run_id;
END $$;

-- Protobuf sizes of JSON payloads, as Temporal's memo limit counts them: a
-- length-delimited field's bytes, a base64 text's decoded length, a Payload and a
-- Memo ({name: payload}) encoded.
CREATE FUNCTION {{schema}}.pb_field_size(n bigint) RETURNS bigint
LANGUAGE sql IMMUTABLE AS $$
    SELECT 1 + CASE WHEN n < 128 THEN 1 WHEN n < 16384 THEN 2 WHEN n < 2097152 THEN 3
                    WHEN n < 268435456 THEN 4 ELSE 5 END + n
$$;

CREATE FUNCTION {{schema}}.b64_size(p_text text) RETURNS bigint
LANGUAGE sql IMMUTABLE AS $$
    SELECT coalesce(length(p_text) * 3 / 4 - (length(p_text) - length(rtrim(p_text, '='))), 0)
$$;

CREATE FUNCTION {{schema}}.payload_size(p_payload jsonb) RETURNS bigint
LANGUAGE sql IMMUTABLE AS $$
    SELECT coalesce((SELECT sum({{schema}}.pb_field_size(
                         {{schema}}.pb_field_size(octet_length(key))
                         + {{schema}}.pb_field_size({{schema}}.b64_size(value))))
                       FROM jsonb_each_text(p_payload->'metadata')), 0)
         + CASE WHEN {{schema}}.b64_size(p_payload->>'data') > 0
                THEN {{schema}}.pb_field_size({{schema}}.b64_size(p_payload->>'data')) ELSE 0 END
$$;

CREATE FUNCTION {{schema}}.memo_size(p_memo jsonb) RETURNS bigint
LANGUAGE sql IMMUTABLE AS $$
    SELECT coalesce(sum({{schema}}.pb_field_size(
               {{schema}}.pb_field_size(octet_length(key))
               + {{schema}}.pb_field_size({{schema}}.payload_size(value)))), 0)
      FROM jsonb_each(coalesce(p_memo, '{}'::jsonb))
$$;

-- Hook of complete_workflow_task (before anything of the task is kept): when the memo
-- its upserts leave (merged with the run's) is over memo_size_error, do what the
-- Temporal server does (checked 2026-12-06 on a dev server): WorkflowTaskFailed with
-- cause BAD_MODIFY_WORKFLOW_PROPERTIES_ATTRIBUTES, then the run terminated with the
-- same text by 'history-service'. True when it did; the caller holds the run's lock.
CREATE FUNCTION {{schema}}.refuse_oversized_memo(
    e {{schema}}.executions, p_lease bigint, p_completion jsonb) RETURNS boolean
LANGUAGE plpgsql AS $$
DECLARE
    v_message text := 'BadModifyWorkflowPropertiesAttributes: '
                      'ModifyWorkflowPropertiesCommandAttributes. Memo exceeds size limit.';
    v_started jsonb := p_completion->'events'->0;
    v_scheduled bigint;
BEGIN
    IF {{schema}}.memo_size({{schema}}.merge_payload_map(e.memo, p_completion->'visibility'->'memo'))
       <= (SELECT memo_size_error FROM {{schema}}.limits) THEN
        RETURN false;
    END IF;
    DELETE FROM {{schema}}.workflow_tasks WHERE run_id = e.run_id AND lease_id = p_lease
    RETURNING scheduled_event_id INTO v_scheduled;
    IF NOT FOUND THEN
        RETURN false;  -- not this lease's any more: the usual path says stale
    END IF;
    IF v_started->>'type' = 'WorkflowTaskStarted' THEN
        PERFORM {{schema}}.append_events(e.run_id, jsonb_build_array(v_started,
            jsonb_build_object('type', 'WorkflowTaskFailed', 'attrs', jsonb_build_object(
                'scheduledEventId', v_scheduled::text, 'startedEventId', '$prev',
                'cause', 'WORKFLOW_TASK_FAILED_CAUSE_BAD_MODIFY_WORKFLOW_PROPERTIES_ATTRIBUTES',
                'failure', jsonb_build_object('message', v_message, 'serverFailureInfo', '{}'::jsonb),
                'identity', coalesce(v_started->'attrs'->>'identity', '')))));
    END IF;
    PERFORM {{schema}}.terminate_run(e, v_message, NULL, 'history-service');
    RETURN true;
END $$;
