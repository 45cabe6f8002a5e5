"""Organizations, their users and refresh tokens: rows in, rows out.

Everything here takes already-hashed secrets (argon2 password hashes, SHA-256
digests of refresh tokens); hashing and the rules around it live in
`query/auth/`. Emails are stored lower-cased, so callers pass them normalised.
"""

from dataclasses import dataclass
from datetime import datetime
from enum import Enum
from uuid import UUID

import asyncpg


def normalise_email(email: str) -> str:
    """The stored form of an email: trimmed and lower-cased (users.email has a CHECK for it)."""
    return email.strip().lower()


class EmailTakenError(ValueError):
    """Another user already has this email."""


@dataclass(frozen=True)
class Organization:
    id: UUID
    name: str


@dataclass(frozen=True)
class User:
    id: UUID
    organization_id: UUID
    email: str
    name: str
    role: str


@dataclass(frozen=True)
class UserCredentials:
    """A user with their password hash, for login only: never returned to clients."""

    user: User
    password_hash: str


_USER_COLUMNS = "u.id, u.organization_id, u.email, u.name, u.role"


def _user(row: asyncpg.Record) -> User:
    return User(row["id"], row["organization_id"], row["email"], row["name"], row["role"])


async def create_organization_with_admin(
    connection: asyncpg.Connection, org_name: str, *, email: str, name: str, password_hash: str
) -> tuple[Organization, User]:
    """A new organization and its first ADMIN, both or neither."""
    async with connection.transaction():
        org_id = await connection.fetchval("INSERT INTO organizations (name) VALUES ($1) RETURNING id", org_name)
        try:
            # A savepoint, so the caller's connection stays usable after a duplicate email.
            async with connection.transaction():
                user_id = await connection.fetchval(
                    "INSERT INTO users (organization_id, email, name, password_hash, role)"
                    " VALUES ($1, $2, $3, $4, 'ADMIN') RETURNING id",
                    org_id, email, name, password_hash,
                )
        except asyncpg.UniqueViolationError:
            raise EmailTakenError("email already registered") from None
    return Organization(org_id, org_name), User(user_id, org_id, email, name, "ADMIN")


async def find_credentials_by_email(
    connection: asyncpg.Connection | asyncpg.Pool, email: str
) -> UserCredentials | None:
    row = await connection.fetchrow(
        f"SELECT {_USER_COLUMNS}, u.password_hash FROM users u WHERE u.email = $1", email
    )
    return UserCredentials(_user(row), row["password_hash"]) if row else None


async def find_user(connection: asyncpg.Connection | asyncpg.Pool, user_id: UUID) -> User | None:
    row = await connection.fetchrow(f"SELECT {_USER_COLUMNS} FROM users u WHERE u.id = $1", user_id)
    return _user(row) if row else None


async def find_organization(connection: asyncpg.Connection | asyncpg.Pool, org_id: UUID) -> Organization | None:
    row = await connection.fetchrow("SELECT id, name FROM organizations WHERE id = $1", org_id)
    return Organization(row["id"], row["name"]) if row else None


async def update_password_hash(
    connection: asyncpg.Connection | asyncpg.Pool, user_id: UUID, password_hash: str
) -> None:
    await connection.execute("UPDATE users SET password_hash = $2 WHERE id = $1", user_id, password_hash)


async def find_project_in_organization(connection: asyncpg.Connection, org_id: UUID, name: str) -> UUID | None:
    """The oldest project of this organization with this name, if any."""
    return await connection.fetchval(
        "SELECT id FROM projects WHERE organization_id = $1 AND name = $2 ORDER BY created_at, id LIMIT 1",
        org_id, name,
    )


async def assign_project(connection: asyncpg.Connection, project_id: UUID, org_id: UUID) -> None:
    await connection.execute("UPDATE projects SET organization_id = $2 WHERE id = $1", project_id, org_id)


# Refresh tokens.


async def insert_refresh_token(
    connection: asyncpg.Connection | asyncpg.Pool,
    *,
    user_id: UUID,
    family_id: UUID,
    token_hash: bytes,
    expires_at: datetime,
) -> None:
    await connection.execute(
        "INSERT INTO refresh_tokens (user_id, family_id, token_hash, expires_at) VALUES ($1, $2, $3, $4)",
        user_id, family_id, token_hash, expires_at,
    )


class RefreshOutcome(Enum):
    ROTATED = "rotated"
    UNKNOWN = "unknown"
    EXPIRED = "expired"
    REVOKED = "revoked"
    REUSED = "reused"


@dataclass(frozen=True)
class PresentedToken:
    user_id: UUID
    family_id: UUID


async def use_refresh_token(
    connection: asyncpg.Connection, token_hash: bytes
) -> tuple[RefreshOutcome, PresentedToken | None]:
    """Mark a live token used (call inside a transaction, then insert its successor).

    A token that was already used is a replay (of a stolen copy, or by the thief after
    the owner rotated): its whole family is revoked, and the caller must commit that.
    """
    row = await connection.fetchrow(
        "SELECT id, user_id, family_id, expires_at <= now() AS expired, used_at, revoked_at"
        " FROM refresh_tokens WHERE token_hash = $1 FOR UPDATE",
        token_hash,
    )
    if row is None:
        return RefreshOutcome.UNKNOWN, None
    presented = PresentedToken(row["user_id"], row["family_id"])
    if row["revoked_at"] is not None:
        return RefreshOutcome.REVOKED, presented
    if row["used_at"] is not None:
        await revoke_family(connection, row["family_id"])
        return RefreshOutcome.REUSED, presented
    if row["expired"]:
        return RefreshOutcome.EXPIRED, presented
    await connection.execute("UPDATE refresh_tokens SET used_at = now() WHERE id = $1", row["id"])
    return RefreshOutcome.ROTATED, presented


async def revoke_family(connection: asyncpg.Connection | asyncpg.Pool, family_id: UUID) -> int:
    """Revoke every token of the family; returns how many were still unrevoked."""
    result = await connection.execute(
        "UPDATE refresh_tokens SET revoked_at = now() WHERE family_id = $1 AND revoked_at IS NULL", family_id
    )
    return int(result.split()[-1])


async def find_family(connection: asyncpg.Connection | asyncpg.Pool, token_hash: bytes) -> UUID | None:
    return await connection.fetchval("SELECT family_id FROM refresh_tokens WHERE token_hash = $1", token_hash)
