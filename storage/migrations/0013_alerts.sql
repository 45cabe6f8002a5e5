-- Alerting: notification channels, rules on a trends series, each rule's state, the history of its state
-- changes, in-app alert events, and an outbox of deliveries (one per event and channel) with every attempt.
--
-- The alerting leader writes a state change, its in-app event and its deliveries in one transaction, then
-- sends the deliveries; a leader that dies in between leaves them pending for the next one, so no notice is
-- lost. Rule states carry a version: a transition commits only on the version it read, so two replicas that
-- both believe they lead cannot both open the same incident.

-- Where notices go. An organization-wide channel (project_id NULL) may serve every project of the
-- organization. `settings` holds the kind's non-secret settings (email: {"to": [...]}; slack and webhook:
-- {"url": ...}); a Slack incoming-webhook URL is a bearer secret and is only ever shown masked.
-- Webhook signing secrets are not stored: `secret_nonce` is random, and the secret is
-- HMAC-SHA256(TRACKMINT_SECRET_KEY, 'trackmint-webhook-secret:' || hex(nonce)), derived by whoever signs or
-- shows it. A database dump alone therefore reveals no signing secret; changing TRACKMINT_SECRET_KEY changes
-- every webhook's secret (rotate the channels' secrets afterwards).
CREATE TABLE alert_channels (
    id               uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    organization_id  uuid NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    project_id       uuid REFERENCES projects (id) ON DELETE CASCADE,
    kind             text NOT NULL CHECK (kind IN ('email', 'slack', 'webhook')),
    name             text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    settings         jsonb NOT NULL DEFAULT '{}',
    secret_nonce     bytea,
    created_at       timestamptz NOT NULL DEFAULT now(),
    updated_at       timestamptz NOT NULL DEFAULT now(),
    CHECK ((kind = 'webhook') = (secret_nonce IS NOT NULL))
);
CREATE INDEX alert_channels_organization ON alert_channels (organization_id);
CREATE INDEX alert_channels_project ON alert_channels (project_id);

-- A rule watches one trends series (`series`: {"event", "math", "property", "filters", "breakdown":
-- {"key", "type", "value"} | null}) bucketed by `interval`, judged by `detector` ({"kind", "direction",
-- "threshold", "change", "window", "sensitivity", "lookback", "alpha", "weeks", "min_volume"}, see
-- alerting/detectors.py) every `evaluate_every_seconds`. A firing rule resolves once its condition has been
-- clear for `cooldown_seconds`, so a flapping series is one incident: one notice, one resolution.
CREATE TABLE alert_rules (
    id                      uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    project_id              uuid NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
    name                    text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    enabled                 boolean NOT NULL DEFAULT true,
    series                  jsonb NOT NULL,
    interval                text NOT NULL CHECK (interval IN ('minute', 'hour', 'day')),
    detector                jsonb NOT NULL,
    evaluate_every_seconds  integer NOT NULL DEFAULT 60 CHECK (evaluate_every_seconds BETWEEN 1 AND 86400),
    cooldown_seconds        integer NOT NULL DEFAULT 600 CHECK (cooldown_seconds BETWEEN 0 AND 604800),
    channel_ids             uuid[] NOT NULL DEFAULT '{}',
    created_by              uuid REFERENCES users (id) ON DELETE SET NULL,
    created_at              timestamptz NOT NULL DEFAULT now(),
    updated_at              timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX alert_rules_project ON alert_rules (project_id);

-- One row per rule, written by the leader. RESOLVED behaves like OK for the next evaluation; it says the
-- rule's last incident is over. `clear_since`: when a FIRING rule's condition was first seen clear again.
CREATE TABLE alert_rule_states (
    rule_id             uuid PRIMARY KEY REFERENCES alert_rules (id) ON DELETE CASCADE,
    project_id          uuid NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
    state               text NOT NULL DEFAULT 'ok' CHECK (state IN ('ok', 'firing', 'resolved')),
    incident_id         uuid,
    version             bigint NOT NULL DEFAULT 0,
    changed_at          timestamptz,
    clear_since         timestamptz,
    last_evaluated_at   timestamptz,
    next_evaluation_at  timestamptz NOT NULL DEFAULT now(),
    last_value          double precision,
    last_error          text
);
CREATE INDEX alert_rule_states_due ON alert_rule_states (next_evaluation_at);

-- Every evaluation that changed a rule's state, with what the detector saw.
CREATE TABLE alert_state_changes (
    id           bigserial PRIMARY KEY,
    rule_id      uuid NOT NULL REFERENCES alert_rules (id) ON DELETE CASCADE,
    project_id   uuid NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
    incident_id  uuid,
    from_state   text NOT NULL,
    to_state     text NOT NULL,
    at           timestamptz NOT NULL DEFAULT now(),
    bucket       timestamptz,
    value        double precision,
    expected     double precision,
    lower_bound  double precision,
    upper_bound  double precision,
    reason       text NOT NULL
);
CREATE INDEX alert_state_changes_rule ON alert_state_changes (rule_id, at DESC);
CREATE INDEX alert_state_changes_project ON alert_state_changes (project_id, at DESC);

-- In-app notices: one per incident opening ('fired') and closing ('resolved'), plus channel tests.
CREATE TABLE alert_events (
    id           uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    project_id   uuid NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
    rule_id      uuid REFERENCES alert_rules (id) ON DELETE SET NULL,
    incident_id  uuid,
    kind         text NOT NULL CHECK (kind IN ('fired', 'resolved', 'test')),
    rule_name    text NOT NULL,
    message      text NOT NULL,
    bucket       timestamptz,
    value        double precision,
    expected     double precision,
    lower_bound  double precision,
    upper_bound  double precision,
    created_at   timestamptz NOT NULL DEFAULT now(),
    read_at      timestamptz,
    UNIQUE (incident_id, kind)
);
CREATE INDEX alert_events_project ON alert_events (project_id, created_at DESC);
CREATE INDEX alert_events_unread ON alert_events (project_id) WHERE read_at IS NULL;

-- The outbox: an alert event to send through one channel (channel_id NULL: the in-app push on NATS).
-- pending -> sending (claimed by the leader's dispatcher) -> sent, or back to pending with a later
-- next_attempt_at (exponential backoff), or failed after the last attempt. A 'sending' row whose claim is
-- old belonged to a leader that died mid-send: it is sent again (receivers de-duplicate by delivery id).
CREATE TABLE alert_deliveries (
    id               uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    project_id       uuid NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
    event_id         uuid NOT NULL REFERENCES alert_events (id) ON DELETE CASCADE,
    channel_id       uuid REFERENCES alert_channels (id) ON DELETE CASCADE,
    channel_kind     text NOT NULL CHECK (channel_kind IN ('in_app', 'email', 'slack', 'webhook')),
    status           text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'sending', 'sent', 'failed')),
    attempts         integer NOT NULL DEFAULT 0,
    next_attempt_at  timestamptz NOT NULL DEFAULT now(),
    claimed_at       timestamptz,
    sent_at          timestamptz,
    last_error       text,
    created_at       timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX alert_deliveries_due ON alert_deliveries (next_attempt_at) WHERE status IN ('pending', 'sending');
CREATE INDEX alert_deliveries_project ON alert_deliveries (project_id, created_at DESC);

-- Every attempt to send a delivery, failed or not, so failures are visible.
CREATE TABLE alert_delivery_attempts (
    id            bigserial PRIMARY KEY,
    delivery_id   uuid NOT NULL REFERENCES alert_deliveries (id) ON DELETE CASCADE,
    project_id    uuid NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
    attempted_at  timestamptz NOT NULL DEFAULT now(),
    ok            boolean NOT NULL,
    error         text,
    duration_ms   double precision NOT NULL
);
CREATE INDEX alert_delivery_attempts_delivery ON alert_delivery_attempts (delivery_id, attempted_at);
