"""Recording the dead-letter stream in `rejected_events`: consume → rows → insert → ack.

One durable pull consumer on the dead-letter stream, shared by the processor
replicas. A message is acked once its rows are committed; redelivery stores
nothing twice (rows are keyed by stream sequence and position). While
PostgreSQL is unreachable the loop backs off and keeps the messages in hand; a
message PostgreSQL refuses outright is logged and terminated (there is no
dead-letter stream for the dead-letter stream).
"""

import asyncio
import logging
from datetime import UTC, datetime

import asyncpg
from nats.aio.msg import Msg
from nats.errors import ConnectionClosedError as NatsConnectionClosedError
from nats.errors import TimeoutError as NatsTimeoutError
from nats.js import JetStreamContext
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy

from config import Settings
from messaging.names import Names
from messaging.streams import bind_pull_subscription
from processor.backoff import DATA_ERRORS, until_available
from processor.rejections import RejectedRow, rows_from_message, store_rejected

logger = logging.getLogger(__name__)



def _note_retry(error: BaseException, delay: float) -> None:
    logger.warning("database unavailable for rejected events (%r); retrying in %.1fs", error, delay)


class RejectionConsumer:
    def __init__(self, js: JetStreamContext, pool: asyncpg.Pool, settings: Settings) -> None:
        self._js = js
        self._pool = pool
        self._names = Names(settings.nats_namespace)
        self._fetch_messages = settings.processor_fetch_messages
        self._fetch_timeout = settings.processor_fetch_timeout_seconds
        self._ack_wait = settings.processor_ack_wait_seconds
        self._retry_max = settings.processor_retry_max_seconds
        self._stopping = asyncio.Event()
        self._subscription: JetStreamContext.PullSubscription | None = None
        self.rows_stored = 0
        self.refused_messages = 0

    def consumer_config(self) -> ConsumerConfig:
        return ConsumerConfig(
            durable_name=self._names.rejections_consumer,
            ack_policy=AckPolicy.EXPLICIT,
            deliver_policy=DeliverPolicy.ALL,
            ack_wait=self._ack_wait,
            max_deliver=-1,
            filter_subject=self._names.dead_letter_filter,
        )

    async def subscribe(self) -> None:
        if self._subscription is None:
            self._subscription = await bind_pull_subscription(
                self._js, self._names.dead_letter_filter, durable=self._names.rejections_consumer,
                stream=self._names.dead_letter_stream, config=self.consumer_config(),
            )

    def stop(self) -> None:
        self._stopping.set()

    async def run(self) -> None:
        await self.subscribe()
        assert self._subscription is not None
        while not self._stopping.is_set():
            try:
                messages = await self._subscription.fetch(self._fetch_messages, timeout=self._fetch_timeout)
            except (NatsTimeoutError, TimeoutError):
                continue
            except NatsConnectionClosedError:
                return  # the service is shutting down: a closed connection never comes back
            except Exception as error:
                logger.warning("rejections fetch failed: %r", error)
                await asyncio.sleep(0.5)
                continue
            try:
                await self.process(messages)
            except Exception:
                logger.exception("unexpected failure recording %d dead letters; they will be redelivered",
                                 len(messages))
                await asyncio.gather(*(msg.nak(delay=1) for msg in messages), return_exceptions=True)
                await asyncio.sleep(1)

    async def process(self, messages: list[Msg]) -> None:
        now = datetime.now(UTC)
        by_message = [(msg, self._rows(msg, now)) for msg in messages]
        try:
            await self._store_until_available([row for _, rows in by_message for row in rows], messages)
        except DATA_ERRORS as error:
            logger.warning("rejected events refused by PostgreSQL (%s); storing message by message", error)
            for msg, rows in by_message:
                try:
                    await self._store_until_available(rows, [msg])
                except DATA_ERRORS as alone:
                    self.refused_messages += 1
                    logger.error("dropping dead letter %s that PostgreSQL refuses: %s", msg.subject, alone)
                    await msg.term()
                    continue
                await msg.ack()
            return
        await asyncio.gather(*(msg.ack() for msg in messages))

    def _rows(self, msg: Msg, now: datetime) -> list[RejectedRow]:
        sequence = msg.metadata.sequence.stream if msg.metadata else 0
        return rows_from_message(self._names, msg.subject, msg.data, msg.headers, sequence, now)

    async def _store_until_available(self, rows: list[RejectedRow], in_hand: list[Msg]) -> None:
        await until_available(lambda: store_rejected(self._pool, rows), in_hand, self._retry_max, _note_retry)
        self.rows_stored += len(rows)
