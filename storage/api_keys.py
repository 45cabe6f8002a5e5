"""Project write keys: how they look, how they are stored, how they are created.

A key is `tm_live_` followed by 32 random base62 characters (~190 bits); only its
SHA-256 digest and a short display prefix are stored.
"""

import hashlib
import secrets
import string
from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

import asyncpg

KEY_PREFIX = "tm_live_"
_ALPHABET = string.ascii_letters + string.digits
_RANDOM_LENGTH = 32
DISPLAY_PREFIX_LENGTH = len(KEY_PREFIX) + 6


def generate_key() -> str:
    return KEY_PREFIX + "".join(secrets.choice(_ALPHABET) for _ in range(_RANDOM_LENGTH))


def hash_key(key: str) -> bytes:
    return hashlib.sha256(key.encode("utf-8")).digest()


@dataclass(frozen=True)
class CreatedKey:
    id: UUID
    project_id: UUID
    key: str
    prefix: str


async def create_api_key(connection: asyncpg.Connection, project_id: UUID, label: str = "") -> CreatedKey:
    key = generate_key()
    prefix = key[:DISPLAY_PREFIX_LENGTH]
    key_id = await connection.fetchval(
        "INSERT INTO api_keys (project_id, label, prefix, key_hash) VALUES ($1, $2, $3, $4) RETURNING id",
        project_id,
        label,
        prefix,
        hash_key(key),
    )
    return CreatedKey(id=key_id, project_id=project_id, key=key, prefix=prefix)


@dataclass(frozen=True)
class KeyGrant:
    """What a usable write key allows: writing to one project, at most this fast (None: the default),
    until it expires (None: no expiry, e.g. the old secret of a rotated key has one)."""

    project_id: UUID
    rate_limit: int | None
    expires_at: datetime | None
    store_ip: bool = False
    # Site origins whose browser events the project accepts (empty: any).
    allowed_origins: tuple[str, ...] = ()


async def find_grant_for_key(connection: asyncpg.Connection | asyncpg.Pool, key: str) -> KeyGrant | None:
    """The grant of a usable (not revoked, not expired) key, or None."""
    row = await connection.fetchrow(
        "SELECT k.project_id, p.rate_limit_events_per_second, k.expires_at, p.store_ip, p.allowed_origins"
        " FROM api_keys k JOIN projects p ON p.id = k.project_id"
        " WHERE k.key_hash = $1 AND k.revoked_at IS NULL AND (k.expires_at IS NULL OR k.expires_at > now())",
        hash_key(key),
    )
    if row is None:
        return None
    return KeyGrant(row["project_id"], row["rate_limit_events_per_second"], row["expires_at"], row["store_ip"],
                    tuple(row["allowed_origins"]))


async def rotate_api_key(connection: asyncpg.Connection, key_id: UUID, grace_seconds: float) -> CreatedKey:
    """A new secret for the key's project and label; the old one keeps working for `grace_seconds`."""
    async with connection.transaction():
        row = await connection.fetchrow(
            "UPDATE api_keys SET expires_at = least(coalesce(expires_at, 'infinity'),"
            " now() + make_interval(secs => $2)) WHERE id = $1 AND revoked_at IS NULL RETURNING project_id, label",
            key_id, grace_seconds,
        )
        if row is None:
            raise LookupError(f"no usable API key {key_id}")
        return await create_api_key(connection, row["project_id"], row["label"])


async def revoke_api_key(connection: asyncpg.Connection, key_id: UUID) -> bool:
    """Stop the key at once (ingest replicas notice within their key cache TTL); False if unknown."""
    return await connection.fetchval(
        "UPDATE api_keys SET revoked_at = now() WHERE id = $1 AND revoked_at IS NULL RETURNING true", key_id
    ) or False


async def find_project_for_key(connection: asyncpg.Connection | asyncpg.Pool, key: str) -> UUID | None:
    """The project a usable (not revoked, not expired) key writes to, or None."""
    grant = await find_grant_for_key(connection, key)
    return grant.project_id if grant else None


@dataclass(frozen=True)
class ApiKeyRow:
    """A key as its owners may see it: never the secret nor its digest."""

    id: UUID
    project_id: UUID
    label: str
    prefix: str
    created_at: datetime
    last_used_at: datetime | None
    expires_at: datetime | None
    revoked_at: datetime | None


_KEY_COLUMNS = "k.id, k.project_id, k.label, k.prefix, k.created_at, k.last_used_at, k.expires_at, k.revoked_at"


def _key_row(row: asyncpg.Record) -> ApiKeyRow:
    return ApiKeyRow(**{name: row[name] for name in ApiKeyRow.__dataclass_fields__})


async def list_api_keys(connection: asyncpg.Connection | asyncpg.Pool, project_id: UUID) -> list[ApiKeyRow]:
    """All keys of the project, revoked and expired ones included, oldest first."""
    rows = await connection.fetch(
        f"SELECT {_KEY_COLUMNS} FROM api_keys k WHERE k.project_id = $1 ORDER BY k.created_at, k.id", project_id
    )
    return [_key_row(row) for row in rows]


async def find_api_key(
    connection: asyncpg.Connection | asyncpg.Pool, key_id: UUID, organization_id: UUID
) -> ApiKeyRow | None:
    """The key, if it belongs to a project of the organization."""
    row = await connection.fetchrow(
        f"SELECT {_KEY_COLUMNS} FROM api_keys k JOIN projects p ON p.id = k.project_id"
        " WHERE k.id = $1 AND p.organization_id = $2",
        key_id, organization_id,
    )
    return _key_row(row) if row else None
