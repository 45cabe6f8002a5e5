-- Sessions summed per UTC hour of their start, overall and per value of each dimension a sessions
-- summary groups by, so a month's summary reads some thousands of rows instead of every session.
-- The sums are additive (count, total duration in exact microseconds, bounces, page views, events):
-- averages and the bounce rate come out exact. Distinct persons and medians are not additive, so
-- they keep reading `sessions`.
--
-- Statement-level triggers with transition tables keep the rollup current in the transaction that
-- changes `sessions`, whichever path changed it (new and growing sessions, late events fusing two,
-- merges, deletes): every changed row adds its new values and takes away its old ones. Rows are
-- upserted in key order, so concurrent writers wait on each other instead of deadlocking (and the
-- writer retries a transaction PostgreSQL still picks as a victim).
CREATE TABLE session_hourly (
    project_id       uuid NOT NULL,
    -- '' for all sessions, else the `sessions` column the value is of.
    dimension        text COLLATE "C" NOT NULL,
    hour             timestamptz NOT NULL,
    -- md5 of the value (a page path may be longer than an index entry may); the nil uuid for no value.
    value_key        uuid NOT NULL,
    value            text COLLATE "C",
    sessions         bigint NOT NULL,
    duration_micros  bigint NOT NULL,
    bounces          bigint NOT NULL,
    pageviews        bigint NOT NULL,
    events           bigint NOT NULL,
    PRIMARY KEY (project_id, dimension, hour, value_key)
);

-- One row per dimension of each session given: ('', NULL) for all sessions, then (column, value).
-- Region, city, utm_term and utm_content are left out: many values, seldom grouped by; summaries
-- grouping by them read `sessions`.
CREATE FUNCTION session_hourly_dimensions(s sessions)
RETURNS TABLE (dimension text, value text) LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    VALUES ('', NULL::text), ('entry_page', s.entry_page), ('exit_page', s.exit_page),
           ('referrer_domain', s.referrer_domain), ('referrer_channel', s.referrer_channel),
           ('utm_source', s.utm_source), ('utm_medium', s.utm_medium), ('utm_campaign', s.utm_campaign),
           ('device_type', s.device_type), ('browser', s.browser), ('os', s.os), ('country', s.country)
$$;

-- The key of a value in a rollup's primary key (the event values rollup of 0014 uses it too).
CREATE FUNCTION rollup_value_key(value text) RETURNS uuid LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT coalesce(md5(value)::uuid, '00000000-0000-0000-0000-000000000000'::uuid)
$$;

-- A session's duration in whole microseconds (timestamps are microseconds, so this is exact).
CREATE FUNCTION session_hourly_micros(s sessions) RETURNS bigint LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT (extract(epoch FROM s.ended_at - s.started_at) * 1000000)::bigint
$$;

-- Adds what `added` holds and takes away what `removed` held, in key order.
CREATE FUNCTION session_hourly_apply_change(added sessions[], removed sessions[]) RETURNS void
LANGUAGE sql AS $$
    INSERT INTO session_hourly AS h (project_id, dimension, hour, value_key, value, sessions, duration_micros,
                                     bounces, pageviews, events)
    SELECT (c.s).project_id, d.dimension, date_bin('1 hour', (c.s).started_at, '2000-01-01 00:00+00'),
           rollup_value_key(d.value), d.value, sum(c.sign),
           sum(c.sign * session_hourly_micros(c.s)), sum(c.sign * ((c.s).event_count = 1)::int),
           sum(c.sign * (c.s).pageview_count), sum(c.sign * (c.s).event_count)
    FROM (
        SELECT 1 AS sign, a AS s FROM unnest(added) AS a
        UNION ALL
        SELECT -1 AS sign, r AS s FROM unnest(removed) AS r
    ) AS c
    CROSS JOIN LATERAL session_hourly_dimensions(c.s) AS d
    GROUP BY 1, 2, 3, 4, 5
    -- A change that moves nothing here (a merge giving the session to another person) writes nothing.
    HAVING sum(c.sign) <> 0 OR sum(c.sign * session_hourly_micros(c.s)) <> 0
        OR sum(c.sign * ((c.s).event_count = 1)::int) <> 0 OR sum(c.sign * (c.s).pageview_count) <> 0
        OR sum(c.sign * (c.s).event_count) <> 0
    ORDER BY 1, 2, 3, 4
    ON CONFLICT (project_id, dimension, hour, value_key) DO UPDATE SET
        sessions = h.sessions + EXCLUDED.sessions,
        duration_micros = h.duration_micros + EXCLUDED.duration_micros,
        bounces = h.bounces + EXCLUDED.bounces,
        pageviews = h.pageviews + EXCLUDED.pageviews,
        events = h.events + EXCLUDED.events
$$;

CREATE FUNCTION session_hourly_apply() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    -- Each branch names only the transition tables its trigger declares.
    IF TG_OP = 'INSERT' THEN
        PERFORM session_hourly_apply_change(ARRAY(SELECT n::sessions FROM new_rows n), '{}'::sessions[]);
    ELSIF TG_OP = 'UPDATE' THEN
        PERFORM session_hourly_apply_change(ARRAY(SELECT n::sessions FROM new_rows n), ARRAY(SELECT o::sessions FROM old_rows o));
    ELSE
        PERFORM session_hourly_apply_change('{}'::sessions[], ARRAY(SELECT o::sessions FROM old_rows o));
    END IF;
    RETURN NULL;
END
$$;

CREATE TRIGGER session_hourly_insert AFTER INSERT ON sessions
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION session_hourly_apply();
CREATE TRIGGER session_hourly_update AFTER UPDATE ON sessions
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION session_hourly_apply();
CREATE TRIGGER session_hourly_delete AFTER DELETE ON sessions
    REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION session_hourly_apply();

-- Sessions stored before this migration.
INSERT INTO session_hourly (project_id, dimension, hour, value_key, value, sessions, duration_micros, bounces,
                            pageviews, events)
SELECT s.project_id, d.dimension, date_bin('1 hour', s.started_at, '2000-01-01 00:00+00'), rollup_value_key(d.value),
       d.value, count(*), sum(session_hourly_micros(s)), count(*) FILTER (WHERE s.event_count = 1),
       sum(s.pageview_count), sum(s.event_count)
FROM sessions s CROSS JOIN LATERAL session_hourly_dimensions(s) AS d
GROUP BY 1, 2, 3, 4, 5;
