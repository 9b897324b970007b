-- Client calls applied once per request id (issue 13).
--
-- A client call whose connection dies mid-statement may or may not have committed; the
-- client sends it again with the same request id, and the call's *_once function
-- answers the second time with what the first one answered, changing nothing. The
-- ledger keeps a request id for a day (a retry comes within seconds); repeats counts
-- the calls answered from it.
CREATE TABLE {{schema}}.applied_requests (
    request_id text PRIMARY KEY,
    outcome jsonb NOT NULL,
    applied_at timestamptz NOT NULL DEFAULT now(),
    repeats int NOT NULL DEFAULT 0
);
CREATE INDEX applied_requests_age ON {{schema}}.applied_requests (applied_at);

-- NULL when p_request is new (the caller applies the call, then remember_request);
-- else the outcome recorded the first time. A concurrent first attempt still running
-- holds the row: this waits for it to commit or roll back (ON CONFLICT).
CREATE FUNCTION {{schema}}.first_request(p_request text) RETURNS jsonb
LANGUAGE plpgsql AS $$
DECLARE
    v_outcome jsonb;
BEGIN
    DELETE FROM {{schema}}.applied_requests
     WHERE request_id IN (SELECT request_id FROM {{schema}}.applied_requests
                           WHERE applied_at < now() - interval '1 day' LIMIT 10);
    INSERT INTO {{schema}}.applied_requests (request_id, outcome)
    VALUES (p_request, 'null') ON CONFLICT DO NOTHING;
    IF FOUND THEN
        RETURN NULL;
    END IF;
    UPDATE {{schema}}.applied_requests SET repeats = repeats + 1
     WHERE request_id = p_request RETURNING outcome INTO v_outcome;
    RETURN v_outcome;
END $$;

CREATE FUNCTION {{schema}}.remember_request(p_request text, p_outcome jsonb) RETURNS void
LANGUAGE sql AS $$
    UPDATE {{schema}}.applied_requests SET outcome = p_outcome WHERE request_id = p_request;
$$;

CREATE FUNCTION {{schema}}.signal_workflow_once(
    p_request text, p_namespace text, p_workflow_id text, p_run uuid, p_signal jsonb)
RETURNS text
LANGUAGE plpgsql AS $$
DECLARE
    v_seen jsonb := {{schema}}.first_request(p_request);
    v_status text;
BEGIN
    IF v_seen IS NOT NULL THEN
        RETURN v_seen #>> '{}';
    END IF;
    v_status := {{schema}}.signal_workflow(p_namespace, p_workflow_id, p_run, p_signal);
    PERFORM {{schema}}.remember_request(p_request, to_jsonb(v_status));
    RETURN v_status;
END $$;

CREATE FUNCTION {{schema}}.request_cancel_workflow_once(
    p_request text, p_namespace text, p_workflow_id text, p_run uuid, p_reason text,
    p_identity text)
RETURNS text
LANGUAGE plpgsql AS $$
DECLARE
    v_seen jsonb := {{schema}}.first_request(p_request);
    v_status text;
BEGIN
    IF v_seen IS NOT NULL THEN
        RETURN v_seen #>> '{}';
    END IF;
    v_status := {{schema}}.request_cancel_workflow(
        p_namespace, p_workflow_id, p_run, p_reason, p_identity);
    PERFORM {{schema}}.remember_request(p_request, to_jsonb(v_status));
    RETURN v_status;
END $$;

CREATE FUNCTION {{schema}}.terminate_workflow_once(
    p_request text, p_namespace text, p_workflow_id text, p_run uuid, p_reason text,
    p_details jsonb)
RETURNS text
LANGUAGE plpgsql AS $$
DECLARE
    v_seen jsonb := {{schema}}.first_request(p_request);
    v_status text;
BEGIN
    IF v_seen IS NOT NULL THEN
        RETURN v_seen #>> '{}';
    END IF;
    v_status := {{schema}}.terminate_workflow(
        p_namespace, p_workflow_id, p_run, p_reason, p_details);
    PERFORM {{schema}}.remember_request(p_request, to_jsonb(v_status));
    RETURN v_status;
END $$;

-- Signal-with-start: on a running workflow it only delivers the signal, which a second
-- attempt would deliver again; the run id the client chose does not catch that case.
-- (A plain start needs no ledger: a retry finds the run it started, by its run id.)
CREATE FUNCTION {{schema}}.signal_with_start_once(p_request text, p_start jsonb)
RETURNS jsonb
LANGUAGE plpgsql AS $$
DECLARE
    v_seen jsonb := {{schema}}.first_request(p_request);
    v_reply jsonb;
BEGIN
    IF v_seen IS NOT NULL THEN
        RETURN v_seen;
    END IF;
    v_reply := {{schema}}.start_workflow(p_start);
    -- An eagerly leased first task is not kept: a retry that lost the reply leaves it
    -- to its lease's expiry, like any task whose worker went away.
    PERFORM {{schema}}.remember_request(p_request, v_reply - 'task');
    RETURN v_reply;
END $$;
