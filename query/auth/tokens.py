"""Access tokens (JWT) and refresh tokens (opaque, rotating).

Access tokens are HS256 JWTs signed with `settings.secret_key`, valid for
`settings.access_token_ttl_seconds`; they carry who the caller is
(`sub` user id, `org`, `role`) so requests need no database lookup to
authenticate, and cannot be revoked before they expire (hence short-lived).

Refresh tokens are opaque random strings; only their SHA-256 digest is stored.
Each login starts a family; `rotate_refresh_token` marks the presented token
used and issues its successor in the same family. Presenting a used token
again means a copy leaked, so the whole family is revoked: both the thief's
and the owner's newest token stop working and the user logs in again.

Invitation tokens are opaque one-time secrets too, stored the same way.
"""

import hashlib
import secrets
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from uuid import UUID

import asyncpg
import jwt

from config import Settings
from storage import accounts
from storage.accounts import RefreshOutcome

ALGORITHM = "HS256"
ACCESS_TOKEN_TYPE = "access"
ROLES = frozenset({"ADMIN", "DEVELOPER", "VIEWER"})


class TokenError(Exception):
    """A credential that cannot be accepted; the message says why (never echoes the token)."""


@dataclass(frozen=True)
class AccessClaims:
    user_id: UUID
    organization_id: UUID
    role: str


def issue_access_token(
    settings: Settings, user_id: UUID, organization_id: UUID, role: str, *, now: float | None = None
) -> str:
    """A signed access token; `now` (epoch seconds) backdates it, for tests of expiry."""
    issued = int(time.time() if now is None else now)
    claims = {
        "sub": str(user_id),
        "org": str(organization_id),
        "role": role,
        "iat": issued,
        "exp": issued + settings.access_token_ttl_seconds,
        "typ": ACCESS_TOKEN_TYPE,
    }
    return jwt.encode(claims, settings.secret_key, algorithm=ALGORITHM)


def verify_access_token(settings: Settings, token: str) -> AccessClaims:
    try:
        claims = jwt.decode(
            token,
            settings.secret_key,
            algorithms=[ALGORITHM],
            options={"require": ["sub", "org", "role", "iat", "exp", "typ"]},
        )
    except jwt.ExpiredSignatureError:
        raise TokenError("access token expired; refresh it or log in again") from None
    except jwt.InvalidTokenError:
        raise TokenError("access token invalid") from None
    if claims["typ"] != ACCESS_TOKEN_TYPE:
        raise TokenError("access token invalid: not an access token")
    if claims["role"] not in ROLES:
        raise TokenError("access token invalid: unknown role")
    try:
        return AccessClaims(UUID(claims["sub"]), UUID(claims["org"]), claims["role"])
    except (ValueError, TypeError, AttributeError):
        raise TokenError("access token invalid: malformed subject") from None


def _generate_refresh_token() -> str:
    return secrets.token_urlsafe(32)


def hash_refresh_token(token: str) -> bytes:
    return hashlib.sha256(token.encode("utf-8")).digest()


async def issue_refresh_token(
    connection: asyncpg.Connection | asyncpg.Pool, settings: Settings, user_id: UUID, family_id: UUID | None = None
) -> str:
    """A new refresh token for the user; a new family unless `family_id` continues one."""
    token = _generate_refresh_token()
    await accounts.insert_refresh_token(
        connection,
        user_id=user_id,
        family_id=family_id or uuid.uuid4(),
        token_hash=hash_refresh_token(token),
        expires_at=datetime.now(UTC) + timedelta(days=settings.refresh_token_ttl_days),
    )
    return token


_REFUSALS = {
    RefreshOutcome.UNKNOWN: "refresh token invalid",
    RefreshOutcome.EXPIRED: "refresh token expired; log in again",
    RefreshOutcome.REVOKED: "refresh token revoked; log in again",
    RefreshOutcome.REUSED: "refresh token already used; its session has been revoked, log in again",
}


async def rotate_refresh_token(connection: asyncpg.Connection, settings: Settings, token: str) -> tuple[UUID, str]:
    """Spend `token`; returns (user id, its successor). Raises TokenError when refused."""
    async with connection.transaction():
        outcome, presented = await accounts.use_refresh_token(connection, hash_refresh_token(token))
        if outcome is RefreshOutcome.ROTATED:
            assert presented is not None
            successor = await issue_refresh_token(connection, settings, presented.user_id, presented.family_id)
            return presented.user_id, successor
    # Outside the transaction: a reuse's family revocation is committed before we refuse.
    raise TokenError(_REFUSALS[outcome])


async def revoke_refresh_family(connection: asyncpg.Connection | asyncpg.Pool, token: str) -> bool:
    """Log out the session `token` belongs to; False when the token is unknown or already revoked."""
    family_id = await accounts.find_family(connection, hash_refresh_token(token))
    if family_id is None:
        return False
    return await accounts.revoke_family(connection, family_id) > 0


def new_invitation_token() -> tuple[str, bytes]:
    """A one-time invitation secret and the SHA-256 digest to store in its place."""
    token = secrets.token_urlsafe(32)
    return token, hash_invitation_token(token)


def hash_invitation_token(token: str) -> bytes:
    return hashlib.sha256(token.encode("utf-8")).digest()
