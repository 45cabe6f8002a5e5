"""Running a processor replica: connections, the consumer loop, graceful stop."""

import asyncio
import contextlib
import logging
from dataclasses import dataclass

import asyncpg
from nats.aio.client import Client as NATS
from nats.js import JetStreamContext
from prometheus_client import CollectorRegistry

from config import Settings
from messaging.names import Names
from messaging.streams import connect_jetstream
from observability.lifecycle import run_until_signalled
from observability.ops_server import OpsServer, start_ops_server
from processor.consumer import EventConsumer
from processor.live_notices import LivePublisher
from processor.metrics import ProcessorCollector
from processor.rejection_consumer import RejectionConsumer
from processor.writer import WRITER_SESSION_SETTINGS, EventWriter, prepare_connection
from storage.database import create_pool

logger = logging.getLogger(__name__)


@dataclass
class ProcessorService:
    consumer: EventConsumer
    task: asyncio.Task
    nc: NATS
    pool: asyncpg.Pool
    rejections: RejectionConsumer | None = None
    rejections_task: asyncio.Task | None = None
    live: LivePublisher | None = None
    ops: OpsServer | None = None

    async def stop(self, grace: float = 30) -> None:
        """Finish and ack the batch in hand, then close connections."""
        if self.ops is not None:
            await self.ops.stop()
        self.consumer.stop()
        if self.rejections is not None and self.rejections_task is not None:
            self.rejections.stop()
            try:
                await asyncio.wait_for(asyncio.shield(self.rejections_task), grace)
            except TimeoutError:
                self.rejections_task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await self.rejections_task
        try:
            await asyncio.wait_for(asyncio.shield(self.task), grace)
        except TimeoutError:
            self.task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self.task
        if self.live is not None:
            await self.live.stop()
        # Everything in hand is acked by now; a drain would wait on the idle pull subscription.
        await self.nc.close()
        await self.pool.close()


async def start_processor(settings: Settings) -> ProcessorService:
    nc, js = await connect_jetstream(settings, name="trackmint-processor")
    pool = await create_pool(
        settings.database_url,
        size=settings.processor_workers + 2,
        init=prepare_connection,
        server_settings=WRITER_SESSION_SETTINGS,
    )
    # Announces committed events on core NATS for the query service's live subscriptions.
    live = LivePublisher(nc, Names(settings.nats_namespace))
    live.start()
    consumer = EventConsumer(js, EventWriter(pool), settings, live)
    await consumer.subscribe()
    task = asyncio.create_task(consumer.run(), name="processor")
    # Records the dead-letter stream (ingest rejections, processor dead letters) in rejected_events.
    rejections = RejectionConsumer(js, pool, settings)
    await rejections.subscribe()
    rejections_task = asyncio.create_task(rejections.run(), name="processor-rejections")
    running = ProcessorService(consumer, task, nc, pool, rejections, rejections_task, live)
    if settings.processor_ops_port is not None:
        try:
            running.ops = await _start_ops(settings, running, js)
        except BaseException:
            await running.stop(grace=1)
            raise
    return running


async def _start_ops(settings: Settings, running: ProcessorService, js: JetStreamContext) -> OpsServer:
    """/metrics (with the consumer's lag), and /readyz: ready while JetStream and PostgreSQL answer."""
    names = Names(settings.nats_namespace)
    collector = ProcessorCollector(running.consumer, running.live, js, names)
    registry = CollectorRegistry()
    registry.register(collector)

    async def event_stream() -> None:
        if not running.nc.is_connected:
            raise ConnectionError("NATS disconnected")
        await js.consumer_info(names.events_stream, names.processor_consumer)

    async def database() -> None:
        await running.pool.fetchval("SELECT 1")

    assert settings.processor_ops_port is not None
    return await start_ops_server(settings.ops_host, settings.processor_ops_port, registry,
                                  {"event_stream": event_stream, "database": database}, refresh=collector.refresh)


async def serve(settings: Settings) -> None:
    running = await start_processor(settings)
    await run_until_signalled(running.stop, running.task)
