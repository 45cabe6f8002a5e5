-- Daily active persons, kept exact by the processor in the transaction that stores the events,
-- so DAU, WAU and MAU read a few rows per day instead of scanning a month of events.

-- One row per person and local day (in the project's timezone) with a non-bot event.
CREATE TABLE person_days (
    project_id  uuid NOT NULL,
    person_id   uuid NOT NULL,
    day         date NOT NULL,
    PRIMARY KEY (project_id, person_id, day)
);

-- Per project and day: DAU, and the changes of WAU and MAU on that day; a running sum of the
-- changes up to a day gives its WAU and MAU.
CREATE TABLE active_person_counts (
    project_id  uuid NOT NULL,
    day         date NOT NULL,
    dau         bigint NOT NULL,
    wau_change  bigint NOT NULL,
    mau_change  bigint NOT NULL,
    PRIMARY KEY (project_id, day)
);

-- What one person-day (`day`, the person's previous active day `previous`, NULL if none) adds
-- to the counts: one to DAU on its day, and one to WAU (MAU) on the days it is the person's
-- earliest active day in the trailing 7 (30) days, [max(day, previous + 7), day + 7), so each
-- person counts once per window. A single SELECT, so the planner inlines it.
CREATE FUNCTION active_person_changes(day date, previous date)
RETURNS TABLE (at date, dau integer, wau_change integer, mau_change integer)
LANGUAGE sql IMMUTABLE AS $$
    SELECT * FROM (VALUES
        (day, 1, 0, 0),
        (greatest(day, previous + 7), 0, 1, 0),
        (day + 7, 0, -1, 0),
        (greatest(day, previous + 30), 0, 0, 1),
        (day + 30, 0, 0, -1)
    ) AS change (at, dau, wau_change, mau_change)
$$;

-- The lock that orders a project's rollup writes against a change of its timezone: writers take
-- it shared before reading the timezone, a rebuild takes it exclusively.
CREATE FUNCTION active_persons_lock_key(project uuid) RETURNS bigint
LANGUAGE sql IMMUTABLE AS $$ SELECT hashtextextended('trackmint.active_persons:' || project::text, 0) $$;

-- Which persons did which event on which local day: retention, active users of one event, and
-- unique persons read one row per person, event and day instead of every event.
CREATE TABLE person_event_days (
    project_id  uuid NOT NULL,
    event       text NOT NULL,
    day         date NOT NULL,
    person_id   uuid NOT NULL,
    PRIMARY KEY (project_id, event, day, person_id)
);
-- A merge moves the merged person's rows.
CREATE INDEX person_event_days_person ON person_event_days (project_id, person_id);

-- Recomputes a project's rollups from its events, in its current timezone: called in the
-- transaction that changes the timezone (and by tests that write events directly).
CREATE FUNCTION rebuild_active_persons(project uuid) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    -- Waits for writers still adding days under the old timezone; later ones read the new one.
    -- Each statement below then sees every event committed before.
    PERFORM pg_advisory_xact_lock(active_persons_lock_key(project));
    DELETE FROM person_days WHERE project_id = project;
    DELETE FROM person_event_days WHERE project_id = project;
    DELETE FROM active_person_counts WHERE project_id = project;
    INSERT INTO person_event_days (project_id, event, day, person_id)
    -- An event without a person (the processor gives every non-bot event one; events written
    -- otherwise may lack it) counts its distinct id as its own person, as the analytics do.
    SELECT DISTINCT project, e.event, (e.event_time AT TIME ZONE p.timezone)::date,
           coalesce(e.person_id, md5('d:' || e.distinct_id)::uuid)
    FROM events e
    JOIN projects p ON p.id = e.project_id
    WHERE e.project_id = project AND NOT e.is_bot AND e.distinct_id IS NOT NULL;
    INSERT INTO person_days (project_id, person_id, day)
    SELECT DISTINCT project, person_id, day FROM person_event_days WHERE project_id = project;
    INSERT INTO active_person_counts (project_id, day, dau, wau_change, mau_change)
    SELECT project, c.at, sum(c.dau), sum(c.wau_change), sum(c.mau_change)
    FROM (
        SELECT d.day, lag(d.day) OVER (PARTITION BY d.person_id ORDER BY d.day) AS previous
        FROM person_days d WHERE d.project_id = project
    ) d
    CROSS JOIN LATERAL active_person_changes(d.day, d.previous) c
    GROUP BY c.at;
END
$$;

-- Projects stored before these rollups existed.
SELECT rebuild_active_persons(id) FROM projects;
