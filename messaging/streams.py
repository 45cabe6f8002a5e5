"""Connecting to NATS and declaring the JetStream streams, idempotently."""

import asyncio
import logging

import nats
from nats.aio.client import Client as NATS
from nats.errors import Error as NatsError
from nats.js import JetStreamContext
from nats.js.api import ConsumerConfig, DiscardPolicy, RetentionPolicy, StorageType, StreamConfig
from nats.js.errors import BadRequestError, NotFoundError

from config import Settings
from messaging.names import Names

logger = logging.getLogger(__name__)


def nats_servers(url: str) -> list[str]:
    """The servers of a `TRACKMINT_NATS_URL`: one URL, or a comma-separated list of a cluster's nodes.

    nats-py takes a list (not a comma-separated string); it connects to one of them and, on losing it,
    reconnects to another, including the nodes the cluster announces.
    """
    servers = [server.strip() for server in url.split(",") if server.strip()]
    if not servers:
        raise ValueError("no NATS server URL given")
    return servers


async def connect(url: str, *, name: str, **options: object) -> NATS:
    """Connect with reconnection forever: services outlive NATS restarts. `url` may list a cluster's nodes."""

    async def on_disconnect() -> None:
        logger.warning("nats disconnected", extra={"client": name})

    async def on_reconnect() -> None:
        logger.info("nats reconnected", extra={"client": name})

    async def on_error(error: Exception) -> None:
        logger.warning("nats error: %s", error, extra={"client": name})

    defaults: dict[str, object] = {
        "name": name,
        "max_reconnect_attempts": -1,
        "reconnect_time_wait": 0.5,
        "connect_timeout": 5,
        "disconnected_cb": on_disconnect,
        "reconnected_cb": on_reconnect,
        "error_cb": on_error,
    }
    return await nats.connect(nats_servers(url), **{**defaults, **options})


def events_stream_config(settings: Settings) -> StreamConfig:
    names = Names(settings.nats_namespace)
    return StreamConfig(
        name=names.events_stream,
        subjects=[names.events_subjects],
        retention=RetentionPolicy.LIMITS,
        storage=StorageType.FILE if settings.stream_storage == "file" else StorageType.MEMORY,
        # A full stream drops its oldest messages, so stored events make room for new ones; ingest refuses
        # new batches long before an event the processors have not stored could be dropped (ingest/backlog.py).
        discard=DiscardPolicy.OLD,
        max_bytes=settings.stream_max_bytes,
        max_age=settings.stream_max_age_seconds,
        duplicate_window=settings.stream_duplicate_window_seconds,
        num_replicas=settings.stream_replicas,
    )


def dead_letter_stream_config(settings: Settings) -> StreamConfig:
    names = Names(settings.nats_namespace)
    return StreamConfig(
        name=names.dead_letter_stream,
        subjects=names.dead_letter_subjects,
        retention=RetentionPolicy.LIMITS,
        storage=StorageType.FILE if settings.stream_storage == "file" else StorageType.MEMORY,
        discard=DiscardPolicy.OLD,
        max_bytes=max(settings.stream_max_bytes // 10, 1024 * 1024),
        max_age=settings.stream_max_age_seconds * 4,
        duplicate_window=settings.stream_duplicate_window_seconds,
        num_replicas=settings.stream_replicas,
    )


async def ensure_stream(js: JetStreamContext, config: StreamConfig) -> None:
    """Create the stream, or bring an existing one to this configuration."""
    try:
        info = await js.stream_info(config.name)
    except NotFoundError:
        try:
            await js.add_stream(config)
            logger.info("created stream %s", config.name)
            return
        except BadRequestError:
            # Another replica created it between our lookup and our add.
            info = await js.stream_info(config.name)
    current = info.config
    wanted = config.as_dict()
    if any(current.as_dict().get(key) != value for key, value in wanted.items()):
        await js.update_stream(config)
        logger.info("updated stream %s", config.name)


async def ensure_streams(js: JetStreamContext, settings: Settings) -> None:
    await ensure_stream(js, events_stream_config(settings))
    await ensure_stream(js, dead_letter_stream_config(settings))


async def bind_pull_subscription(
    js: JetStreamContext, subject: str, *, durable: str, stream: str, config: ConsumerConfig, patience: float = 10
) -> JetStreamContext.PullSubscription:
    """Bind a pull subscription to a durable consumer (creating it if needed), retrying while JetStream
    is not ready yet (e.g. the stream is still being declared by another service at boot)."""
    delay = 0.2
    while True:
        try:
            return await js.pull_subscribe(subject, durable=durable, stream=stream, config=config)
        except (NatsError, OSError) as error:
            if delay > patience:
                raise
            logger.warning("cannot bind consumer %s yet (%r); retrying in %.1fs", durable, error, delay)
            await asyncio.sleep(delay)
            delay *= 2


async def connect_jetstream(settings: Settings, *, name: str, within: float = 60.0) -> tuple[NATS, JetStreamContext]:
    """Connect and declare the streams, waiting for NATS/JetStream to become ready (e.g. at boot)."""
    deadline = asyncio.get_running_loop().time() + within
    delay = 0.2
    while True:
        nc = None
        try:
            nc = await connect(settings.nats_url, name=name)
            js = nc.jetstream(timeout=10)
            await ensure_streams(js, settings)
            return nc, js
        except (NatsError, OSError) as error:
            if nc is not None:
                await nc.close()
            if asyncio.get_running_loop().time() + delay > deadline:
                raise
            logger.warning("JetStream not ready (%r); retrying in %.1fs", error, delay)
            await asyncio.sleep(delay)
            delay = min(delay * 2, 5.0)
