-- Exact event counts per hour beside the per-minute ones, kept in the same transaction: a month of
-- trends reads some 700 rows per event name instead of 43,000 (every zone whose buckets start on
-- whole UTC hours; others keep reading minutes).
CREATE TABLE event_counts_hourly (
    project_id  uuid NOT NULL,
    event       text NOT NULL,
    hour        timestamptz NOT NULL,
    is_bot      boolean NOT NULL,
    count       bigint NOT NULL,
    PRIMARY KEY (project_id, event, hour, is_bot)
);

INSERT INTO event_counts_hourly (project_id, event, hour, is_bot, count)
SELECT project_id, event, date_trunc('hour', minute AT TIME ZONE 'UTC') AT TIME ZONE 'UTC', is_bot, sum(count)
FROM event_counts
GROUP BY 1, 2, 3, 4;
