-- Scheduled email reports: a report spec (query/reports/spec.py, without project and range) sent DAILY or
-- WEEKLY at `hour` (and `weekday`, 0 = Monday) of the project's timezone, as a PDF attachment, to members of
-- the organization, through an email channel. A daily report covers the previous whole day, a weekly one the
-- previous seven whole days, in that timezone.
--
-- The alerting leader claims a due schedule by moving `next_run_at` to the following run in the same
-- transaction that reads it (FOR UPDATE SKIP LOCKED), so a due run is sent once even while two replicas
-- believe they lead; what the send did is recorded in `last_status` / `last_error`.
CREATE TABLE report_schedules (
    id              uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    project_id      uuid NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
    name            text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    report          jsonb NOT NULL,
    frequency       text NOT NULL CHECK (frequency IN ('daily', 'weekly')),
    -- Only weekly schedules have a weekday.
    weekday         smallint CHECK (weekday BETWEEN 0 AND 6),
    hour            smallint NOT NULL CHECK (hour BETWEEN 0 AND 23),
    recipient_ids   uuid[] NOT NULL CHECK (cardinality(recipient_ids) BETWEEN 1 AND 50),
    -- A deleted channel leaves the schedule in place, failing visibly until another channel is chosen.
    channel_id      uuid REFERENCES alert_channels (id) ON DELETE SET NULL,
    enabled         boolean NOT NULL DEFAULT true,
    next_run_at     timestamptz NOT NULL,
    last_run_at     timestamptz,
    last_status     text CHECK (last_status IN ('sending', 'sent', 'failed')),
    last_error      text,
    created_by      uuid REFERENCES users (id) ON DELETE SET NULL,
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now(),
    CHECK ((frequency = 'weekly') = (weekday IS NOT NULL))
);
CREATE INDEX report_schedules_project ON report_schedules (project_id);
CREATE INDEX report_schedules_due ON report_schedules (next_run_at) WHERE enabled;
