-- Migration 0005 was revised after a release had applied it: bring such databases to the
-- revised shape. Every statement is a no-op on a database created from the revised 0005.
ALTER TABLE persons SET (fillfactor = 70);
ALTER TABLE sessions SET (fillfactor = 70);
-- Journeys read a person's events by distinct id; the session-id index only cost writes.
DROP INDEX IF EXISTS events_project_session;
-- Only SDK-keyed sessions need an entry in the unique index.
CREATE UNIQUE INDEX IF NOT EXISTS sessions_project_key ON sessions (project_id, session_key)
    WHERE session_key IS NOT NULL;
ALTER TABLE sessions DROP CONSTRAINT IF EXISTS sessions_project_id_session_key_key;
