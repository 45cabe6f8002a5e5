-- Non-bot events counted per event name, UTC hour and value of each enriched column people break trends
-- down by, so "signups by country this month" adds up some thousands of counts instead of reading every
-- event. Kept in the writer's transaction (processor/writer.py STORE_FRESH), like the hourly counts;
-- exact. High-cardinality columns (page path and URL, city, region, versions) are left out: breakdowns
-- by them read `events`.
CREATE TABLE event_values_hourly (
    project_id  uuid NOT NULL,
    event       text NOT NULL,
    -- The `events` column the value is of.
    dimension   text COLLATE "C" NOT NULL,
    hour        timestamptz NOT NULL,
    -- rollup_value_key(value) (migration 0012): md5, as a value may be longer than an index entry may.
    value_key   uuid NOT NULL,
    value       text COLLATE "C",
    count       bigint NOT NULL,
    PRIMARY KEY (project_id, event, dimension, hour, value_key)
);

-- (dimension, value) for each summed column of one event; the writer and the backfill below both use it.
CREATE FUNCTION event_value_dimensions(
    browser text, os text, device_type text, country text, referrer_channel text, referrer_domain text,
    utm_source text, utm_medium text, utm_campaign text
) RETURNS TABLE (dimension text, value text) LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    VALUES ('browser', browser), ('os', os), ('device_type', device_type), ('country', country),
           ('referrer_channel', referrer_channel), ('referrer_domain', referrer_domain),
           ('utm_source', utm_source), ('utm_medium', utm_medium), ('utm_campaign', utm_campaign)
$$;

-- Events stored before this migration.
INSERT INTO event_values_hourly (project_id, event, dimension, hour, value_key, value, count)
SELECT e.project_id, e.event, d.dimension, date_bin('1 hour', e.event_time, '2000-01-01 00:00+00'),
       rollup_value_key(d.value), d.value, count(*)
FROM events e
CROSS JOIN LATERAL event_value_dimensions(e.browser, e.os, e.device_type, e.country, e.referrer_channel,
                                          e.referrer_domain, e.utm_source, e.utm_medium, e.utm_campaign) AS d
WHERE NOT e.is_bot
GROUP BY 1, 2, 3, 4, 5, 6;
