"""Running a destinations replica: connections, the leadership campaign, one worker per enabled destination.

Run as many replicas as you like (`trackmint serve destinations`); one leads at
a time (a PostgreSQL advisory lock, storage/leadership.py) and runs every
destination, so no batch is sent by two replicas; the others wait to take
over. The leader re-reads the destinations every `destinations_refresh_seconds`:
it starts a worker for a new or re-enabled destination, stops the worker of a
disabled one (its consumer stays, so events wait for it), deletes the consumer
of a deleted one, and hands a changed URL, filter or secret to the running
worker. Consumers of destinations that no longer exist are swept at each term.
"""

import asyncio
import contextlib
import logging
import uuid
from dataclasses import dataclass, field

import asyncpg
import httpx
from nats.aio.client import Client as NATS
from nats.js import JetStreamContext
from nats.js.errors import NotFoundError
from prometheus_client import CollectorRegistry

from config import Settings
from destinations import store
from destinations.metrics import DestinationsCollector
from destinations.store import Destination
from destinations.worker import DestinationWorker
from messaging.names import Names
from messaging.streams import connect_jetstream
from observability.lifecycle import run_until_signalled
from observability.ops_server import OpsServer, start_ops_server
from storage.database import create_pool
from storage.leadership import Leadership

logger = logging.getLogger(__name__)


@dataclass
class _Running:
    worker: DestinationWorker
    task: asyncio.Task


@dataclass
class Dispatcher:
    """The leader's work: keep one worker per enabled destination, in step with the table."""

    settings: Settings
    pool: asyncpg.Pool
    js: JetStreamContext
    http: httpx.AsyncClient
    running: dict[uuid.UUID, _Running] = field(default_factory=dict)

    async def run(self) -> None:
        names = Names(self.settings.nats_namespace)
        try:
            known = await store.load_destinations(self.pool)
            await self._sweep_consumers(names, set(known))
            while True:
                await self.reconcile(known, names)
                await asyncio.sleep(self.settings.destinations_refresh_seconds)
                known = await self._load()
        finally:
            await self.stop_all()

    async def _load(self) -> dict[uuid.UUID, Destination]:
        try:
            return await store.load_destinations(self.pool)
        except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError, TimeoutError) as error:
            logger.warning("cannot read destinations (%r); keeping the current workers", error)
            return {key: running.worker.destination for key, running in self.running.items()}

    async def reconcile(self, destinations: dict[uuid.UUID, Destination], names: Names) -> None:
        for destination_id in list(self.running):
            current = destinations.get(destination_id)
            if current is None or not current.enabled:
                await self._stop(destination_id)
                if current is None:
                    await self._delete_consumer(names, destination_id)
            else:
                running = self.running[destination_id]
                if running.task.done():  # crashed: log it and start again below
                    if not running.task.cancelled() and running.task.exception() is not None:
                        logger.error("destination %s: worker failed: %r", destination_id, running.task.exception())
                    del self.running[destination_id]
                else:
                    running.worker.destination = current
        for destination_id, destination in destinations.items():
            if destination.enabled and destination_id not in self.running:
                worker = DestinationWorker(destination, self.js, self.pool, self.http, self.settings)
                task = asyncio.create_task(worker.run(), name=f"destination-{destination_id}")
                self.running[destination_id] = _Running(worker, task)
                logger.info("destination %s: delivering", destination_id)

    async def _stop(self, destination_id: uuid.UUID) -> None:
        running = self.running.pop(destination_id)
        running.worker.stop()
        while not running.task.done():
            running.task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await asyncio.wait({running.task}, timeout=1.0)
        logger.info("destination %s: stopped", destination_id)

    async def stop_all(self) -> None:
        for destination_id in list(self.running):
            await self._stop(destination_id)

    async def _delete_consumer(self, names: Names, destination_id: uuid.UUID) -> None:
        with contextlib.suppress(NotFoundError):
            await self.js.delete_consumer(names.events_stream, names.destination_consumer(str(destination_id)))
            logger.info("destination %s: deleted its consumer", destination_id)

    async def _sweep_consumers(self, names: Names, existing: set[uuid.UUID]) -> None:
        """Delete consumers of destinations deleted while no leader ran."""
        wanted = {names.destination_consumer(str(destination_id)) for destination_id in existing}
        try:
            consumers = await self.js.consumers_info(names.events_stream)
        except Exception as error:  # nats-py raises its own hierarchy; the next term tries again
            logger.warning("cannot list consumers (%r)", error)
            return
        for info in consumers:
            name = info.name or ""
            if name.startswith(names.destination_consumer_prefix) and name not in wanted:
                with contextlib.suppress(NotFoundError):
                    await self.js.delete_consumer(names.events_stream, name)
                    logger.info("deleted consumer %s of a deleted destination", name)


@dataclass
class DestinationsService:
    dispatcher: Dispatcher
    leadership: Leadership
    task: asyncio.Task
    pool: asyncpg.Pool
    http: httpx.AsyncClient
    nc: NATS
    ops: OpsServer | None = None

    @property
    def is_leader(self) -> bool:
        return self.leadership.is_leader

    async def stop(self) -> None:
        """Stop campaigning: workers hand their messages back (redelivered first next time), the lock is released."""
        if self.ops is not None:
            await self.ops.stop()
        self.task.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await self.task
        await self.http.aclose()
        if not self.nc.is_closed:
            await self.nc.close()
        await self.pool.close()

    async def abort(self) -> None:
        """Die like a killed process: no messages handed back, connections dropped without goodbyes."""
        for running in self.dispatcher.running.values():
            running.worker.hand_back_on_stop = False
        self.leadership.abort()
        self.pool.terminate()
        self.task.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await self.task
        await self.http.aclose()
        if not self.nc.is_closed:
            await self.nc.close()


async def start_destinations(settings: Settings, name: str = "destinations") -> DestinationsService:
    if not settings.database_url or not settings.nats_url:
        raise ValueError("the destinations service needs settings.database_url and settings.nats_url")
    pool = await create_pool(settings.database_url, size=4)
    nc, js = await connect_jetstream(settings, name=f"trackmint-{name}")
    http = httpx.AsyncClient(follow_redirects=False, limits=httpx.Limits(max_connections=200))
    dispatcher = Dispatcher(settings, pool, js, http)
    leadership = Leadership(settings.database_url, settings.destinations_lock_key,
                            retry_seconds=settings.destinations_leader_retry_seconds,
                            check_seconds=settings.destinations_leader_check_seconds, name=name)
    task = asyncio.create_task(leadership.run(dispatcher.run), name=f"{name}-leadership")
    service = DestinationsService(dispatcher, leadership, task, pool, http, nc)
    if settings.destinations_ops_port is not None:
        try:
            service.ops = await _start_ops(settings, service)
        except BaseException:
            await service.stop()
            raise
    logger.info("destinations replica started", extra={"lock_key": settings.destinations_lock_key})
    return service


async def _start_ops(settings: Settings, service: DestinationsService) -> OpsServer:
    """/metrics, and /readyz: ready while JetStream (the consumers) and PostgreSQL (destinations, dead letters,
    the leadership lock) answer."""
    registry = CollectorRegistry()
    registry.register(DestinationsCollector(service.dispatcher, service.leadership))
    names = Names(settings.nats_namespace)

    async def event_stream() -> None:
        if not service.nc.is_connected:
            raise ConnectionError("NATS disconnected")
        await service.dispatcher.js.stream_info(names.events_stream)

    async def database() -> None:
        await service.pool.fetchval("SELECT 1")

    assert settings.destinations_ops_port is not None
    return await start_ops_server(settings.ops_host, settings.destinations_ops_port, registry,
                                  {"event_stream": event_stream, "database": database})


async def serve(settings: Settings) -> None:
    running = await start_destinations(settings)
    await run_until_signalled(running.stop, running.task)
