"""Replaying recorded rejected events through ingest, once their schema (or cause) is fixed.

The query service asks with a core NATS request on `<ns>ingest.replay`
(JSON `{"project_id": ..., "ids": [...]}` or `{"project_id": ..., "event": ...}`);
the responders share a queue group, so one ingest replica answers. It loads
those `rejected_events` rows of that project, runs them through the same
`BatchPipeline.check` (validation, enrichment, the project's current schemas),
publishes the accepted ones like any batch, marks every row with
`replayed_at` and `replay_result` (ACCEPTED, or the code it was refused with
again, with the new reason), and answers with counts.

Times: the original `received_at` is kept as the received time, so the stored
event looks as if it had been accepted the first time. The events' timestamps
need no second clock-skew correction: see ingest/rejections.py, which stores
refused events so that correcting them again changes nothing. Geo fields found
when the event was first enriched are kept when the IP is gone (projects that
do not store IPs). Exactly once: rows already ACCEPTED are skipped, and a
replayed event has its original message_id, so the processor stores it once
whatever happens between publishing and marking.
"""

import json
import logging
from collections import defaultdict
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from uuid import UUID

import asyncpg
from nats.aio.client import Client as NATS
from nats.aio.msg import Msg
from nats.aio.subscription import Subscription

from ingest.errors import UnavailableError
from ingest.pipeline import BatchPipeline
from ingest.publisher import EventPublisher
from messaging.names import Names
from trackmint.v1 import batch_pb2, event_pb2

logger = logging.getLogger(__name__)

MAX_REPLAY_EVENTS = 1000
"""Most rows one request replays; an event-name filter takes the oldest unreplayed ones first."""

ACCEPTED = "ACCEPTED"
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_GEO_FIELDS = ("country", "region", "city")
_DATABASE_ERRORS = (OSError, asyncpg.PostgresError, asyncpg.InterfaceError, TimeoutError)

_BY_IDS = """
SELECT id, payload, received_at, replay_result FROM rejected_events
WHERE project_id = $1 AND id = ANY($2::bigint[]) ORDER BY id
"""
_BY_EVENT = """
SELECT id, payload, received_at, replay_result FROM rejected_events
WHERE project_id = $1 AND event = $2 AND payload IS NOT NULL AND replay_result IS DISTINCT FROM 'ACCEPTED'
ORDER BY id LIMIT $3
"""
_MARK = """
UPDATE rejected_events r
SET replayed_at = now(), replay_result = u.result, reason = coalesce(u.reason, r.reason)
FROM unnest($2::bigint[], $3::text[], $4::text[]) AS u (id, result, reason)
WHERE r.project_id = $1 AND r.id = u.id
"""


class ReplayRequestError(ValueError):
    """The request is malformed; the message says how."""


@dataclass
class ReplayCounts:
    replayed: int = 0
    accepted: int = 0
    still_rejected: int = 0
    # Already accepted by an earlier replay, or recorded without a decodable event.
    skipped: int = 0


def code_name(code: int) -> str:
    return batch_pb2.RejectionCode.Name(code).removeprefix("REJECTION_CODE_")


def parse_request(data: bytes) -> tuple[UUID, list[int] | None, str | None]:
    try:
        request = json.loads(data)
    except ValueError as error:
        raise ReplayRequestError(f"replay request is not JSON: {error}") from None
    if not isinstance(request, dict):
        raise ReplayRequestError("replay request must be a JSON object")
    try:
        project_id = UUID(str(request.get("project_id")))
    except ValueError:
        raise ReplayRequestError("project_id must be a UUID") from None
    ids, event = request.get("ids"), request.get("event")
    if ids is not None:
        if not isinstance(ids, list) or not all(isinstance(item, int) for item in ids):
            raise ReplayRequestError("ids must be a list of integers")
        if len(ids) > MAX_REPLAY_EVENTS:
            raise ReplayRequestError(f"at most {MAX_REPLAY_EVENTS} ids per replay")
        return project_id, ids, None
    if isinstance(event, str) and event:
        return project_id, None, event
    raise ReplayRequestError("give ids or an event name")


def _geo(enrichment: event_pb2.Enrichment) -> dict[str, str]:
    return {name: getattr(enrichment, name) for name in _GEO_FIELDS}


def _keep_first_geo(replayed: event_pb2.Event, original: event_pb2.Enrichment) -> None:
    if not replayed.enrichment.country and original.country:
        for name in _GEO_FIELDS:
            setattr(replayed.enrichment, name, getattr(original, name))


class ReplayService:
    """Replays rows of `rejected_events`; `ReplayResponder` puts it on NATS."""

    def __init__(self, pool: asyncpg.Pool, pipeline: BatchPipeline, publisher: EventPublisher) -> None:
        self._pool = pool
        self._pipeline = pipeline
        self._publisher = publisher

    async def replay(self, project_id: UUID, ids: list[int] | None, event: str | None) -> ReplayCounts:
        """Raises UnavailableError when the database or JetStream cannot be reached (nothing is marked then)."""
        try:
            store_ip = await self._pool.fetchval("SELECT store_ip FROM projects WHERE id = $1", project_id)
            if ids is not None:
                rows = await self._pool.fetch(_BY_IDS, project_id, ids)
            else:
                rows = await self._pool.fetch(_BY_EVENT, project_id, event, MAX_REPLAY_EVENTS)
        except _DATABASE_ERRORS as error:
            raise UnavailableError(f"cannot read the rejected events: {error}") from error
        counts = ReplayCounts()
        groups: dict[int, list[tuple[int, event_pb2.Event]]] = defaultdict(list)
        for row in rows:
            if row["replay_result"] == ACCEPTED or row["payload"] is None:
                counts.skipped += 1
                continue
            try:
                decoded = event_pb2.Event.FromString(row["payload"])
            except Exception:  # a payload no protobuf parser accepts cannot be replayed
                counts.skipped += 1
                continue
            received_ns = (row["received_at"] - _EPOCH) // timedelta(microseconds=1) * 1000
            groups[received_ns].append((row["id"], decoded))
        marks: list[tuple[int, str, str | None]] = []
        to_publish: list[tuple[int, list[event_pb2.Event]]] = []
        for received_ns, items in groups.items():
            # Copies: enrichment clears and recomputes these, in place.
            originals = [event_pb2.Enrichment(**_geo(event.enrichment)) for _, event in items]
            batch = batch_pb2.EventBatch(events=[event for _, event in items])
            checked = await self._pipeline.check(str(project_id), bool(store_ip), batch, received_ns)
            refused = {rejection.index: rejection for rejection in checked.rejections}
            for index, (row_id, _) in enumerate(items):
                if index in refused:
                    marks.append((row_id, code_name(refused[index].code), refused[index].reason))
                else:
                    marks.append((row_id, ACCEPTED, None))
            for index, replayed in zip(
                (index for index in range(len(items)) if index not in refused), checked.accepted, strict=True
            ):
                _keep_first_geo(replayed, originals[index])
            to_publish.append((received_ns, checked.accepted))
        for received_ns, accepted in to_publish:
            await self._publisher.publish(str(project_id), accepted, received_ns)
        try:
            await self._pool.execute(_MARK, project_id, [m[0] for m in marks], [m[1] for m in marks],
                                     [m[2] for m in marks])
        except _DATABASE_ERRORS as error:
            # Published already: a second replay publishes them again and the processor stores them once.
            raise UnavailableError(f"replayed, but could not mark the rows: {error}") from error
        counts.replayed = len(marks)
        counts.accepted = sum(1 for mark in marks if mark[1] == ACCEPTED)
        counts.still_rejected = counts.replayed - counts.accepted
        logger.info("replayed rejected events", extra={"project_id": str(project_id), **asdict(counts)})
        return counts


class ReplayResponder:
    def __init__(self, nc: NATS, names: Names, service: ReplayService) -> None:
        self._nc = nc
        self._names = names
        self._service = service
        self._subscription: Subscription | None = None

    async def start(self) -> None:
        self._subscription = await self._nc.subscribe(
            self._names.replay_subject, queue=self._names.replay_queue_group, cb=self._handle
        )

    async def stop(self) -> None:
        if self._subscription is not None:
            await self._subscription.unsubscribe()
            self._subscription = None

    async def _handle(self, msg: Msg) -> None:
        try:
            project_id, ids, event = parse_request(msg.data)
            reply: dict[str, object] = asdict(await self._service.replay(project_id, ids, event))
        except ReplayRequestError as error:
            reply = {"error": str(error), "code": "bad_request"}
        except UnavailableError as error:
            reply = {"error": str(error), "code": "unavailable"}
        except Exception as error:
            logger.exception("replay failed")
            reply = {"error": f"replay failed: {type(error).__name__}", "code": "internal"}
        if msg.reply:
            await msg.respond(json.dumps(reply).encode("utf-8"))
