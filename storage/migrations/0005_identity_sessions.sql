-- Persons and their distinct ids, sessions, per-project trait mappings, the IP opt-in,
-- and bot events kept apart in the rollup (analytics exclude them by default).

-- The id an event is attributed to: user_id when known, else anonymous_id. Analytics resolve
-- it to a person through person_distinct_ids at query time, so merges apply retroactively.
ALTER TABLE events
    ADD COLUMN distinct_id       text COLLATE "C",
    -- Only filled when the project opts in (projects.store_ip); ingest clears it otherwise.
    ADD COLUMN ip                inet,
    -- Set when the event broke its schema in WARN mode: the failing path and rule.
    ADD COLUMN schema_violation  text;
-- A person's events in time order (journeys, funnels): by their distinct ids.
CREATE INDEX events_project_distinct_time ON events (project_id, distinct_id, event_time);

ALTER TABLE projects ADD COLUMN store_ip boolean NOT NULL DEFAULT false;

ALTER TABLE event_counts ADD COLUMN is_bot boolean NOT NULL DEFAULT false;
ALTER TABLE event_counts DROP CONSTRAINT event_counts_pkey;
ALTER TABLE event_counts ADD PRIMARY KEY (project_id, event, minute, is_bot);

-- Like `events`, these derived tables carry no foreign key to projects: the processor writes
-- them at event rate, and deleting a project deletes their rows explicitly.

-- A person is the set of distinct ids known to be one human. A person merged into another
-- keeps its row with merged_into set, so old links still resolve and a writer that read the
-- old mapping notices the merge once it holds the row lock.
CREATE TABLE persons (
    id             uuid PRIMARY KEY,
    project_id     uuid NOT NULL,
    -- Merged identify traits (normalised well-known ones included).
    traits         jsonb NOT NULL DEFAULT '{}',
    -- Trait name -> event time (microseconds since the epoch) of the value kept, so a late
    -- identify never overwrites a newer value.
    trait_times    jsonb NOT NULL DEFAULT '{}',
    -- True once a user_id belongs to the person: identify does not merge two identified
    -- persons (a shared computer), alias does.
    is_identified  boolean NOT NULL DEFAULT false,
    first_seen     timestamptz NOT NULL,
    last_seen      timestamptz NOT NULL,
    created_at     timestamptz NOT NULL DEFAULT now(),
    merged_into    uuid REFERENCES persons (id) ON DELETE CASCADE
-- Room on each page for updated versions: seen-times change with every batch, and an update that
-- touches no indexed column and fits on its page (HOT) costs no index writes.
) WITH (fillfactor = 70);
CREATE INDEX persons_project_created ON persons (project_id, created_at DESC, id DESC) WHERE merged_into IS NULL;

CREATE TABLE person_distinct_ids (
    project_id   uuid NOT NULL,
    distinct_id  text COLLATE "C" NOT NULL,
    person_id    uuid NOT NULL REFERENCES persons (id) ON DELETE CASCADE,
    PRIMARY KEY (project_id, distinct_id)
);
CREATE INDEX person_distinct_ids_person ON person_distinct_ids (person_id);

-- Sessions: keyed by the SDK's session id when it sent one (session_key), otherwise derived
-- from 30 minutes of inactivity of the person (session_key NULL). Attributes come from the
-- session's first event; entry/exit pages from its first/last page or screen view.
CREATE TABLE sessions (
    id                uuid PRIMARY KEY,
    project_id        uuid NOT NULL,
    session_key       text COLLATE "C",
    person_id         uuid NOT NULL,
    started_at        timestamptz NOT NULL,
    ended_at          timestamptz NOT NULL,
    duration_seconds  double precision GENERATED ALWAYS AS (extract(epoch FROM ended_at - started_at)) STORED,
    event_count       integer NOT NULL,
    pageview_count    integer NOT NULL,
    is_bounce         boolean GENERATED ALWAYS AS (event_count = 1) STORED,
    entry_page        text,
    entry_at          timestamptz,
    exit_page         text,
    exit_at           timestamptz,
    entry_url         text,
    referrer          text,
    referrer_domain   text,
    referrer_channel  text,
    utm_source        text,
    utm_medium        text,
    utm_campaign      text,
    utm_term          text,
    utm_content       text,
    device_type       text,
    browser           text,
    os                text,
    country           text,
    region            text,
    city              text
) WITH (fillfactor = 70);  -- as persons: a live session is updated by every batch
-- Partial: derived sessions (most of them) have no key and need no entry here.
CREATE UNIQUE INDEX sessions_project_key ON sessions (project_id, session_key) WHERE session_key IS NOT NULL;
CREATE INDEX sessions_project_started ON sessions (project_id, started_at);
CREATE INDEX sessions_person_started ON sessions (person_id, started_at);

-- Event properties that become person traits, e.g. form_submit.email -> email, so a form
-- on a page or an order_placed server event creates or updates the person without code.
-- `property` is a dotted path into the event's properties.
CREATE TABLE trait_mappings (
    project_id  uuid NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
    event       text NOT NULL CHECK (length(event) BETWEEN 1 AND 200),
    property    text NOT NULL CHECK (length(property) BETWEEN 1 AND 200),
    trait       text NOT NULL CHECK (length(trait) BETWEEN 1 AND 200),
    created_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (project_id, event, property)
);
