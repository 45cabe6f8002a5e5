-- Organizations, their users (with a role) and rotating refresh tokens; projects gain an owner.

CREATE TABLE organizations (
    id          uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    name        text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    created_at  timestamptz NOT NULL DEFAULT now()
);

-- Emails are stored lower-cased, so the UNIQUE constraint is case-insensitive.
CREATE TABLE users (
    id               uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    organization_id  uuid NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    email            text NOT NULL UNIQUE CHECK (email = lower(email) AND length(email) BETWEEN 3 AND 254),
    name             text NOT NULL DEFAULT '' CHECK (length(name) <= 200),
    password_hash    text NOT NULL,
    role             text NOT NULL CHECK (role IN ('ADMIN', 'DEVELOPER', 'VIEWER')),
    created_at       timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX users_organization ON users (organization_id);

-- Refresh tokens are opaque random strings stored only as SHA-256 digests (high
-- entropy, so a fast digest is safe). Rotation marks the presented token used and
-- issues a new one in the same family; presenting a used token again revokes the family.
CREATE TABLE refresh_tokens (
    id          uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    user_id     uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    family_id   uuid NOT NULL,
    token_hash  bytea NOT NULL UNIQUE,
    issued_at   timestamptz NOT NULL DEFAULT now(),
    expires_at  timestamptz NOT NULL,
    used_at     timestamptz,
    revoked_at  timestamptz
);
CREATE INDEX refresh_tokens_family ON refresh_tokens (family_id);
CREATE INDEX refresh_tokens_user ON refresh_tokens (user_id);

-- Nullable: projects created before accounts existed (or by `trackmint project create`
-- without an organization) belong to no organization, so no tenant can see them once
-- analytics are scoped to the caller's organization.
ALTER TABLE projects ADD COLUMN organization_id uuid REFERENCES organizations (id) ON DELETE CASCADE;
CREATE INDEX projects_organization ON projects (organization_id);
