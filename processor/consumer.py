"""The processing loop: consume → transform → write → ack.

Messages are fetched in batches from one durable pull consumer that every
replica shares. A batch is acked only after its rows are committed, so a crash
anywhere before the ack means redelivery, which the writer absorbs. When
PostgreSQL is unreachable the loop backs off and retries the batch in hand
(telling JetStream it is still working on it) instead of letting it go. A
message that fails for reasons of its own (undecodable, or data PostgreSQL
refuses) is retried alone and, after `max_deliveries`, dead-lettered.
Whatever a write newly stored is handed, once committed, to the live
publisher, which announces it to the query service's subscriptions.
"""

import asyncio
import logging
import time
from dataclasses import dataclass, field

from nats.aio.msg import Msg
from nats.errors import TimeoutError as NatsTimeoutError
from nats.js import JetStreamContext
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy
from prometheus_client import Histogram

from config import Settings
from messaging.names import Names
from messaging.streams import bind_pull_subscription
from processor.backoff import DATA_ERRORS, until_available
from processor.dead_letters import dead_letter
from processor.live_notices import LivePublisher
from processor.people import PeopleStats
from processor.transform import UnprocessableMessage, decode, rows_from_batch
from processor.writer import EventWriter, StoredBatch
from trackmint.v1 import batch_pb2

logger = logging.getLogger(__name__)

WRITE_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
"""Seconds per batch write: tens of milliseconds for a few hundred events on a quiet database."""

BATCH_BUCKETS = (1, 10, 50, 100, 250, 500, 1000, 2500, 5000, 10_000)
"""Events per batch write."""


@dataclass
class ProcessorStats:
    batches: int = 0
    messages: int = 0
    events_stored: int = 0
    duplicates: int = 0
    dead_letters: int = 0
    events_dead_lettered: int = 0
    database_retries: int = 0
    # Messages handed over again (a replica died, a write failed, an ack was late).
    redeliveries: int = 0
    # One observation per successful write: its rows, and how long the transaction took.
    write_seconds: Histogram = field(default_factory=lambda: Histogram(
        "trackmint_processor_write_seconds", "Time one batch write took (one transaction), seconds.",
        registry=None, buckets=WRITE_BUCKETS))
    batch_events: Histogram = field(default_factory=lambda: Histogram(
        "trackmint_processor_batch_events", "Events per batch write.", registry=None, buckets=BATCH_BUCKETS))


class EventConsumer:
    def __init__(
        self, js: JetStreamContext, writer: EventWriter, settings: Settings, live: LivePublisher | None = None
    ) -> None:
        self._js = js
        self._writer = writer
        self._live = live
        self._names = Names(settings.nats_namespace)
        self._fetch_messages = settings.processor_fetch_messages
        self._fetch_timeout = settings.processor_fetch_timeout_seconds
        self._ack_wait = settings.processor_ack_wait_seconds
        self._max_deliveries = settings.processor_max_deliveries
        self._retry_max = settings.processor_retry_max_seconds
        self._workers = settings.processor_workers
        self._stopping = asyncio.Event()
        self._subscriptions: list[JetStreamContext.PullSubscription] = []
        self.stats = ProcessorStats()

    @property
    def writer_people_stats(self) -> PeopleStats:
        """Persons created and merged by this replica's writes."""
        return self._writer.people_stats

    def consumer_config(self) -> ConsumerConfig:
        return ConsumerConfig(
            durable_name=self._names.processor_consumer,
            ack_policy=AckPolicy.EXPLICIT,
            deliver_policy=DeliverPolicy.ALL,
            ack_wait=self._ack_wait,
            # Dead-lettering is ours (with a reason); JetStream must never drop a message by itself.
            max_deliver=-1,
            max_ack_pending=20_000,
            filter_subject=self._names.events_subjects,
        )

    async def subscribe(self) -> None:
        """Bind one pull subscription per worker to the shared durable consumer (creating it if needed)."""
        while len(self._subscriptions) < self._workers:
            self._subscriptions.append(await bind_pull_subscription(
                self._js, self._names.events_subjects, durable=self._names.processor_consumer,
                stream=self._names.events_stream, config=self.consumer_config(),
            ))

    def stop(self) -> None:
        """Finish the batch in hand, ack it, and leave the loop."""
        self._stopping.set()

    async def run(self) -> None:
        """Run the workers until stop(); each overlaps its database waits with the others' work."""
        await self.subscribe()
        await asyncio.gather(*(self._work(subscription) for subscription in self._subscriptions))

    async def _work(self, subscription: JetStreamContext.PullSubscription) -> None:
        while not self._stopping.is_set():
            try:
                messages = await subscription.fetch(self._fetch_messages, timeout=self._fetch_timeout)
            except (NatsTimeoutError, TimeoutError):
                # Nothing to fetch (nats-py raises either type depending on the code path).
                continue
            except Exception as error:  # NATS away or reconnecting: wait, then fetch again
                logger.warning("fetch failed: %r", error)
                await asyncio.sleep(0.5)
                continue
            try:
                await self.process(messages)
            except Exception:
                # A failure of no known kind must not end this worker: hand the batch back and go on.
                logger.exception("unexpected failure processing %d messages; they will be redelivered", len(messages))
                await asyncio.gather(*(msg.nak(delay=1) for msg in messages), return_exceptions=True)
                await asyncio.sleep(1)

    async def process(self, messages: list[Msg]) -> None:
        """Store and ack one fetched batch; never returns with a message silently dropped."""
        decoded: list[tuple[Msg, list[tuple]]] = []
        for msg in messages:
            try:
                decoded.append((msg, rows_from_batch(decode(msg.data))))
            except UnprocessableMessage as error:
                await self._reject(msg, str(error))
        if not decoded:
            return
        rows = [row for _, message_rows in decoded for row in message_rows]
        self.stats.redeliveries += sum(1 for msg, _ in decoded if msg.metadata and msg.metadata.num_delivered > 1)
        try:
            stored = await self._write_until_available(rows, [msg for msg, _ in decoded])
        except DATA_ERRORS as error:
            logger.warning("batch refused by PostgreSQL (%s); storing its messages one by one", error)
            for msg, message_rows in decoded:
                await self._process_alone(msg, message_rows)
            return
        await asyncio.gather(*(msg.ack() for msg, _ in decoded))
        self.stats.batches += 1
        self.stats.messages += len(decoded)
        self.stats.events_stored += len(stored.rows)
        self.stats.duplicates += len(rows) - len(stored.rows)

    async def _process_alone(self, msg: Msg, rows: list[tuple]) -> None:
        try:
            stored = await self._write_until_available(rows, [msg])
        except DATA_ERRORS as error:
            deliveries = msg.metadata.num_delivered if msg.metadata else 1
            if deliveries < self._max_deliveries:
                await self._reject(msg, f"refused by PostgreSQL: {error}")
            else:
                await self._store_event_by_event(msg, rows)
            return
        await msg.ack()
        self.stats.messages += 1
        self.stats.events_stored += len(stored.rows)

    async def _store_event_by_event(self, msg: Msg, rows: list[tuple]) -> None:
        """Last delivery of a refused message: store its good events, dead-letter only the refused ones."""
        refused: dict[int, str] = {}
        for index, row in enumerate(rows):
            try:
                self.stats.events_stored += len((await self._write_until_available([row], [msg])).rows)
            except DATA_ERRORS as error:
                refused[index] = str(error)
        if refused:
            envelope = decode(msg.data)
            kept = batch_pb2.IngestedBatch(project_id=envelope.project_id, received_at=envelope.received_at,
                                           events=[envelope.events[index] for index in sorted(refused)])
            reasons = "; ".join(sorted(set(refused.values())))
            await dead_letter(self._js, self._names, msg, f"refused by PostgreSQL: {reasons}",
                              data=kept.SerializeToString())
            self.stats.dead_letters += 1
            self.stats.events_dead_lettered += len(refused)
        else:
            await msg.ack()
        self.stats.messages += 1

    async def _write_until_available(self, rows: list[tuple], in_hand: list[Msg]) -> StoredBatch:
        """Write, backing off while the database is unreachable; data errors propagate. Announces what was new."""
        async def store() -> StoredBatch:
            started = time.perf_counter()
            stored = await self._writer.store(rows)
            self.stats.write_seconds.observe(time.perf_counter() - started)
            self.stats.batch_events.observe(len(rows))
            return stored

        stored = await until_available(store, in_hand, self._retry_max, self._note_retry)
        if self._live is not None:
            self._live.offer(stored)
        return stored

    def _note_retry(self, error: BaseException, delay: float) -> None:
        self.stats.database_retries += 1
        logger.warning("database unavailable (%r); retrying in %.1fs", error, delay)

    async def _reject(self, msg: Msg, reason: str) -> None:
        deliveries = msg.metadata.num_delivered if msg.metadata else 1
        if deliveries >= self._max_deliveries:
            await dead_letter(self._js, self._names, msg, reason)
            self.stats.dead_letters += 1
        else:
            logger.warning("message failed (delivery %s of %s): %s", deliveries, self._max_deliveries, reason)
            await msg.nak(delay=min(2.0 ** deliveries * 0.1, 5.0))
