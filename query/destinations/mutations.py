"""Destination mutations (ADMIN and DEVELOPER): create, change, delete, rotate the secret, test, retry dead letters.

Failures are QueryErrors: BAD_USER_INPUT (a bad name, URL, filter or limit), NOT_FOUND (an id that is missing or
another organization's), FORBIDDEN (a VIEWER, by the permission classes). The signing secret is returned by
`createDestination` and `rotateDestinationSecret` only. The destinations service notices every change within
`TRACKMINT_DESTINATIONS_REFRESH_SECONDS`.
"""

import logging
import uuid
from datetime import UTC, datetime

import httpx
import strawberry

from destinations import store
from destinations.delivery import Target, destination_secret, post_batch
from destinations.errors import DeliveryError
from destinations.payload import batch_body
from query.access import load_project, parse_id
from query.context import QueryContext
from query.destinations.queries import load_destination
from query.destinations.types import (
    MAX_PER_PROJECT,
    DeadLetterRetry,
    Destination,
    DestinationFilterInput,
    DestinationInput,
    DestinationTestResult,
    SavedDestination,
    clean_name,
    clean_url,
    filter_to_json,
)
from query.errors import BadUserInputError, NotFoundError
from query.permissions import CanManageDestinations, IsAuthenticated
from storage import destinations
from webhooks.signing import new_nonce

logger = logging.getLogger(__name__)

MAX_RETRY = 100
"""Most dead letters one retryDeadLetters sends (they go one by one, each waiting for its answer)."""


def _caller(info: strawberry.Info[QueryContext, None]):
    caller = info.context.user
    assert caller is not None  # the permission classes
    return caller


async def _reload(info: strawberry.Info[QueryContext, None], destination_id: uuid.UUID) -> Destination:
    return Destination.from_row(await load_destination(info, str(destination_id)))


def sample_event(project_id: str) -> dict:
    now = datetime.now(UTC).isoformat().replace("+00:00", "Z")
    return {"messageId": f"test-{uuid.uuid4()}", "type": "track", "event": "TrackMint Test", "name": "TrackMint Test",
            "distinctId": "trackmint-test", "userId": "trackmint-test", "anonymousId": None, "timestamp": now,
            "properties": {"test": True}, "receivedAt": now, "projectId": project_id}


@strawberry.type
class DestinationsMutation:
    @strawberry.mutation(name="createDestination", description="A new destination: the project's matching events "
                         "accepted from now on are POSTed to `url`. The secret is in this response only.",
                         permission_classes=[IsAuthenticated, CanManageDestinations])
    async def create_destination(self, info: strawberry.Info[QueryContext, None], project_id: strawberry.ID,
                                 input: DestinationInput) -> SavedDestination:
        project = await load_project(info.context, project_id)
        name, url, filter = clean_name(input.name), clean_url(input.url), filter_to_json(input.filter)
        nonce = new_nonce()
        async with info.context.pool.acquire() as connection, connection.transaction():
            # Serialises creations in one project so two at once cannot both pass the limit.
            await connection.execute("SELECT 1 FROM projects WHERE id = $1 FOR UPDATE", project.id)
            if await destinations.count_destinations(connection, project.id) >= MAX_PER_PROJECT:
                raise BadUserInputError(f"a project has at most {MAX_PER_PROJECT} destinations")
            destination_id = await destinations.insert_destination(
                connection, project.id, name=name, url=url, filter=filter, enabled=input.enabled,
                secret_nonce=nonce, created_by=_caller(info).user_id)
        logger.info("destination created", extra={"project_id": str(project.id),
                                                   "destination_id": str(destination_id)})
        return SavedDestination(destination=await _reload(info, destination_id),
                                secret=destination_secret(info.context.settings.secret_key, nonce))

    @strawberry.mutation(name="updateDestination", description="Change a destination; omitted arguments stay. "
                         "`enabled: false` pauses it (events wait in the stream, up to its retention).",
                         permission_classes=[IsAuthenticated, CanManageDestinations])
    async def update_destination(self, info: strawberry.Info[QueryContext, None], id: strawberry.ID,
                                 name: str | None = None, url: str | None = None,
                                 filter: DestinationFilterInput | None = None,
                                 enabled: bool | None = None) -> Destination:
        row = await load_destination(info, id)
        changes: dict[str, object] = {}
        if name is not None:
            changes["name"] = clean_name(name)
        if url is not None:
            changes["url"] = clean_url(url)
        if filter is not None:
            changes["filter"] = filter_to_json(filter)
        if enabled is not None:
            changes["enabled"] = enabled
        async with info.context.pool.acquire() as connection:
            if not await destinations.update_destination(connection, row.id, _caller(info).organization_id, changes):
                raise NotFoundError(f"no destination {id}")
        return await _reload(info, row.id)

    @strawberry.mutation(name="rotateDestinationSecret", description="A new signing secret, in this response only; "
                         "deliveries are signed with it within `TRACKMINT_DESTINATIONS_REFRESH_SECONDS` (2 s).",
                         permission_classes=[IsAuthenticated, CanManageDestinations])
    async def rotate_destination_secret(self, info: strawberry.Info[QueryContext, None],
                                        id: strawberry.ID) -> SavedDestination:
        row = await load_destination(info, id)
        nonce = new_nonce()
        async with info.context.pool.acquire() as connection:
            if not await destinations.update_destination(connection, row.id, _caller(info).organization_id,
                                                         {"secret_nonce": nonce}):
                raise NotFoundError(f"no destination {id}")
        logger.info("destination secret rotated", extra={"destination_id": str(row.id)})
        return SavedDestination(destination=await _reload(info, row.id),
                                secret=destination_secret(info.context.settings.secret_key, nonce))

    @strawberry.mutation(name="deleteDestination", description="Delete a destination with its state and dead "
                         "letters; its consumer is removed and nothing more is sent.",
                         permission_classes=[IsAuthenticated, CanManageDestinations])
    async def delete_destination(self, info: strawberry.Info[QueryContext, None], id: strawberry.ID) -> bool:
        async with info.context.pool.acquire() as connection:
            if not await destinations.delete_destination(connection, parse_id(id, "id"),
                                                         _caller(info).organization_id):
                raise NotFoundError(f"no destination {id}")
        return True

    @strawberry.mutation(name="testDestination", description="POST a signed sample batch (one event, `test: true`) "
                         "now and say whether the target took it; nothing is retried or recorded.",
                         permission_classes=[IsAuthenticated, CanManageDestinations])
    async def test_destination(self, info: strawberry.Info[QueryContext, None],
                               id: strawberry.ID) -> DestinationTestResult:
        row = await load_destination(info, id)
        settings = info.context.settings
        delivery = uuid.uuid4()
        body = batch_body(delivery, row.id, str(row.project_id), [sample_event(str(row.project_id))], test=True)
        target = Target(row.url, destination_secret(settings.secret_key, row.secret_nonce))
        async with httpx.AsyncClient(follow_redirects=False) as http:
            try:
                status = await post_batch(http, target, delivery, body, settings.destinations_delivery_timeout_seconds)
            except DeliveryError as error:
                return DestinationTestResult(ok=False, status_code=error.status_code, error=error.message)
        return DestinationTestResult(ok=True, status_code=status, error=None)

    @strawberry.mutation(name="retryDeadLetters", description=f"Send dead letters again (all, or `ids`; at most "
                         f"{MAX_RETRY} per call), oldest first, each with its original body and delivery id. Stops at "
                         "the first failure so the order holds; a delivered one is removed.",
                         permission_classes=[IsAuthenticated, CanManageDestinations])
    async def retry_dead_letters(self, info: strawberry.Info[QueryContext, None], destination_id: strawberry.ID,
                                 ids: list[strawberry.ID] | None = None) -> DeadLetterRetry:
        if ids is not None and not 1 <= len(ids) <= MAX_RETRY:
            raise BadUserInputError(f"ids: 1 to {MAX_RETRY} dead letter ids")
        wanted = None
        if ids is not None:
            if not all(str(item).isdigit() and len(str(item)) <= 18 for item in ids):
                raise BadUserInputError("ids: not dead letter ids")
            wanted = [int(item) for item in ids]
        row = await load_destination(info, destination_id, "destinationId")
        settings, pool = info.context.settings, info.context.pool
        target = Target(row.url, destination_secret(settings.secret_key, row.secret_nonce))
        async with pool.acquire() as connection:
            claimed = list(await destinations.claim_dead_letters(connection, row.id, wanted, MAX_RETRY))
        delivered, error = 0, None
        try:
            async with httpx.AsyncClient(follow_redirects=False) as http:
                while claimed:
                    letter = claimed[0]
                    try:
                        await post_batch(http, target, letter["delivery_id"], letter["body"],
                                         settings.destinations_delivery_timeout_seconds)
                    except DeliveryError as failure:
                        error = failure.message
                        async with pool.acquire() as connection:
                            await destinations.failed_dead_letter(connection, letter["id"], failure.message)
                        await store.record_failure(pool, row.id, letter["delivery_id"], letter["attempts"] + 1,
                                                   letter["events"], failure.status_code, failure.message)
                        claimed.pop(0)
                        break
                    async with pool.acquire() as connection:
                        await destinations.delivered_dead_letter(connection, letter["id"])
                    await store.record_success(pool, row.id, letter["events"], None)
                    claimed.pop(0)
                    delivered += 1
        finally:
            async with pool.acquire() as connection:
                await destinations.release_dead_letters(connection, [letter["id"] for letter in claimed])
        remaining = (await load_destination(info, destination_id, "destinationId")).dead_letters
        return DeadLetterRetry(delivered=delivered, failed=0 if error is None else 1, remaining=remaining,
                               error=error)
