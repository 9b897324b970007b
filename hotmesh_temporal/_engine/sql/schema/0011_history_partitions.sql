-- History partitioned by time, so that retention drops whole partitions.
--
-- history_events is by far the largest table (about 23 rows per 3-activity workflow).
-- Deleting expired runs row by row writes WAL for every row and leaves vacuum a table
-- full of dead tuples; dropping a partition is one catalog change. The partition key
-- is the run's start time (run_started, copied from executions.start_time, which never
-- changes for a run): every event of a run lands in the partition of the day the run
-- started, so a partition can go as soon as every run started that day has been
-- closed for longer than its namespace's retention. Reads by run stay index lookups
-- (the primary key leads with run_id; events_after also names the partition). The
-- partitioned table and its default partition are in 0001_init.sql; this file makes
-- and drops the days' partitions.
--
-- executions is not partitioned: it holds the running state (its unique index "one
-- running run per workflow id" cannot span partitions) and is one row per run; expired
-- runs' rows there are deleted by the purge in batches (0010_retention.sql).

-- How partitions are kept: daily, made a few days ahead.
CREATE TABLE {{schema}}.partition_settings (
    singleton boolean PRIMARY KEY DEFAULT true CHECK (singleton),
    premake_days int NOT NULL DEFAULT 3 CHECK (premake_days BETWEEN 1 AND 60)
);
INSERT INTO {{schema}}.partition_settings DEFAULT VALUES;

-- Runs by start time: which runs a day's partition holds.
CREATE INDEX executions_started ON {{schema}}.executions (start_time);

-- The partition name of a day: history_events_pYYYYMMDD (UTC days).
CREATE FUNCTION {{schema}}.history_partition_name(p_day date) RETURNS text
LANGUAGE sql IMMUTABLE AS $$
    SELECT 'history_events_p' || to_char(p_day, 'YYYYMMDD')
$$;

-- Make the partition of [p_from, p_to) unless one of that name exists; rows of that
-- range that wait in the default partition move into it. Writers of history_events
-- wait meanwhile (SHARE ROW EXCLUSIVE on the parent; readers go on): an insert
-- running beside an ATTACH routes its row with the partitions it saw when it began,
-- so a row of that day lands in the default partition after the move and either the
-- ATTACH fails ("updated partition constraint for default partition would be
-- violated") or the insert does ("violates partition constraint"). Hot transitions
-- are short, and days are made ahead, so the wait is rare and brief.
CREATE FUNCTION {{schema}}.make_history_partition(p_name text, p_from timestamptz, p_to timestamptz)
RETURNS boolean
LANGUAGE plpgsql AS $$
DECLARE
    v_timeout text := current_setting('lock_timeout');
BEGIN
    IF to_regclass(format('%I.%I', '{{schema_name}}', p_name)) IS NOT NULL THEN
        RETURN false;
    END IF;
    -- Writers that come after a queued lock request wait behind it: wait a moment at
    -- most (a long transaction writing history), and try again at the next turn;
    -- meanwhile that day's events go to the default partition, as before.
    PERFORM set_config('lock_timeout', '200ms', true);
    BEGIN
        EXECUTE format('LOCK TABLE %I.history_events IN SHARE ROW EXCLUSIVE MODE', '{{schema_name}}');
    EXCEPTION WHEN lock_not_available THEN
        PERFORM set_config('lock_timeout', v_timeout, true);
        RETURN false;
    END;
    PERFORM set_config('lock_timeout', v_timeout, true);
    IF to_regclass(format('%I.%I', '{{schema_name}}', p_name)) IS NOT NULL THEN
        RETURN false;  -- made by another sweeper while this one waited for the lock
    END IF;
    EXECUTE format('CREATE TABLE %I.%I (LIKE %I.history_events INCLUDING DEFAULTS INCLUDING CONSTRAINTS)',
                   '{{schema_name}}', p_name, '{{schema_name}}');
    EXECUTE format('ALTER TABLE %I.%I ADD PRIMARY KEY (run_id, event_id, run_started)',
                   '{{schema_name}}', p_name);
    EXECUTE format(
        'WITH moved AS (DELETE FROM %I.history_events_default'
        '  WHERE run_started >= $1 AND run_started < $2 RETURNING *)'
        ' INSERT INTO %I.%I SELECT * FROM moved', '{{schema_name}}', '{{schema_name}}', p_name)
        USING p_from, p_to;
    EXECUTE format('ALTER TABLE %I.history_events ATTACH PARTITION %I.%I FOR VALUES FROM (%L) TO (%L)',
                   '{{schema_name}}', '{{schema_name}}', p_name, p_from, p_to);
    RETURN true;
END $$;

-- Keep the partitions: make today's and the next premake_days' (UTC days of the
-- engine's clock), and drop every partition whose runs are all gone or expired
-- (closed for longer than their namespace's retention). A drop that would wait for a
-- lock (a long transaction reading history) is skipped and tried at the next turn.
-- Returns (made, dropped).
CREATE FUNCTION {{schema}}.maintain_history_partitions(OUT made int, OUT dropped int)
LANGUAGE plpgsql AS $$
DECLARE
    v_today date := ({{schema}}.now() AT TIME ZONE 'UTC')::date;
    v_days int := (SELECT premake_days FROM {{schema}}.partition_settings);
    v_day date;
    r record;
BEGIN
    made := 0;
    dropped := 0;
    FOR v_day IN SELECT generate_series(v_today, v_today + v_days, interval '1 day')::date LOOP
        IF {{schema}}.make_history_partition({{schema}}.history_partition_name(v_day),
               v_day::timestamp AT TIME ZONE 'UTC', (v_day + 1)::timestamp AT TIME ZONE 'UTC') THEN
            made := made + 1;
        END IF;
    END LOOP;
    FOR r IN
        SELECT c.relname,
               (regexp_match(pg_get_expr(c.relpartbound, c.oid),
                             'TO \(''([^'']+)''\)'))[1]::timestamptz AS upper_bound,
               (regexp_match(pg_get_expr(c.relpartbound, c.oid),
                             'FROM \(''([^'']+)''\)'))[1]::timestamptz AS lower_bound
          FROM pg_inherits i
          JOIN pg_class c ON c.oid = i.inhrelid
         WHERE i.inhparent = '{{schema}}.history_events'::regclass
           AND c.relname <> 'history_events_default'
    LOOP
        CONTINUE WHEN r.upper_bound IS NULL OR r.upper_bound > {{schema}}.now();
        CONTINUE WHEN EXISTS (
            SELECT 1 FROM {{schema}}.executions e
             WHERE e.start_time < r.upper_bound
               AND (r.lower_bound IS NULL OR e.start_time >= r.lower_bound)
               AND (e.status = 1
                    OR e.close_time >= {{schema}}.now() - {{schema}}.retention_of(e.namespace)));
        BEGIN
            SET LOCAL lock_timeout = '50ms';
            EXECUTE format('DROP TABLE %I.%I', '{{schema_name}}', r.relname);
            dropped := dropped + 1;
        EXCEPTION WHEN lock_not_available THEN
            NULL;  -- busy: next turn
        END;
    END LOOP;
END $$;

-- Today's and the next days' partitions.
SELECT {{schema}}.maintain_history_partitions();
