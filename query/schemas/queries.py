"""Reading event schemas, rejected events and event definitions: any member who may read analytics."""

from collections import defaultdict

import strawberry

from query.access import load_project
from query.context import QueryContext
from query.errors import BadUserInputError
from query.permissions import CanReadAnalytics, IsAuthenticated
from query.schemas import store
from query.schemas.types import EventDefinition, EventProperty, EventSchema, RejectedEventConnection

DEFAULT_PAGE_SIZE = 50


@strawberry.type
class SchemasQuery:
    @strawberry.field(name="eventSchemas", description="The project's event schemas, by event name.",
                      permission_classes=[IsAuthenticated, CanReadAnalytics])
    async def event_schemas(self, info: strawberry.Info[QueryContext, None],
                            project_id: strawberry.ID) -> list[EventSchema]:
        project = await load_project(info.context, project_id)
        async with info.context.pool.acquire() as connection:
            rows = await store.list_schemas(connection, project.id)
        return [EventSchema.from_row(row) for row in rows]

    @strawberry.field(name="rejectedEvents", description="Events ingest refused (and storage dead letters), "
                      "newest first, optionally of one event name or code.",
                      permission_classes=[IsAuthenticated, CanReadAnalytics])
    async def rejected_events(
        self, info: strawberry.Info[QueryContext, None], project_id: strawberry.ID, event: str | None = None,
        code: str | None = None, first: int | None = DEFAULT_PAGE_SIZE, after: str | None = None,
    ) -> RejectedEventConnection:
        project = await load_project(info.context, project_id)
        for name, value in (("event", event), ("code", code)):
            if value is not None and "\x00" in value:  # PostgreSQL text cannot hold it
                raise BadUserInputError(f"{name} must not contain NUL characters")
        async with info.context.pool.acquire() as connection:
            page = await store.list_rejected(connection, project.id, event=event, code=code,
                                             first=DEFAULT_PAGE_SIZE if first is None else first, after=after)
        return RejectedEventConnection.from_page(page)

    @strawberry.field(name="eventDefinitions", description="Every event name seen: volume, first and last seen, "
                      "and the properties observed with their types.",
                      permission_classes=[IsAuthenticated, CanReadAnalytics])
    async def event_definitions(self, info: strawberry.Info[QueryContext, None],
                                project_id: strawberry.ID) -> list[EventDefinition]:
        project = await load_project(info.context, project_id)
        async with info.context.pool.acquire() as connection:
            volumes = await store.event_volumes(connection, project.id)
            property_rows = await store.event_properties(connection, project.id)
        properties: dict[str, list[EventProperty]] = defaultdict(list)
        for row in property_rows:
            properties[row["event"]].append(EventProperty(name=row["property"], type=row["type"],
                                                          first_seen=row["first_seen"], last_seen=row["last_seen"]))
        return [
            EventDefinition(event=volume.event, volume=volume.volume, first_seen=volume.first_seen,
                            last_seen=volume.last_seen, properties=properties.get(volume.event, []))
            for volume in volumes
        ]
