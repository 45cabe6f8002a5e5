"""Building and running the ingest process: the gRPC server (Ingest, health checking, reflection) and the
Segment-compatible HTTP bridge, sharing one key resolver, usage recorder and BatchPipeline."""

import asyncio
import contextlib
import logging
from dataclasses import dataclass

import asyncpg
import grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection
from nats.aio.client import Client as NATS
from nats.js import JetStreamContext
from prometheus_client import CollectorRegistry

from config import Settings
from ingest.auth import KeyResolver
from ingest.backlog import BacklogGuard
from ingest.enrichment import EnrichmentContext, GeoLocator, open_geo_database
from ingest.http_bridge.app import Bridge
from ingest.http_bridge.server import BridgeServer, start_bridge
from ingest.key_usage import KeyUsageRecorder
from ingest.metrics import IngestCollector
from ingest.pipeline import BatchPipeline
from ingest.publisher import EventPublisher
from ingest.rate_limit import RateLimiter
from ingest.rejections import RejectionPublisher
from ingest.replay import ReplayResponder, ReplayService
from ingest.schemas import SchemaRegistry
from ingest.service import IngestService, add_ingest_to_server
from ingest.snippet import snippet_routes
from ingest.validation import Limits
from messaging.names import Names
from messaging.streams import connect_jetstream
from observability.lifecycle import run_until_signalled
from observability.logs import RequestIdInterceptor
from observability.ops_server import OpsServer, start_ops_server
from storage.database import create_pool
from trackmint.v1 import ingest_service_pb2

logger = logging.getLogger(__name__)

SERVICE_NAME = ingest_service_pb2.DESCRIPTOR.services_by_name["Ingest"].full_name


@dataclass
class IngestServer:
    server: grpc.aio.Server
    port: int
    service: IngestService
    health: health.aio.HealthServicer
    nc: NATS
    pool: asyncpg.Pool
    usage: KeyUsageRecorder
    grace: float
    geo: GeoLocator | None = None
    replay: ReplayResponder | None = None
    bridge: BridgeServer | None = None
    ops: OpsServer | None = None

    @property
    def bridge_port(self) -> int:
        assert self.bridge is not None
        return self.bridge.port

    async def stop(self, grace: float | None = None) -> None:
        """Stop accepting, let in-flight batches finish and be acked, then close connections."""
        grace = self.grace if grace is None else grace
        self.service.draining.set()  # the bridge shares this event: it answers 503 from now on
        await self.health.enter_graceful_shutdown()
        if self.bridge is not None:
            await asyncio.gather(self.server.stop(grace), self.bridge.stop(grace))
        else:
            await self.server.stop(grace)
        if self.replay is not None:
            await self.replay.stop()
        if self.service.pipeline.backlog is not None:
            await self.service.pipeline.backlog.stop()
        if self.ops is not None:
            await self.ops.stop()
        await self.usage.stop()
        if self.nc.is_connected:
            await self.nc.drain()
        else:
            await self.nc.close()
        await self.pool.close()
        if self.geo is not None:
            self.geo.close()


async def start_ingest(settings: Settings) -> IngestServer:
    """Connect to NATS and PostgreSQL, declare the streams, and start serving.

    If any step fails (NATS never ready, the port taken, ...), what was already opened is closed again.
    """
    async with contextlib.AsyncExitStack() as undo_on_failure:
        geo = open_geo_database(settings.geoip_database_path)
        if geo is not None:
            undo_on_failure.callback(geo.close)
        nc, js = await connect_jetstream(settings, name="trackmint-ingest")
        undo_on_failure.push_async_callback(nc.close)
        pool = await create_pool(settings.database_url, size=4)
        undo_on_failure.push_async_callback(pool.close)
        running = await _serve_grpc(settings, geo, nc, js, pool)
        undo_on_failure.pop_all()
    return running


async def _serve_grpc(
    settings: Settings, geo: GeoLocator | None, nc: NATS, js: JetStreamContext, pool: asyncpg.Pool
) -> IngestServer:
    usage = KeyUsageRecorder(pool, settings.api_key_usage_flush_seconds)
    keys = KeyResolver(pool, ttl=settings.api_key_cache_ttl_seconds)
    names = Names(settings.nats_namespace)
    publisher = EventPublisher(nc, js, names)
    backlog = BacklogGuard(nc, js, names, settings.stream_backlog_refuse_fraction)
    pipeline = BatchPipeline(
        limiter=RateLimiter(settings.rate_limit_events_per_second, settings.rate_limit_burst_seconds),
        publisher=publisher,
        limits=Limits.from_settings(settings),
        max_batch_events=settings.max_batch_events,
        enrichment=EnrichmentContext(geo=geo),
        schemas=SchemaRegistry(pool, ttl=settings.schema_cache_ttl_seconds),
        rejections=RejectionPublisher(nc, js, names),
        backlog=backlog,
    )
    replay = ReplayResponder(nc, names, ReplayService(pool, pipeline, publisher))
    service = IngestService(keys=keys, usage=usage, pipeline=pipeline)
    server = grpc.aio.server(
        interceptors=[RequestIdInterceptor()],
        options=[
            ("grpc.max_receive_message_length", settings.max_batch_bytes),
            ("grpc.max_send_message_length", 16 * 1024 * 1024),
            ("grpc.keepalive_time_ms", 30_000),
            ("grpc.http2.min_ping_interval_without_data_ms", 10_000),
            ("grpc.keepalive_permit_without_calls", 1),
            # A second server on a taken port must fail, not silently share the port with the first.
            ("grpc.so_reuseport", 0),
        ]
    )
    add_ingest_to_server(service, server, SERVICE_NAME)
    health_servicer = health.aio.HealthServicer()
    health_pb2_grpc.add_HealthServicer_to_server(health_servicer, server)
    reflection.enable_server_reflection(
        (SERVICE_NAME, health_pb2.DESCRIPTOR.services_by_name["Health"].full_name, reflection.SERVICE_NAME),
        server,
    )
    ops = None
    if settings.ingest_ops_port is not None:
        ops = await _start_ops(settings, pipeline, publisher, nc, js, names, pool)
    try:
        port = server.add_insecure_port(f"{settings.ingest_host}:{settings.ingest_port}")
        await server.start()
        try:
            bridge = await start_bridge(Bridge(keys, usage, pipeline, pool, settings, service.draining),
                                        snippet_routes())
        except BaseException:
            await server.stop(0)
            raise
    except BaseException:
        if ops is not None:
            await ops.stop()
        raise
    await replay.start()
    usage.start()
    backlog.start()
    for name in ("", SERVICE_NAME):
        await health_servicer.set(name, health_pb2.HealthCheckResponse.SERVING)
    logger.info("ingest listening on %s:%s", settings.ingest_host, port)
    return IngestServer(
        server, port, service, health_servicer, nc, pool, usage, settings.shutdown_grace_seconds, geo, replay, bridge,
        ops,
    )


async def _start_ops(settings: Settings, pipeline: BatchPipeline, publisher: EventPublisher, nc: NATS,
                     js: JetStreamContext, names: Names, pool: asyncpg.Pool) -> OpsServer:
    """/metrics, and /readyz: ready while the event stream (what acks depend on) and the database (write
    keys) answer."""
    registry = CollectorRegistry()
    registry.register(IngestCollector(pipeline, publisher))

    async def event_stream() -> None:
        if not nc.is_connected:
            raise ConnectionError("NATS disconnected")
        await js.stream_info(names.events_stream)

    async def database() -> None:
        await pool.fetchval("SELECT 1")

    assert settings.ingest_ops_port is not None
    return await start_ops_server(settings.ops_host, settings.ingest_ops_port, registry,
                                  {"event_stream": event_stream, "database": database})


async def serve(settings: Settings) -> None:
    """Run ingest until SIGINT/SIGTERM, then shut down gracefully."""
    running = await start_ingest(settings)
    await run_until_signalled(running.stop)


