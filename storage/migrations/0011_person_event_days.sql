-- Which persons did which event on which local day (project timezone), kept exact by the processor
-- beside person_days: retention, active users of one event, and unique persons read one row per
-- person, event and day instead of every event.
CREATE TABLE person_event_days (
    project_id  uuid NOT NULL,
    event       text NOT NULL,
    day         date NOT NULL,
    person_id   uuid NOT NULL,
    PRIMARY KEY (project_id, event, day, person_id)
);
-- A merge moves the merged person's rows.
CREATE INDEX person_event_days_person ON person_event_days (project_id, person_id);

-- Now rebuilds both daily rollups.
CREATE OR REPLACE FUNCTION rebuild_active_persons(project uuid) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    -- Waits for writers still adding days under the old timezone; later ones read the new one.
    -- Each statement below then sees every event committed before.
    PERFORM pg_advisory_xact_lock(active_persons_lock_key(project));
    DELETE FROM person_days WHERE project_id = project;
    DELETE FROM person_event_days WHERE project_id = project;
    DELETE FROM active_person_counts WHERE project_id = project;
    INSERT INTO person_event_days (project_id, event, day, person_id)
    -- A distinct id without a person (the processor gives every one a person; events written
    -- otherwise may lack one) counts as its own person, as in the other analytics.
    SELECT DISTINCT project, e.event, (e.event_time AT TIME ZONE p.timezone)::date,
           coalesce(e.person_id, m.person_id, md5('d:' || e.distinct_id)::uuid)
    FROM events e
    JOIN projects p ON p.id = e.project_id
    LEFT JOIN person_distinct_ids m ON m.project_id = e.project_id AND m.distinct_id = e.distinct_id
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

SELECT rebuild_active_persons(id) FROM projects;
