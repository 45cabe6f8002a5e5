"""Back-pressure from the processors: ingest refuses new batches while the events the processors have not
stored yet fill most of the event stream.

The events stream drops its oldest messages when full (discard OLD, messaging/streams.py), so stored events
make room for new ones and a busy install never stops at the stream's size. What must never be dropped is an
event the processors have not stored: so each ingest replica watches the processors' durable consumer (how
many messages are not yet acked) against the stream's byte limit, and answers UNAVAILABLE ("processors are
behind") above `stream_backlog_refuse_fraction` of it. The SDKs keep such batches and resend them; nothing
was acked. The watch polls JetStream in the background (no call per batch) and adds what this replica
published since and what it is publishing now (a batch counts from the moment it is admitted), so a burst
between two polls, or many batches at once, are counted too; other replicas' bursts are seen at the next poll.
"""

import asyncio
import contextlib
import logging
from dataclasses import dataclass

from nats.aio.client import Client as NATS
from nats.js import JetStreamContext
from nats.js.errors import NotFoundError

from ingest.errors import UnavailableError
from messaging.names import Names

logger = logging.getLogger(__name__)


@dataclass
class Backlog:
    """The processors' backlog as last measured: unstored bytes, and the stream's byte limit."""

    bytes: float
    limit: int

    @property
    def fraction(self) -> float:
        return self.bytes / self.limit if self.limit > 0 else 0.0


class BacklogGuard:
    def __init__(self, nc: NATS, js: JetStreamContext, names: Names, refuse_fraction: float,
                 interval: float = 0.25) -> None:
        self._nc = nc
        self._js = js
        self._names = names
        self.refuse_fraction = refuse_fraction
        self._interval = interval
        self._measured: Backlog | None = None
        # Bytes this replica published since the last measurement (not yet in it), and is publishing now.
        self._published_since = 0
        self._in_flight = 0
        self._task: asyncio.Task | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._poll(), name="ingest-backlog-guard")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    @property
    def backlog(self) -> Backlog | None:
        if self._measured is None:
            return None
        return Backlog(self._measured.bytes + self._published_since + self._in_flight, self._measured.limit)

    def admit(self, size: int) -> None:
        """Count a batch of about `size` bytes as being published, or raise UnavailableError while the
        processors' backlog (with it) is over the limit; no I/O. Every admit is followed by one `settle`."""
        backlog = self.backlog
        if backlog is not None and backlog.limit > 0:
            fraction = (backlog.bytes + size) / backlog.limit
            if fraction >= self.refuse_fraction:
                raise UnavailableError(
                    f"processors are behind: events not yet stored fill {backlog.fraction:.0%} of the event "
                    "stream; nothing was acked, retry later")
        self._in_flight += size

    def settle(self, admitted: int, published: int) -> None:
        """The admitted batch is done: `published` bytes stored in the stream (0 if publishing failed)."""
        self._in_flight -= admitted
        self._published_since += published

    async def measure(self) -> Backlog:
        """Ask JetStream now (the stream's bytes and the processors' consumer)."""
        published_before = self._published_since
        stream = await self._js.stream_info(self._names.events_stream)
        messages, size = stream.state.messages, stream.state.bytes
        try:
            consumer = await self._js.consumer_info(self._names.events_stream, self._names.processor_consumer)
            unstored = (consumer.num_pending or 0) + (consumer.num_ack_pending or 0)
        except NotFoundError:
            unstored = messages  # no processor has ever run: nothing in the stream is stored
        average = size / messages if messages else 0.0
        self._measured = Backlog(min(unstored, messages) * average, stream.config.max_bytes or 0)
        self._published_since -= published_before
        return self._measured

    async def _poll(self) -> None:
        while True:
            if self._nc.is_connected:
                try:
                    await self.measure()
                except Exception as error:  # NATS away or slow: keep the last figure; publishing will say so
                    logger.debug("backlog measurement failed: %r", error)
            await asyncio.sleep(self._interval)
