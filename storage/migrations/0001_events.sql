-- Projects, their write keys, the event log, its de-duplication index and the per-minute rollup.

CREATE TABLE projects (
    id          uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    name        text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    timezone    text NOT NULL DEFAULT 'UTC',
    -- Events per second each write key may send to one ingest replica; NULL means the
    -- ingest default (TRACKMINT_RATE_LIMIT_EVENTS_PER_SECOND).
    rate_limit_events_per_second integer CHECK (rate_limit_events_per_second > 0),
    created_at  timestamptz NOT NULL DEFAULT now()
);

-- Write keys are stored only as SHA-256 digests: they are high-entropy secrets,
-- so a fast digest is safe and keeps authentication cheap.
CREATE TABLE api_keys (
    id            uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    project_id    uuid NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
    label         text NOT NULL DEFAULT '',
    prefix        text NOT NULL,
    key_hash      bytea NOT NULL UNIQUE,
    created_at    timestamptz NOT NULL DEFAULT now(),
    last_used_at  timestamptz,
    expires_at    timestamptz,
    revoked_at    timestamptz
);
CREATE INDEX api_keys_project ON api_keys (project_id);

-- The event log, partitioned by month of (skew-corrected) event time.
CREATE TABLE events (
    project_id    uuid NOT NULL,
    event_time    timestamptz NOT NULL,
    message_id    text COLLATE "C" NOT NULL,
    type          smallint NOT NULL,
    event         text NOT NULL,
    name          text NOT NULL DEFAULT '',
    anonymous_id  text,
    user_id       text,
    session_id    text,
    group_id      text,
    previous_id   text,
    properties    jsonb NOT NULL DEFAULT '{}',
    traits        jsonb,
    -- Context in typed columns (filtered and grouped by analytics); other context keys in `context`.
    -- The IP address is not stored.
    user_agent       text,
    locale           text,
    timezone         text,
    page_url         text,
    page_path        text,
    page_referrer    text,
    page_title       text,
    page_search      text,
    utm_source       text,
    utm_medium       text,
    utm_campaign     text,
    utm_term         text,
    utm_content      text,
    library_name     text,
    library_version  text,
    context       jsonb,
    sent_at       timestamptz,
    received_at   timestamptz NOT NULL,
    stored_at     timestamptz NOT NULL DEFAULT now()
) PARTITION BY RANGE (event_time);
CREATE INDEX events_project_time ON events (project_id, event_time);

-- One row per stored message id. Kept apart from the partitioned log because a
-- unique key there would have to include event_time, and a resent event's
-- corrected time may differ by the network delay.
-- Byte-order collation: ids are compared for equality only, and locale-aware comparison
-- would make every index insertion slower.
CREATE TABLE event_message_ids (
    project_id  uuid NOT NULL,
    message_id  text COLLATE "C" NOT NULL,
    PRIMARY KEY (project_id, message_id)
);

-- Exact event counts per minute, kept current in the transaction that stores the events.
CREATE TABLE event_counts (
    project_id  uuid NOT NULL,
    event       text NOT NULL,
    minute      timestamptz NOT NULL,
    count       bigint NOT NULL,
    PRIMARY KEY (project_id, event, minute)
);
CREATE INDEX event_counts_project_minute ON event_counts (project_id, minute);

-- Creates the month partition of `events` holding `month_start` if it is missing.
-- Serialised by an advisory lock so concurrent processors do not race on DDL.
CREATE FUNCTION ensure_events_partition(month_start date) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    first_day date := date_trunc('month', month_start)::date;
    partition_name text := format('events_%s', to_char(first_day, 'YYYY_MM'));
BEGIN
    IF to_regclass(partition_name) IS NOT NULL THEN
        RETURN;
    END IF;
    PERFORM pg_advisory_xact_lock(hashtext('trackmint.events_partition'));
    IF to_regclass(partition_name) IS NULL THEN
        BEGIN
            EXECUTE format(
                'CREATE TABLE %I PARTITION OF events FOR VALUES FROM (%L) TO (%L)',
                partition_name,
                first_day::timestamp AT TIME ZONE 'UTC',
                (first_day + interval '1 month')::timestamp AT TIME ZONE 'UTC'
            );
        EXCEPTION WHEN duplicate_table THEN
            NULL;  -- created by a concurrent session whose commit this statement's snapshot missed
        END;
    END IF;
END
$$;

SELECT ensure_events_partition((date_trunc('month', now()) + make_interval(months => m))::date)
FROM generate_series(-1, 2) AS m;
