-- Registered custom search attributes, per namespace, as a Temporal server keeps them
-- (OperatorService add/list/remove). A namespace with none registered accepts any
-- custom attribute (nothing to register before a first workflow, as before). Once a
-- namespace registers any, it behaves as Temporal: a start, upsert, child start,
-- continue-as-new, schedule or list filter naming an unregistered attribute, or giving
-- a registered one a value its type cannot hold, is refused.
CREATE TABLE {{schema}}.search_attribute_registry (
    namespace text NOT NULL,
    name text NOT NULL,
    -- Temporal's type name as payload metadata carries it: Text, Keyword, Int, Double,
    -- Bool, Datetime, KeywordList.
    value_type text NOT NULL CHECK (value_type IN
        ('Text', 'Keyword', 'Int', 'Double', 'Bool', 'Datetime', 'KeywordList')),
    registered_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (namespace, name)
);

-- True when p_value (a decoded search-attribute value) fits p_type.
CREATE FUNCTION {{schema}}.search_attribute_value_fits(p_type text, p_value jsonb) RETURNS boolean
LANGUAGE plpgsql IMMUTABLE AS $$
BEGIN
    IF p_value IS NULL THEN
        RETURN false;
    END IF;
    CASE p_type
    WHEN 'Int' THEN
        RETURN jsonb_typeof(p_value) = 'number' AND (p_value#>>'{}')::numeric % 1 = 0;
    WHEN 'Double' THEN
        RETURN jsonb_typeof(p_value) = 'number';
    WHEN 'Bool' THEN
        RETURN jsonb_typeof(p_value) = 'boolean';
    WHEN 'Keyword', 'Text' THEN
        RETURN jsonb_typeof(p_value) = 'string';
    WHEN 'KeywordList' THEN
        RETURN jsonb_typeof(p_value) = 'string'
            OR (jsonb_typeof(p_value) = 'array' AND NOT EXISTS (
                    SELECT 1 FROM jsonb_array_elements(p_value) x WHERE jsonb_typeof(x) <> 'string'));
    WHEN 'Datetime' THEN
        RETURN jsonb_typeof(p_value) = 'string' AND (p_value#>>'{}')::timestamptz IS NOT NULL;
    ELSE
        RETURN false;
    END CASE;
EXCEPTION WHEN others THEN
    RETURN false;  -- e.g. a Datetime string Postgres cannot read
END $$;

-- Why p_attributes ({name: payload}) cannot be written in p_namespace, in the words of
-- a Temporal server; NULL when they can (always, while the namespace registers none).
-- Unset payloads only need the name to be registered.
CREATE FUNCTION {{schema}}.search_attribute_error(p_namespace text, p_attributes jsonb)
RETURNS text
LANGUAGE plpgsql STABLE AS $$
DECLARE
    v_name text;
    v_payload jsonb;
    v_type text;
    v_value jsonb;
BEGIN
    IF p_attributes IS NULL OR jsonb_typeof(p_attributes) <> 'object' OR NOT EXISTS (
           SELECT 1 FROM {{schema}}.search_attribute_registry WHERE namespace = p_namespace) THEN
        RETURN NULL;
    END IF;
    FOR v_name, v_payload IN SELECT key, value FROM jsonb_each(p_attributes) ORDER BY key LOOP
        -- Temporal's own attributes (TemporalScheduledById, TemporalChangeVersion...).
        CONTINUE WHEN v_name LIKE 'Temporal%';
        SELECT value_type INTO v_type FROM {{schema}}.search_attribute_registry
         WHERE namespace = p_namespace AND name = v_name;
        IF NOT FOUND THEN
            RETURN format('Namespace %s has no mapping defined for search attribute %s',
                          p_namespace, v_name);
        END IF;
        CONTINUE WHEN {{schema}}.is_unset_payload(v_payload);
        v_value := {{schema}}.search_attribute_value(v_payload);
        IF NOT {{schema}}.search_attribute_value_fits(v_type, v_value) THEN
            RETURN format('invalid value for search attribute %s of type %s: %s',
                          v_name, v_type, coalesce(v_value#>>'{}', v_payload->>'data'));
        END IF;
    END LOOP;
    RETURN NULL;
END $$;

-- The first of p_names a list filter may not name in p_namespace (registered ones,
-- Temporal's own, and any while the namespace registers none are fine), or NULL.
CREATE FUNCTION {{schema}}.unregistered_filter_name(p_namespace text, p_names text[])
RETURNS text
LANGUAGE sql STABLE AS $$
    SELECT n FROM unnest(p_names) AS n
     WHERE n NOT LIKE 'Temporal%'
       AND EXISTS (SELECT 1 FROM {{schema}}.search_attribute_registry WHERE namespace = p_namespace)
       AND NOT EXISTS (SELECT 1 FROM {{schema}}.search_attribute_registry r
                        WHERE r.namespace = p_namespace AND r.name = n)
     ORDER BY n LIMIT 1
$$;

-- Why a workflow task's completion cannot be kept because of its search attributes
-- (upserts, child starts, continue-as-new), or NULL. A Temporal server fails such a
-- task with cause BAD_SEARCH_ATTRIBUTES; the worker retries it.
CREATE FUNCTION {{schema}}.completion_search_attribute_error(p_namespace text, p_completion jsonb)
RETURNS text
LANGUAGE plpgsql STABLE AS $$
DECLARE
    v_error text;
    v_child jsonb;
BEGIN
    IF NOT (p_completion ? 'visibility' OR p_completion ? 'children' OR p_completion ? 'close')
       OR NOT EXISTS (SELECT 1 FROM {{schema}}.search_attribute_registry
                       WHERE namespace = p_namespace) THEN
        RETURN NULL;
    END IF;
    v_error := {{schema}}.search_attribute_error(
        p_namespace, p_completion->'visibility'->'search_attributes');
    FOR v_child IN SELECT * FROM jsonb_array_elements(coalesce(p_completion->'children', '[]')) LOOP
        EXIT WHEN v_error IS NOT NULL;
        v_error := {{schema}}.search_attribute_error(
            coalesce(v_child->'start'->>'namespace', p_namespace),
            v_child->'start'->'search_attributes');
    END LOOP;
    IF v_error IS NULL THEN
        v_error := {{schema}}.search_attribute_error(
            p_namespace, p_completion->'close'->'continue_as_new'->'search_attributes');
    END IF;
    RETURN 'BadSearchAttributes: ' || v_error;
END $$;

CREATE FUNCTION {{schema}}.register_search_attributes(p_namespace text, p_attributes jsonb)
RETURNS void
LANGUAGE sql AS $$
    -- As a Temporal dev server: a name registered already keeps its first type.
    INSERT INTO {{schema}}.search_attribute_registry (namespace, name, value_type)
    SELECT p_namespace, key, value #>> '{}' FROM jsonb_each(p_attributes)
    ON CONFLICT (namespace, name) DO NOTHING
$$;
