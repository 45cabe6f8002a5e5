-- Outbound webhooks ("destinations"): per project, the events matching a filter are POSTed as signed JSON
-- batches to a URL by the destinations service (destinations/), which reads the events stream through a
-- durable JetStream consumer of each destination's own, so a slow or dead target holds back only itself.
--
-- Signing secrets are not stored: `secret_nonce` is random and the secret is
-- HMAC-SHA256(TRACKMINT_SECRET_KEY, 'trackmint-destination-secret:' || hex(nonce)) (webhooks/signing.py), as
-- for alerting's webhook channels. `filter` is {"events": [names], "properties": [{"key", "operator",
-- "value"}]}: an empty list of names means every event; the property predicates are ANDed.
CREATE TABLE destinations (
    id            uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    project_id    uuid NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
    name          text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    url           text NOT NULL CHECK (length(url) BETWEEN 8 AND 2000),
    filter        jsonb NOT NULL DEFAULT '{"events": [], "properties": []}',
    enabled       boolean NOT NULL DEFAULT true,
    secret_nonce  bytea NOT NULL,
    created_by    uuid REFERENCES users (id) ON DELETE SET NULL,
    -- The consumer starts at the events accepted from this moment on.
    created_at    timestamptz NOT NULL DEFAULT now(),
    updated_at    timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX destinations_project ON destinations (project_id);

-- Delivery state, one row per destination, written by the service after every batch (never per event).
-- `pending`: events-stream messages of the project the consumer has not handled yet (from JetStream
-- metadata of the last fetch), NULL until the service has fetched once.
CREATE TABLE destination_status (
    destination_id        uuid PRIMARY KEY REFERENCES destinations (id) ON DELETE CASCADE,
    last_success_at       timestamptz,
    last_failure_at       timestamptz,
    last_error            text,
    consecutive_failures  integer NOT NULL DEFAULT 0,
    delivered_batches     bigint NOT NULL DEFAULT 0,
    delivered_events      bigint NOT NULL DEFAULT 0,
    dead_lettered_batches bigint NOT NULL DEFAULT 0,
    pending               bigint,
    -- Set by a worker that stopped cleanly and handed its unacked messages back (JetStream redelivers those
    -- first), cleared by the next worker: without it, a successor waits out the ack wait, as after a crash.
    handed_back           boolean NOT NULL DEFAULT false,
    updated_at            timestamptz NOT NULL DEFAULT now()
);

-- Failed attempts, newest kept (the service prunes to the last 100 per destination).
CREATE TABLE destination_failures (
    id              bigserial PRIMARY KEY,
    destination_id  uuid NOT NULL REFERENCES destinations (id) ON DELETE CASCADE,
    at              timestamptz NOT NULL DEFAULT now(),
    delivery_id     uuid NOT NULL,
    attempt         integer NOT NULL,
    events          integer NOT NULL,
    status_code     integer,
    error           text NOT NULL
);
CREATE INDEX destination_failures_destination ON destination_failures (destination_id, id DESC);

-- Batches that failed every attempt, parked with the exact body that was signed, to be retried from the API.
-- `id` orders them as they were first sent. `retrying_since` claims a row while an API retry sends it, so two
-- retries at once do not send it twice (a claim older than 5 minutes belonged to a request that died).
CREATE TABLE destination_dead_letters (
    id              bigserial PRIMARY KEY,
    destination_id  uuid NOT NULL REFERENCES destinations (id) ON DELETE CASCADE,
    delivery_id     uuid NOT NULL UNIQUE,
    body            bytea NOT NULL,
    events          integer NOT NULL,
    attempts        integer NOT NULL,
    last_error      text NOT NULL,
    first_attempt_at timestamptz NOT NULL,
    parked_at       timestamptz NOT NULL DEFAULT now(),
    retried_at      timestamptz,
    retrying_since  timestamptz
);
CREATE INDEX destination_dead_letters_destination ON destination_dead_letters (destination_id, id);
