"""One destination's delivery loop: fetch → decode → filter → POST → ack, strictly in stream order.

Each destination reads the events stream through a durable pull consumer of its
own, filtered to its project's subject, so a slow or dead target holds back
only its own consumer while JetStream keeps the events (ingest and the
processor never wait for it). Batches go out one at a time and a batch's
messages are acked only after a 2xx, so the receiver sees each person's events
(indeed all of the project's) in the order ingest accepted them.

A failed batch is retried, the same batch with the same delivery id, after
exponentially growing waits with jitter, while its messages stay ours
(`in_progress`); after `destinations_max_attempts` it is parked in the dead
letters and the loop moves on. The consumer lets at most one fetch be unacked
(`max_ack_pending`), so after a crash nothing newer is handed out before the
unacked messages come back (JetStream redelivers them first, once `ack_wait`
has passed); a worker that is stopped hands its messages back at once (`nak`).
"""

import asyncio
import contextlib
import logging
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import asyncpg
import httpx
import orjson
from nats.aio.msg import Msg
from nats.errors import TimeoutError as NatsTimeoutError
from nats.js import JetStreamContext
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy

from config import Settings
from destinations import store
from destinations.backoff import retry_delay
from destinations.delivery import Target, destination_secret, origin, post_batch
from destinations.errors import DeliveryError
from destinations.matching import matches
from destinations.payload import batch_body, delivery_id, events_of
from destinations.store import Destination
from messaging.names import Names
from messaging.streams import bind_pull_subscription
from trackmint.v1 import batch_pb2

logger = logging.getLogger(__name__)


@dataclass
class WorkerStats:
    delivered_batches: int = 0
    delivered_events: int = 0
    failed_attempts: int = 0
    dead_letters: int = 0
    skipped_messages: int = 0


@dataclass
class _Batch:
    messages: list[Msg]
    events: list[dict[str, Any]]


def consumer_config(settings: Settings, names: Names, destination: Destination) -> ConsumerConfig:
    return ConsumerConfig(
        durable_name=names.destination_consumer(str(destination.id)),
        filter_subject=names.events_subject(str(destination.project_id)),
        ack_policy=AckPolicy.EXPLICIT,
        # From the destination's creation on, even if no replica was running then.
        deliver_policy=DeliverPolicy.BY_START_TIME,
        opt_start_time=destination.created_at,
        ack_wait=settings.destinations_ack_wait_seconds,
        max_deliver=-1,  # giving up is ours (dead letters), never JetStream's
        max_ack_pending=settings.destinations_fetch_messages,
    )


class DestinationWorker:
    def __init__(self, destination: Destination, js: JetStreamContext, pool: asyncpg.Pool,
                 http: httpx.AsyncClient, settings: Settings) -> None:
        # Replaced by the service when the row changes (URL, filter, secret): the next attempt uses the new one.
        self.destination = destination
        self._js = js
        self._pool = pool
        self._http = http
        self._settings = settings
        self._names = Names(settings.nats_namespace)
        self._in_hand: list[Msg] = []
        self._pending: int | None = None
        self._stopping = asyncio.Event()
        # False when the process dies (tests' abort): a crashed replica hands nothing back.
        self.hand_back_on_stop = True
        self.stats = WorkerStats()

    def stop(self) -> None:
        """Leave the loop at the next fetch; cancel the task too to interrupt a wait or a POST."""
        # nats-py may turn a cancellation inside fetch() into its TimeoutError, so cancelling alone is not enough.
        self._stopping.set()

    @property
    def pending(self) -> int | None:
        """Events of the project still to deliver, as JetStream said with the last fetch; None before one."""
        return self._pending

    async def run(self) -> None:
        """Deliver until stopped or cancelled; then hand the messages in hand back to JetStream."""
        names, destination = self._names, self.destination
        subscription = await bind_pull_subscription(
            self._js, names.events_subject(str(destination.project_id)),
            durable=names.destination_consumer(str(destination.id)), stream=names.events_stream,
            config=consumer_config(self._settings, names, destination),
        )
        info = await subscription.consumer_info()
        try:
            clean = await store.take_handed_back(self._pool, destination.id)
        except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError, TimeoutError):
            clean = False
        if info.num_ack_pending and not clean:
            # A replica died with these in hand (a stopped one hands them back and says so: they come first).
            # Let them expire and come back first, before anything newer.
            logger.info("destination %s: waiting %.0fs for %d unacked messages of a previous run", destination.id,
                        self._settings.destinations_ack_wait_seconds, info.num_ack_pending)
            await asyncio.sleep(self._settings.destinations_ack_wait_seconds + 0.5)
        try:
            while not self._stopping.is_set():
                messages = await self._fetch(subscription)
                if not messages:
                    continue
                self._in_hand = messages
                await self._handle(messages)
                self._in_hand = []
        finally:
            await self._hand_back()

    async def _fetch(self, subscription: JetStreamContext.PullSubscription) -> list[Msg]:
        try:
            return await subscription.fetch(self._settings.destinations_fetch_messages,
                                            timeout=self._settings.destinations_fetch_timeout_seconds)
        except (NatsTimeoutError, TimeoutError):
            if self._pending:  # caught up: say so once
                self._pending = 0
                await self._best_effort(store.record_pending(self._pool, self.destination.id, 0))
            return []
        except Exception as error:  # NATS away or reconnecting: wait, then fetch again
            logger.warning("destination %s: fetch failed: %r", self.destination.id, error)
            await asyncio.sleep(0.5)
            return []

    async def _handle(self, messages: list[Msg]) -> None:
        last = messages[-1].metadata
        self._pending = last.num_pending if last is not None else None
        for batch in self._plan(messages):
            if batch.events:
                await self._deliver(batch)
            await asyncio.gather(*(msg.ack() for msg in batch.messages))

    def _plan(self, messages: list[Msg]) -> list[_Batch]:
        """Cut the fetched messages into POSTs of at most the configured events and bytes, in order."""
        settings, filter = self._settings, self.destination.filter
        batches: list[_Batch] = []
        current, size = _Batch([], []), 0
        for msg in messages:
            try:
                events = [event for event in events_of(batch_pb2.IngestedBatch.FromString(msg.data))
                          if matches(filter, event)]
            except Exception as error:  # protobuf's DecodeError and others on broken input
                # The processor dead-letters such a message for storage; nothing here can be delivered from it.
                logger.warning("destination %s: skipping an undecodable message: %s", self.destination.id, error)
                self.stats.skipped_messages += 1
                events = []
            for event in events:
                event_size = len(orjson.dumps(event)) + 1
                full = current.events and (len(current.events) >= settings.destinations_batch_max_events
                                           or size + event_size > settings.destinations_batch_max_bytes)
                # Messages with nothing to deliver before it are acked at once, not after this batch's POST.
                if full or (not current.events and current.messages):
                    batches.append(current)
                    current, size = _Batch([], []), 0
                current.events.append(event)
                size += event_size
            current.messages.append(msg)
        if current.messages or current.events:
            batches.append(current)
        return batches

    async def _deliver(self, batch: _Batch) -> None:
        """POST the batch until a 2xx or the last attempt, then record the outcome (parking it if it failed)."""
        settings = self._settings
        destination = self.destination
        delivery = delivery_id(destination.id, [event["messageId"] for event in batch.events])
        body = batch_body(delivery, destination.id, str(destination.project_id), batch.events)
        first_attempt_at = datetime.now(UTC)
        attempt = 0
        while True:
            attempt += 1
            destination = self.destination
            target = Target(destination.url, destination_secret(settings.secret_key, destination.secret_nonce))
            await self._keep(batch.messages)
            try:
                await post_batch(self._http, target, delivery, body, settings.destinations_delivery_timeout_seconds)
            except DeliveryError as error:
                self.stats.failed_attempts += 1
                logger.info("destination %s: attempt %d of delivery %s failed: %s",
                            destination.id, attempt, delivery, error.message)
                await self._best_effort(store.record_failure(
                    self._pool, destination.id, delivery, attempt, len(batch.events), error.status_code,
                    error.message))
                if attempt >= settings.destinations_max_attempts:
                    await self._park(batch, delivery, body, attempt, error.message, first_attempt_at)
                    return
                await self._wait(batch.messages, retry_delay(attempt, settings.destinations_retry_base_seconds,
                                                             settings.destinations_retry_max_seconds))
                continue
            self.stats.delivered_batches += 1
            self.stats.delivered_events += len(batch.events)
            await self._best_effort(store.record_success(self._pool, destination.id, len(batch.events),
                                                         self._pending))
            return

    async def _park(self, batch: _Batch, delivery, body: bytes, attempts: int, error: str,
                    first_attempt_at: datetime) -> None:
        """Store the batch as a dead letter; the messages are acked only once it is stored, however long that takes."""
        delay = 0.2
        while True:
            try:
                dropped = await store.park(self._pool, self.destination.id, delivery, body, len(batch.events),
                                           attempts, error, first_attempt_at,
                                           self._settings.destinations_max_dead_letters)
                break
            except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError, TimeoutError) as failure:
                logger.warning("destination %s: cannot park delivery %s yet: %r", self.destination.id, delivery,
                               failure)
                await self._wait(batch.messages, delay)
                delay = min(delay * 2, 10.0)
        self.stats.dead_letters += 1
        logger.warning("destination %s (%s): delivery %s of %d events parked as a dead letter after %d attempts",
                       self.destination.id, origin(self.destination.url), delivery, len(batch.events), attempts)
        if dropped:
            logger.warning("destination %s: dropped the %d oldest dead letters (limit %d)", self.destination.id,
                           dropped, self._settings.destinations_max_dead_letters)

    async def _wait(self, messages: list[Msg], seconds: float) -> None:
        """Sleep while telling JetStream, often enough, that the messages are still being worked on."""
        beat = max(self._settings.destinations_ack_wait_seconds / 3, 0.2)
        deadline = asyncio.get_running_loop().time() + seconds
        while (left := deadline - asyncio.get_running_loop().time()) > 0:
            await asyncio.sleep(min(left, beat))
            await self._keep(messages)

    @staticmethod
    async def _keep(messages: list[Msg]) -> None:
        await asyncio.gather(*(msg.in_progress() for msg in messages), return_exceptions=True)

    async def _hand_back(self) -> None:
        messages, self._in_hand = self._in_hand, []
        if messages and self.hand_back_on_stop:
            # Shielded: this runs while the task is being cancelled; redelivered first, so order is kept.
            with contextlib.suppress(Exception, asyncio.CancelledError):
                await asyncio.shield(self._nak_and_mark(messages))

    async def _nak_and_mark(self, messages: list[Msg]) -> None:
        outcomes = await asyncio.gather(*(msg.nak() for msg in messages if not msg.is_acked),
                                       return_exceptions=True)
        if not any(isinstance(outcome, BaseException) for outcome in outcomes):
            await self._best_effort(store.mark_handed_back(self._pool, self.destination.id))

    async def _best_effort(self, write) -> None:
        """Status writes must not hold up delivery: a database hiccup costs a status update, not a resend."""
        try:
            await write
        except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError, TimeoutError) as error:
            logger.warning("destination %s: cannot record delivery state: %r", self.destination.id, error)
