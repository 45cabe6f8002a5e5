"""Event schemas in ingest: each project's JSON Schemas, compiled once and cached, and the check step.

A project registers a JSON Schema for an event name's properties with a mode
(table `event_schemas`): OFF does nothing, WARN accepts the event and flags it
(`enrichment.schema_violation`, stored as `events.schema_violation`), REJECT
refuses it with REJECTION_CODE_SCHEMA_VIOLATION. The reason names the failing
path and rule, e.g. `properties.price: must be number (schema rule type)`.

Which name a schema matches: a track event by its name; page and screen events
by their canonical names `$pageview` and `$screen` (as the processor stores
them). Identify, group and alias calls carry traits, not properties, and are
never checked.

Schemas are compiled with fastjsonschema and kept per project for `ttl`
seconds, like write keys (ingest/auth.py): a change reaches every replica
within that time. When the database cannot be reached, the last compiled
schemas stay in use (for up to ten minutes, like keys); a project never loaded
is answered UNAVAILABLE, so the SDK retries rather than skip its schemas. A
stored schema that does not compile, or a validator that fails on some input,
is logged and skipped: a broken schema never breaks ingest.
Remote `$ref`s are never fetched (no network access from a user's schema).
"""

import asyncio
import hashlib
import logging
import time
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum

import asyncpg
import fastjsonschema
import orjson

from ingest.errors import UnavailableError
from trackmint.v1 import batch_pb2, event_pb2

logger = logging.getLogger(__name__)

_STALE_GRACE_SECONDS = 600.0
_LOAD_TIMEOUT_SECONDS = 2.0
_MAX_CACHED_PROJECTS = 10_000
_MAX_REASON_LENGTH = 500

SCHEMA_EVENT_NAMES = {
    event_pb2.EVENT_TYPE_PAGE: "$pageview",
    event_pb2.EVENT_TYPE_SCREEN: "$screen",
}
"""Canonical names page and screen events are matched by (the same as processor/transform.py EVENT_NAMES)."""


class SchemaMode(StrEnum):
    OFF = "OFF"
    WARN = "WARN"
    REJECT = "REJECT"


class SchemaDefinitionError(ValueError):
    """A JSON Schema that cannot be compiled; the message says why."""


class _NoRemoteRefs(Mapping):
    """fastjsonschema `handlers` claiming every URI scheme, so a `$ref` never reaches urlopen."""

    def __contains__(self, scheme: object) -> bool:
        return True

    def __getitem__(self, scheme: str) -> Callable[[str], object]:
        def refuse(uri: str) -> object:
            raise SchemaDefinitionError(f"remote $ref {uri!r} is not allowed: keep the schema self-contained")

        return refuse

    def __iter__(self):
        return iter(())

    def __len__(self) -> int:
        return 0


def compile_schema(schema: object) -> Callable[[object], object]:
    """The validator of a JSON Schema; raises SchemaDefinitionError naming the problem."""
    if not isinstance(schema, dict | bool):
        raise SchemaDefinitionError(f"a JSON Schema must be an object, not {type(schema).__name__}")
    try:
        return fastjsonschema.compile(schema, handlers=_NoRemoteRefs(), use_default=False)
    except SchemaDefinitionError:
        raise
    except fastjsonschema.JsonSchemaDefinitionException as error:
        raise SchemaDefinitionError(f"invalid JSON Schema: {error}") from None
    except Exception as error:  # re.error for a bad pattern, RecursionError, ...: all mean "cannot compile"
        raise SchemaDefinitionError(f"invalid JSON Schema: {type(error).__name__}: {error}") from None


def violation_text(error: fastjsonschema.JsonSchemaValueException) -> str:
    """`properties.price: must be number (schema rule type)` from fastjsonschema's `data.price must be number`."""
    name = error.name or "data"
    path = "properties" + name[len("data"):] if name.startswith("data") else name
    message = error.message.removeprefix(error.name or "").strip() if error.message else "is invalid"
    return f"{path}: {message} (schema rule {error.rule})"[:_MAX_REASON_LENGTH]


@dataclass(frozen=True)
class CompiledSchema:
    event: str
    mode: SchemaMode
    digest: bytes
    validate: Callable[[object], object]

    def violation(self, properties_json: str) -> str | None:
        """Why the properties break the schema, or None when they pass (or the validator itself fails)."""
        try:
            self.validate(orjson.loads(properties_json or "{}"))
        except fastjsonschema.JsonSchemaValueException as error:
            return violation_text(error)
        except Exception as error:
            # Validation already proved the JSON parses; anything else is the schema's own fault.
            logger.warning("schema for %r failed while validating (%r); event accepted unchecked", self.event, error)
        return None


@dataclass
class _Entry:
    schemas: dict[str, CompiledSchema]
    # Last successful load, and last attempt: during an outage the stale entry is retried once per TTL,
    # not on every batch.
    loaded_at: float
    checked_at: float


@dataclass
class SchemaStats:
    """Running totals since start: events checked, violations by mode, schemas that failed to compile, time."""

    checked: int = 0
    violations: Counter = field(default_factory=Counter)
    invalid_schemas: int = 0
    seconds: float = 0.0


_LOAD = "SELECT event, json_schema::text AS json_schema, mode FROM event_schemas WHERE project_id = $1::uuid"


class SchemaRegistry:
    def __init__(self, pool: asyncpg.Pool, ttl: float) -> None:
        self._pool = pool
        self._ttl = ttl
        self._cache: dict[str, _Entry] = {}
        self.stats = SchemaStats()

    async def schemas_for(self, project_id: str) -> dict[str, CompiledSchema]:
        """The project's schemas by event name (OFF ones left out); raises UnavailableError if never loaded."""
        now = time.monotonic()
        entry = self._cache.get(project_id)
        if entry is None or now - entry.checked_at > self._ttl:
            entry = await self._refresh(project_id, entry, now)
        return entry.schemas

    async def _refresh(self, project_id: str, stale: _Entry | None, now: float) -> _Entry:
        try:
            async with asyncio.timeout(_LOAD_TIMEOUT_SECONDS):
                rows = await self._pool.fetch(_LOAD, project_id)
        except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError, TimeoutError) as error:
            if stale is not None and now - stale.loaded_at < _STALE_GRACE_SECONDS:
                logger.warning("schema store unreachable, using cached schemas of %s: %r", project_id, error)
                stale.checked_at = now
                return stale
            raise UnavailableError("cannot load the project's event schemas right now; retry later") from error
        previous = stale.schemas if stale is not None else {}
        schemas = {}
        for row in rows:
            if row["mode"] == SchemaMode.OFF:
                continue
            compiled = self._compiled(project_id, row, previous.get(row["event"]))
            if compiled is not None:
                schemas[row["event"]] = compiled
        if len(self._cache) >= _MAX_CACHED_PROJECTS:
            self._cache.clear()
        entry = _Entry(schemas, now, now)
        self._cache[project_id] = entry
        return entry

    def _compiled(self, project_id: str, row: asyncpg.Record, previous: CompiledSchema | None) -> CompiledSchema | None:
        text = row["json_schema"]
        digest = hashlib.sha256(text.encode("utf-8")).digest()
        mode = SchemaMode(row["mode"])
        if previous is not None and previous.digest == digest:
            # Compiling generates and execs Python code: do it only when the schema changed.
            return CompiledSchema(row["event"], mode, digest, previous.validate)
        try:
            validate = compile_schema(orjson.loads(text))
        except (SchemaDefinitionError, orjson.JSONDecodeError) as error:
            self.stats.invalid_schemas += 1
            logger.error("stored schema of %s for %r does not compile and is ignored: %s",
                         project_id, row["event"], error)
            return None
        return CompiledSchema(row["event"], mode, digest, validate)


def schema_event_name(event: event_pb2.Event) -> str | None:
    """The name a schema is registered under for this event, or None for calls that are never checked."""
    if event.type == event_pb2.EVENT_TYPE_TRACK:
        return event.name
    return SCHEMA_EVENT_NAMES.get(event.type)


@dataclass
class SchemaCheck:
    accepted: list[event_pb2.Event]
    # The refused events with their rejections (which carry their index in the batch).
    rejected: list[tuple[event_pb2.Event, batch_pb2.Rejection]]


def check_schemas(
    schemas: Mapping[str, CompiledSchema], events: list[event_pb2.Event], indices: list[int], stats: SchemaStats
) -> SchemaCheck:
    """Run after validation and enrichment on the accepted events; `indices` are their positions in the batch."""
    if not schemas:
        return SchemaCheck(events, [])
    started = time.perf_counter()
    accepted: list[event_pb2.Event] = []
    rejected: list[tuple[event_pb2.Event, batch_pb2.Rejection]] = []
    for index, event in zip(indices, events, strict=True):
        name = schema_event_name(event)
        schema = schemas.get(name) if name is not None else None
        if schema is None:
            accepted.append(event)
            continue
        stats.checked += 1
        violation = schema.violation(event.properties_json)
        if violation is None:
            accepted.append(event)
            continue
        stats.violations[schema.mode.value] += 1
        if schema.mode is SchemaMode.REJECT:
            rejected.append((event, batch_pb2.Rejection(
                index=index, code=batch_pb2.REJECTION_CODE_SCHEMA_VIOLATION, reason=violation,
                message_id=event.message_id[:200],
            )))
        else:
            event.enrichment.schema_violation = violation
            accepted.append(event)
    stats.seconds += time.perf_counter() - started
    return SchemaCheck(accepted, rejected)
