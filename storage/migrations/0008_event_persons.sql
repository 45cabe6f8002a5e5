-- Each event's person, written when the event is stored (identity resolves it in the same
-- transaction) and rewritten when that person is merged into another: analytics group by it
-- instead of resolving every event's distinct id through person_distinct_ids. NULL for bots.
ALTER TABLE events ADD COLUMN person_id uuid;
UPDATE events e SET person_id = m.person_id
FROM person_distinct_ids m
WHERE m.project_id = e.project_id AND m.distinct_id = e.distinct_id AND NOT e.is_bot;

-- One event name's events in time order, with what funnels, retention, paths and per-event
-- trends read of each: an index-only scan of the few names a query asks for instead of a scan
-- of every event of the range.
CREATE INDEX events_project_event_time ON events (project_id, event, event_time)
    INCLUDE (person_id, distinct_id, is_bot);
