"""Running an alerting replica: connections, the leadership campaign, graceful stop.

Run as many replicas as you like (`trackmint serve alerting`); one leads at a
time (alerting/leader.py) and evaluates every rule and sends every notice;
the others wait to take over. NATS carries only the in-app push: without it,
alerts are still evaluated, stored and sent by email, Slack and webhook, and
in-app deliveries retry until NATS is back.
"""

import asyncio
import contextlib
import logging
from dataclasses import dataclass

import asyncpg
import httpx
from nats.aio.client import Client as NATS
from prometheus_client import CollectorRegistry

from alerting.channels import Senders
from alerting.engine import Clock, Engine, utc_now
from alerting.leader import Leadership
from alerting.metrics import AlertingCollector
from config import Settings
from messaging.streams import connect
from observability.lifecycle import run_until_signalled
from observability.ops_server import OpsServer, start_ops_server
from storage.database import create_pool

logger = logging.getLogger(__name__)


@dataclass
class AlertingService:
    engine: Engine
    leadership: Leadership
    task: asyncio.Task
    pool: asyncpg.Pool
    http: httpx.AsyncClient
    nc: NATS | None
    connecting: asyncio.Task | None = None
    ops: OpsServer | None = None

    @property
    def is_leader(self) -> bool:
        return self.leadership.is_leader

    async def stop(self) -> None:
        """Stop campaigning (releasing the lock), then close connections; a delivery in hand is sent again later."""
        if self.ops is not None:
            await self.ops.stop()
        for task in (self.task, self.connecting):
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task
        await self.http.aclose()
        if self.nc is not None and not self.nc.is_closed:
            await self.nc.close()
        await self.pool.close()

    async def abort(self) -> None:
        """Die like a killed process: the lock connection and the pool's connections drop without goodbyes."""
        self.leadership.abort()
        self.pool.terminate()
        for task in (self.task, self.connecting):
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task
        await self.http.aclose()
        if self.nc is not None and not self.nc.is_closed:
            await self.nc.close()


async def start_alerting(settings: Settings, clock: Clock = utc_now, name: str = "alerting") -> AlertingService:
    if not settings.database_url:
        raise ValueError("the alerting service needs settings.database_url")
    pool = await create_pool(settings.database_url, size=min(settings.alerting_concurrency + 2, 20))
    http = httpx.AsyncClient(follow_redirects=False)
    senders = Senders(settings, http)
    connecting = None
    if settings.nats_url:
        nats_url = settings.nats_url

        async def connect_nats() -> None:
            # Reconnects forever in the background (in-app deliveries retry meanwhile): evaluation never waits.
            connected = await connect(nats_url, name=f"trackmint-{name}", connect_timeout=2, reconnect_time_wait=1)
            senders.nc = service.nc = connected

        connecting = asyncio.create_task(connect_nats(), name=f"{name}-nats-connect")
    engine = Engine(settings, pool, senders, clock)
    leadership = Leadership(settings.database_url, settings.alerting_lock_key,
                            retry_seconds=settings.alerting_leader_retry_seconds,
                            check_seconds=settings.alerting_leader_check_seconds, name=name)
    task = asyncio.create_task(leadership.run(engine.run), name=f"{name}-leadership")
    service = AlertingService(engine, leadership, task, pool, http, None, connecting)
    if settings.alerting_ops_port is not None:
        try:
            service.ops = await _start_ops(settings, service)
        except BaseException:
            await service.stop()
            raise
    logger.info("alerting replica started", extra={"lock_key": settings.alerting_lock_key})
    return service


async def _start_ops(settings: Settings, service: AlertingService) -> OpsServer:
    """/metrics, and /readyz: ready while PostgreSQL (rules, state, the leadership lock) answers. NATS only
    carries in-app pushes, which wait for it, so it is no readiness condition."""
    registry = CollectorRegistry()
    registry.register(AlertingCollector(service.engine, service.leadership))

    async def database() -> None:
        await service.pool.fetchval("SELECT 1")

    assert settings.alerting_ops_port is not None
    return await start_ops_server(settings.ops_host, settings.alerting_ops_port, registry, {"database": database})


async def serve(settings: Settings) -> None:
    running = await start_alerting(settings)
    await run_until_signalled(running.stop, running.task)
