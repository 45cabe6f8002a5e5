"""Projects: creating (with or without a first write key), listing, changing and deleting them with their data."""

from dataclasses import dataclass, field
from datetime import datetime
from urllib.parse import urlsplit
from uuid import UUID
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import asyncpg
import orjson

from storage.api_keys import create_api_key


class InvalidTimezoneError(ValueError):
    """The timezone is not an IANA name this machine knows."""


class InvalidRateLimitError(ValueError):
    """A rate limit that is not a positive number of events per second."""


class InvalidOriginError(ValueError):
    """An allowed origin that is not `scheme://host[:port]` (host may start with `*.`)."""


class InvalidAutocaptureError(ValueError):
    """An autocapture option the browser snippet does not know."""


@dataclass(frozen=True)
class CreatedProject:
    project_id: UUID
    write_key: str


def check_timezone(timezone: str) -> None:
    """Raise InvalidTimezoneError unless `timezone` is an IANA name this machine knows."""
    try:
        ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError) as error:
        raise InvalidTimezoneError(f"unknown timezone {timezone!r}") from error


def check_rate_limit(rate_limit: int | None) -> None:
    """Raise InvalidRateLimitError unless `rate_limit` is None (the ingest default) or positive."""
    if rate_limit is not None and rate_limit <= 0:
        raise InvalidRateLimitError(f"rate limit must be a positive number of events per second, not {rate_limit}")


async def insert_project(
    connection: asyncpg.Connection, name: str, timezone: str = "UTC", *,
    rate_limit: int | None = None, organization_id: UUID | None = None,
) -> UUID:
    """A project without write keys (its owner creates them), optionally owned by an organization."""
    check_rate_limit(rate_limit)
    check_timezone(timezone)
    return await connection.fetchval(
        "INSERT INTO projects (name, timezone, rate_limit_events_per_second, organization_id)"
        " VALUES ($1, $2, $3, $4) RETURNING id",
        name, timezone, rate_limit, organization_id,
    )


async def create_project(
    connection: asyncpg.Connection, name: str, timezone: str = "UTC", *, rate_limit: int | None = None
) -> CreatedProject:
    """A project with its first write key; rate_limit in events/s per key and ingest replica (None: default)."""
    async with connection.transaction():
        project_id = await insert_project(connection, name, timezone, rate_limit=rate_limit)
        key = await create_api_key(connection, project_id, label="default")
    return CreatedProject(project_id=project_id, write_key=key.key)


@dataclass(frozen=True)
class ProjectRow:
    id: UUID
    name: str
    timezone: str
    created_at: datetime
    rate_limit: int | None
    # Browser settings: site origins allowed to send events (empty: any), the snippet's autocapture
    # options (defaults filled in), whether ingest keeps client IP addresses.
    allowed_origins: tuple[str, ...] = ()
    autocapture: dict[str, bool] = field(default_factory=dict)
    store_ip: bool = False


_COLUMNS = "id, name, timezone, created_at, rate_limit_events_per_second, allowed_origins, autocapture, store_ip"


def _project(row: asyncpg.Record) -> ProjectRow:
    return ProjectRow(row["id"], row["name"], row["timezone"], row["created_at"], row["rate_limit_events_per_second"],
                      tuple(row["allowed_origins"]), autocapture_with_defaults(row["autocapture"]), row["store_ip"])


async def list_projects(connection: asyncpg.Connection | asyncpg.Pool, organization_id: UUID) -> list[ProjectRow]:
    """The organization's projects, oldest first."""
    rows = await connection.fetch(
        f"SELECT {_COLUMNS} FROM projects WHERE organization_id = $1 ORDER BY created_at, id", organization_id
    )
    return [_project(row) for row in rows]


async def find_project(
    connection: asyncpg.Connection | asyncpg.Pool, project_id: UUID, organization_id: UUID
) -> ProjectRow | None:
    """The project, if the organization owns it."""
    row = await connection.fetchrow(
        f"SELECT {_COLUMNS} FROM projects WHERE id = $1 AND organization_id = $2", project_id, organization_id
    )
    return _project(row) if row else None


_UNCHANGED = object()


async def update_project(
    pool: asyncpg.Pool, project_id: UUID, organization_id: UUID, *,
    name: str | None = None, timezone: str | None = None, rate_limit: "int | object | None" = _UNCHANGED,
) -> ProjectRow | None:
    """Change the given fields (None name/timezone: unchanged; rate_limit None: back to the ingest default).

    A new timezone re-counts the daily-active-persons rollup in it, in the same transaction, so queries
    never see days of one timezone with the setting of another.

    None if the organization owns no such project.
    """
    if timezone is not None:
        check_timezone(timezone)
    keep_rate = rate_limit is _UNCHANGED
    if not keep_rate:
        check_rate_limit(rate_limit)  # type: ignore[arg-type]
    async with pool.acquire() as connection, connection.transaction():
        before = await connection.fetchval(
            "SELECT timezone FROM projects WHERE id = $1 AND organization_id = $2 FOR UPDATE",
            project_id, organization_id,
        )
        row = await connection.fetchrow(
            "UPDATE projects SET name = coalesce($3, name), timezone = coalesce($4, timezone),"
            " rate_limit_events_per_second = CASE WHEN $5 THEN rate_limit_events_per_second ELSE $6::integer END"
            f" WHERE id = $1 AND organization_id = $2 RETURNING {_COLUMNS}",
            project_id, organization_id, name, timezone, keep_rate, None if keep_rate else rate_limit,
        )
        if row is not None and timezone is not None and timezone != before:
            await connection.execute("SELECT rebuild_active_persons($1)", project_id)
    return _project(row) if row else None


async def delete_project(connection: asyncpg.Connection, project_id: UUID, organization_id: UUID) -> bool:
    """Delete the project, its events, de-duplication ids, rollups, persons and sessions, and (by cascade) its
    keys and settings, all or nothing.

    False if the organization owns no such project.
    """
    async with connection.transaction():
        # Locked, so a concurrent update or delete of the same project waits for this one.
        owned = await connection.fetchval(
            "SELECT true FROM projects WHERE id = $1 AND organization_id = $2 FOR UPDATE", project_id, organization_id
        )
        if not owned:
            return False
        for table in ("events", "event_message_ids", "event_counts", "event_counts_hourly", "event_values_hourly",
                      "sessions", "session_hourly", "person_distinct_ids", "persons",
                      "event_properties", "person_days", "person_event_days", "active_person_counts",
                      # Alerting, children first (they would also go by cascade with the project).
                      "alert_delivery_attempts", "alert_deliveries", "alert_events", "alert_state_changes",
                      "alert_rule_states", "alert_rules", "alert_channels"):
            await connection.execute(f"DELETE FROM {table} WHERE project_id = $1", project_id)
        await connection.execute("DELETE FROM projects WHERE id = $1", project_id)
    return True


AUTOCAPTURE_DEFAULTS: dict[str, bool] = {"pageviews": True, "clicks": False, "forms": False, "form_values": False}
"""What the browser snippet captures by itself unless the project says otherwise."""
MAX_ALLOWED_ORIGINS = 100


def autocapture_with_defaults(stored: str | dict | None) -> dict[str, bool]:
    """The stored autocapture options (jsonb text or a dict) over the defaults; unknown keys are dropped."""
    values = orjson.loads(stored) if isinstance(stored, str) else (stored or {})
    return {name: bool(values.get(name, default)) for name, default in AUTOCAPTURE_DEFAULTS.items()}


def check_autocapture(options: dict[str, bool]) -> None:
    unknown = sorted(set(options) - set(AUTOCAPTURE_DEFAULTS))
    if unknown:
        raise InvalidAutocaptureError(
            f"unknown autocapture option(s) {', '.join(unknown)}; known: {', '.join(AUTOCAPTURE_DEFAULTS)}"
        )


def canonical_origin(value: str) -> str:
    """`value` as browsers send it in the Origin header: lower-case `scheme://host[:port]`, no default port.

    A host may start with `*.` to allow every subdomain. Raises InvalidOriginError otherwise.
    """
    text = value.strip().lower().rstrip("/")
    try:
        parts = urlsplit(text)
        port = parts.port
    except ValueError as error:
        raise InvalidOriginError(f"{value!r} is not an origin: {error}") from None
    host = parts.hostname or ""
    bare_host = host.removeprefix("*.")
    if (parts.scheme not in ("http", "https") or not bare_host or "*" in bare_host or parts.path or parts.query
            or parts.fragment or parts.username or parts.password):
        raise InvalidOriginError(
            f"{value!r} is not an origin: expected scheme://host[:port] such as https://example.com "
            "(or https://*.example.com for every subdomain), without a path"
        )
    if port is None or (parts.scheme, port) in (("http", 80), ("https", 443)):
        return f"{parts.scheme}://{host}"
    return f"{parts.scheme}://{host}:{port}"


async def update_browser_settings(
    connection: asyncpg.Connection | asyncpg.Pool, project_id: UUID, organization_id: UUID, *,
    allowed_origins: list[str] | None = None, autocapture: dict[str, bool] | None = None,
    store_ip: bool | None = None,
) -> ProjectRow | None:
    """Change the given browser settings (None: unchanged); autocapture options given are merged into the
    stored ones. Origins are canonicalised and de-duplicated. None if the organization owns no such project."""
    origins = None
    if allowed_origins is not None:
        if len(allowed_origins) > MAX_ALLOWED_ORIGINS:
            raise InvalidOriginError(f"at most {MAX_ALLOWED_ORIGINS} allowed origins, not {len(allowed_origins)}")
        origins = list(dict.fromkeys(canonical_origin(origin) for origin in allowed_origins))
    if autocapture is not None:
        check_autocapture(autocapture)
    row = await connection.fetchrow(
        "UPDATE projects SET allowed_origins = coalesce($3::text[], allowed_origins),"
        " autocapture = autocapture || coalesce($4::jsonb, '{}'), store_ip = coalesce($5, store_ip)"
        f" WHERE id = $1 AND organization_id = $2 RETURNING {_COLUMNS}",
        project_id, organization_id, origins,
        orjson.dumps(autocapture).decode() if autocapture is not None else None, store_ip,
    )
    return _project(row) if row else None


async def find_browser_config(connection: asyncpg.Connection | asyncpg.Pool, project_id: UUID) -> dict[str, bool]:
    """The project's autocapture options, defaults filled in (for the snippet's /v1/config)."""
    stored = await connection.fetchval("SELECT autocapture FROM projects WHERE id = $1", project_id)
    return autocapture_with_defaults(stored)
