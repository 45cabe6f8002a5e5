"""An organization's members and invitations: rows in, rows out.

Invitation secrets arrive already hashed (SHA-256 digests); generating them and
the rules around them live in `query/auth/` and `query/members/`. Changes that
could leave an organization without an ADMIN (demoting or removing one) lock
the organization's ADMIN rows first, so two concurrent demotions cannot both
pass the "another ADMIN remains" check.
"""

from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

import asyncpg

from storage.accounts import EmailTakenError, User


class LastAdminError(ValueError):
    """The change would leave the organization without an ADMIN."""


@dataclass(frozen=True)
class MemberRow:
    id: UUID
    email: str
    name: str
    role: str
    created_at: datetime


@dataclass(frozen=True)
class InvitationRow:
    id: UUID
    email: str
    role: str
    expires_at: datetime


_MEMBER_COLUMNS = "id, email, name, role, created_at"


def _member(row: asyncpg.Record) -> MemberRow:
    return MemberRow(row["id"], row["email"], row["name"], row["role"], row["created_at"])


async def list_members(connection: asyncpg.Connection | asyncpg.Pool, organization_id: UUID) -> list[MemberRow]:
    rows = await connection.fetch(
        f"SELECT {_MEMBER_COLUMNS} FROM users WHERE organization_id = $1 ORDER BY created_at, id", organization_id
    )
    return [_member(row) for row in rows]


async def email_taken(connection: asyncpg.Connection | asyncpg.Pool, email: str) -> bool:
    return bool(await connection.fetchval("SELECT EXISTS (SELECT 1 FROM users WHERE email = $1)", email))


async def insert_invitation(
    connection: asyncpg.Connection, organization_id: UUID, *, email: str, role: str, token_hash: bytes,
    invited_by: UUID, expires_at: datetime,
) -> InvitationRow:
    """A new invitation; earlier pending invitations of the same email to this organization stop working."""
    async with connection.transaction():
        await connection.execute(
            "UPDATE invitations SET revoked_at = now()"
            " WHERE organization_id = $1 AND email = $2 AND accepted_at IS NULL AND revoked_at IS NULL",
            organization_id, email,
        )
        row = await connection.fetchrow(
            "INSERT INTO invitations (organization_id, email, role, token_hash, invited_by, expires_at)"
            " VALUES ($1, $2, $3, $4, $5, $6) RETURNING id, email, role, expires_at",
            organization_id, email, role, token_hash, invited_by, expires_at,
        )
    return InvitationRow(row["id"], row["email"], row["role"], row["expires_at"])


async def accept_invitation(
    connection: asyncpg.Connection, token_hash: bytes, *, name: str, password_hash: str
) -> User | None:
    """The user created from a live invitation, which is spent; None if it is unknown, used, revoked or expired.

    Raises EmailTakenError (and spends nothing) when the email became a user meanwhile.
    """
    async with connection.transaction():
        invitation = await connection.fetchrow(
            "SELECT id, organization_id, email, role FROM invitations WHERE token_hash = $1"
            " AND accepted_at IS NULL AND revoked_at IS NULL AND expires_at > now() FOR UPDATE",
            token_hash,
        )
        if invitation is None:
            return None
        try:
            # A savepoint, so the caller's connection stays usable after a duplicate email.
            async with connection.transaction():
                user_id = await connection.fetchval(
                    "INSERT INTO users (organization_id, email, name, password_hash, role)"
                    " VALUES ($1, $2, $3, $4, $5) RETURNING id",
                    invitation["organization_id"], invitation["email"], name, password_hash, invitation["role"],
                )
        except asyncpg.UniqueViolationError:
            raise EmailTakenError("email already registered") from None
        await connection.execute("UPDATE invitations SET accepted_at = now() WHERE id = $1", invitation["id"])
    return User(user_id, invitation["organization_id"], invitation["email"], name, invitation["role"])


async def _lock_admins(connection: asyncpg.Connection, organization_id: UUID) -> set[UUID]:
    rows = await connection.fetch(
        "SELECT id FROM users WHERE organization_id = $1 AND role = 'ADMIN' ORDER BY id FOR UPDATE", organization_id
    )
    return {row["id"] for row in rows}


async def _find_member(connection: asyncpg.Connection, organization_id: UUID, user_id: UUID) -> MemberRow | None:
    row = await connection.fetchrow(
        f"SELECT {_MEMBER_COLUMNS} FROM users WHERE id = $1 AND organization_id = $2 FOR UPDATE",
        user_id, organization_id,
    )
    return _member(row) if row else None


async def set_member_role(
    connection: asyncpg.Connection, organization_id: UUID, user_id: UUID, role: str
) -> MemberRow | None:
    """Give the member a role and revoke their refresh tokens if it changed; None if no such member here.

    Raises LastAdminError rather than demote the organization's only ADMIN.
    """
    async with connection.transaction():
        admins = await _lock_admins(connection, organization_id)
        member = await _find_member(connection, organization_id, user_id)
        if member is None or member.role == role:
            return member
        if admins == {user_id}:
            raise LastAdminError("the organization's last ADMIN cannot be demoted")
        row = await connection.fetchrow(
            f"UPDATE users SET role = $2 WHERE id = $1 RETURNING {_MEMBER_COLUMNS}", user_id, role
        )
        # Every session ends, so the next access token (after logging in again) carries the new role.
        await connection.execute(
            "UPDATE refresh_tokens SET revoked_at = now() WHERE user_id = $1 AND revoked_at IS NULL", user_id
        )
    return _member(row)


async def remove_member(connection: asyncpg.Connection, organization_id: UUID, user_id: UUID) -> bool:
    """Delete the member (their refresh tokens go with them); False if no such member here.

    Raises LastAdminError rather than remove the organization's only ADMIN.
    """
    async with connection.transaction():
        admins = await _lock_admins(connection, organization_id)
        member = await _find_member(connection, organization_id, user_id)
        if member is None:
            return False
        if admins == {user_id}:
            raise LastAdminError("the organization's last ADMIN cannot be removed")
        await connection.execute("DELETE FROM users WHERE id = $1", user_id)
    return True
