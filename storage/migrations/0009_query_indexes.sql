-- One event name's events in time order, with what funnels, retention, paths and per-event
-- trends read of each: an index-only scan of the few names a query asks for instead of a scan
-- of every event of the range.
CREATE INDEX events_project_event_time ON events (project_id, event, event_time) INCLUDE (distinct_id, is_bot);
