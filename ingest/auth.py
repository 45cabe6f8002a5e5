"""Resolving write keys to projects, from a short-lived cache so a batch costs no database round trip.

Entries live `ttl` seconds, so a revoked key stops working on every replica
within that time. When the database cannot be reached, a recently valid key
keeps working (JetStream buffers the events) rather than turning a database
outage into lost events.
"""

import hashlib
import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

import asyncpg

from ingest import metadata_keys
from ingest.errors import AuthenticationError, UnavailableError
from storage.api_keys import DISPLAY_PREFIX_LENGTH, find_grant_for_key

logger = logging.getLogger(__name__)

_MAX_KEY_LENGTH = 256
_STALE_GRACE_SECONDS = 600.0
_MAX_CACHE_ENTRIES = 100_000


def key_from_metadata(metadata: Sequence[tuple[str, str | bytes]] | None) -> str:
    """The write key carried by `authorization: Bearer <key>` or `x-api-key: <key>`."""
    for name, value in metadata or ():
        if isinstance(value, bytes):
            continue
        if name == metadata_keys.AUTHORIZATION:
            scheme, _, credential = value.strip().partition(" ")
            if scheme.lower() == "bearer" and credential.strip():
                return credential.strip()
            raise AuthenticationError("authorization metadata must be 'Bearer <write key>'")
        if name == metadata_keys.API_KEY and value.strip():
            return value.strip()
    raise AuthenticationError("missing write key: send 'authorization: Bearer <key>' or 'x-api-key' metadata")


@dataclass(frozen=True)
class Grant:
    """An authenticated caller: the project it writes to, its rate limit (None: the default) and settings."""

    project_id: str
    key_digest: bytes
    rate_limit: int | None
    expires_at: datetime | None
    store_ip: bool = False
    allowed_origins: tuple[str, ...] = ()


@dataclass
class _Entry:
    grant: Grant | None
    fetched_at: float


class KeyResolver:
    def __init__(self, pool: asyncpg.Pool, ttl: float) -> None:
        self._pool = pool
        self._ttl = ttl
        self._cache: dict[bytes, _Entry] = {}

    async def grant_for(self, key: str) -> Grant:
        """What the key may do; raises AuthenticationError or UnavailableError."""
        try:
            encoded = key.encode("utf-8")
        except UnicodeEncodeError:  # a lone surrogate from a JSON body: no key is spelled so
            raise AuthenticationError("unknown write key") from None
        if len(key) > _MAX_KEY_LENGTH:
            raise AuthenticationError("unknown write key")
        digest = hashlib.sha256(encoded).digest()
        now = time.monotonic()
        entry = self._cache.get(digest)
        if entry is None or now - entry.fetched_at > self._ttl:
            entry = await self._refresh(digest, key, entry, now)
        grant = entry.grant
        # Expiry is checked on every use, not only on refresh: a rotated key's old secret stops
        # exactly when its grace period ends, whatever the cache holds.
        if grant is None or (grant.expires_at is not None and grant.expires_at <= datetime.now(UTC)):
            raise AuthenticationError(f"unknown, revoked or expired write key {key[:DISPLAY_PREFIX_LENGTH]}...")
        return grant

    async def _refresh(self, digest: bytes, key: str, stale: _Entry | None, now: float) -> _Entry:
        try:
            found = await find_grant_for_key(self._pool, key)
        except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError, TimeoutError) as error:
            if stale is not None and stale.grant is not None and now - stale.fetched_at < _STALE_GRACE_SECONDS:
                logger.warning("key store unreachable, using cached key for up to %ss: %s",
                               _STALE_GRACE_SECONDS, error)
                return stale
            raise UnavailableError("cannot verify the write key right now; retry later") from error
        if len(self._cache) >= _MAX_CACHE_ENTRIES:
            self._cache.clear()  # bounded memory against floods of random keys
        grant = (
            Grant(str(found.project_id), digest, found.rate_limit, found.expires_at, found.store_ip,
                  found.allowed_origins)
            if found else None
        )
        entry = _Entry(grant, now)
        self._cache[digest] = entry
        return entry
