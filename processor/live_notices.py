"""Announcing committed events to the query service's live subscriptions (see messaging/live.py).

The consumer hands each committed batch to `LivePublisher.offer`, which only
queues it: building and publishing notices happens in the publisher's own
task, so a slow or absent NATS never slows, let alone fails, a batch. The
queue is bounded; when NATS cannot keep up the oldest batches are dropped
(and counted), because a late notice is worth less than a current one.
"""

import asyncio
import contextlib
import logging
from collections import defaultdict, deque
from dataclasses import dataclass

import orjson
from nats.aio.client import Client as NATS

from messaging.live import NOTICE_COLUMNS, LiveEvent, bounded_properties, encode_notice
from messaging.names import Names
from processor.transform import EVENT_TIME_INDEX, STAGING_COLUMNS
from processor.writer import StoredBatch

logger = logging.getLogger(__name__)

MAX_QUEUED_BATCHES = 256
"""Committed batches waiting to be announced; beyond that the oldest are dropped."""

_INDEX = {column: index for index, column in enumerate(STAGING_COLUMNS)}
_PROJECT, _MESSAGE_ID, _EVENT = _INDEX["project_id"], _INDEX["message_id"], _INDEX["event"]
_DISTINCT_ID, _IS_BOT, _PROPERTIES = _INDEX["distinct_id"], _INDEX["is_bot"], _INDEX["properties"]
_COLUMN_INDEXES = {name: _INDEX[column] for name, column in NOTICE_COLUMNS.items()}


@dataclass
class LiveStats:
    notices: int = 0
    events: int = 0
    failures: int = 0
    batches_dropped: int = 0


def live_event(row: tuple, person_id: str | None) -> LiveEvent:
    """The notice entry of one stored staging row."""
    try:
        own = orjson.loads(row[_PROPERTIES])
    except orjson.JSONDecodeError:
        own = {}
    return LiveEvent(
        message_id=row[_MESSAGE_ID],
        event=row[_EVENT],
        distinct_id=row[_DISTINCT_ID],
        person_id=person_id,
        timestamp_us=row[EVENT_TIME_INDEX],
        is_bot=bool(row[_IS_BOT]),
        properties=bounded_properties(
            own if isinstance(own, dict) else {}, {name: row[index] for name, index in _COLUMN_INDEXES.items()}
        ),
    )


def notices_of(stored: StoredBatch) -> dict[str, bytes]:
    """One encoded notice per project of the batch, keyed by project id."""
    by_project: dict[str, list[LiveEvent]] = defaultdict(list)
    for row, person_id in zip(stored.rows, stored.person_ids, strict=True):
        by_project[row[_PROJECT]].append(live_event(row, person_id))
    return {project: encode_notice(project, stored.committed_at, events) for project, events in by_project.items()}


class LivePublisher:
    def __init__(self, nc: NATS, names: Names, max_queued: int = MAX_QUEUED_BATCHES) -> None:
        self._nc = nc
        self._names = names
        self._queue: deque[StoredBatch] = deque()
        self._max_queued = max_queued
        self._ready = asyncio.Event()
        # Set while nothing is queued or being published.
        self._idle = asyncio.Event()
        self._idle.set()
        self._task: asyncio.Task | None = None
        self.stats = LiveStats()

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="processor-live-notices")

    async def stop(self) -> None:
        """Announce what is queued (briefly), then end the task."""
        if self._task is None:
            return
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._idle.wait(), 1)
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task
        self._task = None

    def offer(self, stored: StoredBatch) -> None:
        """Queue a committed batch for announcement; never blocks, never raises."""
        if not stored.rows:
            return
        if len(self._queue) >= self._max_queued:
            self._queue.popleft()
            self.stats.batches_dropped += 1
            if self.stats.batches_dropped % 100 == 1:
                logger.warning("live notices fall behind; %d batches dropped so far", self.stats.batches_dropped)
        self._queue.append(stored)
        self._idle.clear()
        self._ready.set()

    async def _run(self) -> None:
        while True:
            await self._ready.wait()
            self._ready.clear()
            while self._queue:
                await self._publish(self._queue.popleft())
            self._idle.set()

    async def _publish(self, stored: StoredBatch) -> None:
        try:
            notices = notices_of(stored)
            for project_id, notice in notices.items():
                await self._nc.publish(self._names.live_subject(project_id), notice)
        except Exception as error:  # NATS away, buffer full, a row we cannot describe: the batch is stored anyway
            self.stats.failures += 1
            if self.stats.failures % 100 == 1:
                logger.warning("live notice not published (%r); %d failures so far", error, self.stats.failures)
            return
        self.stats.notices += len(notices)
        self.stats.events += len(stored.rows)
