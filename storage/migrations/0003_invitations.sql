-- Invitations to join an organization with a role. The secret is an opaque random
-- token handed to the invitee; only its SHA-256 digest is stored (high entropy, so a
-- fast digest is safe). An invitation works once (accepted_at), until expires_at,
-- unless revoked (a newer invitation for the same email replaces it).

CREATE TABLE invitations (
    id               uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    organization_id  uuid NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    email            text NOT NULL CHECK (email = lower(email) AND length(email) BETWEEN 3 AND 254),
    role             text NOT NULL CHECK (role IN ('ADMIN', 'DEVELOPER', 'VIEWER')),
    token_hash       bytea NOT NULL UNIQUE,
    invited_by       uuid REFERENCES users (id) ON DELETE SET NULL,
    created_at       timestamptz NOT NULL DEFAULT now(),
    expires_at       timestamptz NOT NULL,
    accepted_at      timestamptz,
    revoked_at       timestamptz
);
CREATE INDEX invitations_organization_email ON invitations (organization_id, email);
