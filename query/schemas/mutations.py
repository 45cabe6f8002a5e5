"""Defining and deleting event schemas, and replaying rejected events: ADMIN and DEVELOPER.

A schema is checked before it is stored: it must be a JSON object of at most
MAX_SCHEMA_BYTES that fastjsonschema compiles, without remote `$ref`s (ingest
never fetches anything a user names). Failures are BAD_USER_INPUT naming the
problem; a missing or another organization's project is NOT_FOUND; a VIEWER
is FORBIDDEN. Replay is done by ingest (see query/schemas/replay.py):
UNAVAILABLE when no ingest replica answers.
"""

import json
import logging
from collections.abc import Callable, Iterator, Mapping
from typing import Any

import fastjsonschema
import strawberry
from starlette.requests import HTTPConnection
from strawberry.scalars import JSON

from query.access import load_project
from query.context import QueryContext
from query.errors import BadUserInputError, NotFoundError, UnavailableError
from query.permissions import CanManageProjects
from query.schemas import store
from query.schemas.replay import ReplayClient
from query.schemas.types import EventSchema, EventSchemaMode, ReplayResult

logger = logging.getLogger(__name__)

MAX_SCHEMA_BYTES = 64 * 1024
MAX_EVENT_NAME_LENGTH = 200
MAX_REPLAY_IDS = 1000


class _RemoteRefRefused(Exception):
    pass


class _NoRemoteRefs(Mapping):
    """fastjsonschema `handlers` claiming every URI scheme, so compiling never opens a URL."""

    def __contains__(self, scheme: object) -> bool:
        return True

    def __getitem__(self, scheme: str) -> Callable[[str], object]:
        def refuse(uri: str) -> object:
            raise _RemoteRefRefused(f"remote $ref {uri!r} is not allowed; keep the schema self-contained")

        return refuse

    def __iter__(self) -> Iterator[str]:
        return iter(())

    def __len__(self) -> int:
        return 0


def checked_schema(json_schema: Any) -> str:
    """The schema as JSON text, once it is known to compile; BadUserInputError naming the problem otherwise."""
    if not isinstance(json_schema, dict):
        raise BadUserInputError(f"jsonSchema must be a JSON object, not {type(json_schema).__name__}")
    text = json.dumps(json_schema, separators=(",", ":"))
    if len(text.encode("utf-8")) > MAX_SCHEMA_BYTES:
        raise BadUserInputError(f"jsonSchema is larger than {MAX_SCHEMA_BYTES} bytes")
    try:
        fastjsonschema.compile(json_schema, handlers=_NoRemoteRefs(), use_default=False)
    except _RemoteRefRefused as error:
        raise BadUserInputError(f"invalid jsonSchema: {error}") from None
    except fastjsonschema.JsonSchemaDefinitionException as error:
        raise BadUserInputError(f"invalid jsonSchema: {error}") from None
    except Exception as error:  # a bad regex pattern, a schema nested too deep, ...
        raise BadUserInputError(f"invalid jsonSchema: {type(error).__name__}: {error}") from None
    return text


def _event_name(event: str) -> str:
    name = event.strip()
    if not 1 <= len(name) <= MAX_EVENT_NAME_LENGTH:
        raise BadUserInputError(f"event must be 1 to {MAX_EVENT_NAME_LENGTH} characters")
    if "\x00" in name:  # PostgreSQL text cannot hold it
        raise BadUserInputError("event must not contain NUL characters")
    return name


def _replay_client(context: QueryContext) -> ReplayClient:
    request: HTTPConnection = context.request
    client = getattr(request.state, "replay", None)
    if client is None:
        raise UnavailableError("replay is not available in this query service (no NATS connection configured)")
    return client


@strawberry.type
class SchemasMutation:
    @strawberry.mutation(name="defineEventSchema", description="Register (or replace) the JSON Schema of an event "
                         "name's properties, with its mode; ingest uses it within seconds.",
                         permission_classes=[CanManageProjects])
    async def define_event_schema(self, info: strawberry.Info[QueryContext, None], project_id: strawberry.ID,
                                  event: str, json_schema: JSON, mode: EventSchemaMode) -> EventSchema:
        project = await load_project(info.context, project_id)
        name = _event_name(event)
        text = checked_schema(json_schema)
        async with info.context.pool.acquire() as connection:
            row = await store.upsert_schema(connection, project.id, name, text, mode.value)
        logger.info("event schema defined", extra={"project_id": str(project.id), "event": name, "mode": mode.value})
        return EventSchema.from_row(row)

    @strawberry.mutation(name="deleteEventSchema", description="Remove an event name's schema; true once removed.",
                         permission_classes=[CanManageProjects])
    async def delete_event_schema(self, info: strawberry.Info[QueryContext, None], project_id: strawberry.ID,
                                  event: str) -> bool:
        project = await load_project(info.context, project_id)
        async with info.context.pool.acquire() as connection:
            # No event name holds a NUL (PostgreSQL text cannot), so no schema is defined for one.
            if "\x00" in event or not await store.delete_schema(connection, project.id, event):
                raise NotFoundError(f"no schema for event {event!r}")
        return True

    @strawberry.mutation(name="replayRejectedEvents", description="Run rejected events through ingest again "
                         "(with the current schemas): those of `ids`, or up to 1000 not yet accepted of `event`.",
                         permission_classes=[CanManageProjects])
    async def replay_rejected_events(self, info: strawberry.Info[QueryContext, None], project_id: strawberry.ID,
                                     ids: list[strawberry.ID] | None = None,
                                     event: str | None = None) -> ReplayResult:
        project = await load_project(info.context, project_id)
        if (ids is None) == (event is None):
            raise BadUserInputError("give exactly one of ids and event")
        row_ids = None
        if ids is not None:
            if len(ids) > MAX_REPLAY_IDS:
                raise BadUserInputError(f"at most {MAX_REPLAY_IDS} ids per replay")
            try:
                row_ids = [int(value) for value in ids]
            except ValueError:
                raise BadUserInputError("ids must be ids of rejectedEvents") from None
        answer = await _replay_client(info.context).replay(str(project.id), row_ids, event)
        return ReplayResult(replayed=answer["replayed"], accepted=answer["accepted"],
                            still_rejected=answer["still_rejected"], skipped=answer["skipped"])
