-- Event schemas, the record of rejected events, and the properties observed per event name.

CREATE TABLE event_schemas (
    project_id   uuid NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
    event        text NOT NULL CHECK (length(event) BETWEEN 1 AND 200),
    json_schema  jsonb NOT NULL,
    mode         text NOT NULL CHECK (mode IN ('OFF', 'WARN', 'REJECT')),
    created_at   timestamptz NOT NULL DEFAULT now(),
    updated_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (project_id, event)
);

-- Everything refused (by ingest validation, a schema in REJECT mode, or PostgreSQL), as read
-- from the dead-letter stream, with the original event so it can be replayed once fixed.
CREATE TABLE rejected_events (
    id             bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    project_id     uuid NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
    message_id     text COLLATE "C" NOT NULL DEFAULT '',
    event          text NOT NULL DEFAULT '',
    code           text NOT NULL,
    reason         text NOT NULL,
    -- The trackmint.v1.Event as received (serialized protobuf).
    payload        bytea,
    received_at    timestamptz NOT NULL,
    rejected_at    timestamptz NOT NULL DEFAULT now(),
    -- Set once replayed: ACCEPTED, or the code it was refused with again.
    replayed_at    timestamptz,
    replay_result  text,
    -- The dead-letter stream sequence, so redelivery of the same record stores it once.
    stream_sequence  bigint,
    stream_index     integer,
    UNIQUE (project_id, stream_sequence, stream_index)
);
CREATE INDEX rejected_events_project ON rejected_events (project_id, id DESC);

CREATE TABLE event_properties (
    project_id  uuid NOT NULL,
    event       text NOT NULL,
    property    text NOT NULL,
    -- jsonb_typeof: string, number, boolean, object, array, null.
    type        text NOT NULL,
    first_seen  timestamptz NOT NULL,
    last_seen   timestamptz NOT NULL,
    PRIMARY KEY (project_id, event, property, type)
);
