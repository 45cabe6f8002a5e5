"""Running the query application under uvicorn."""

import asyncio
import logging

import uvicorn
from starlette.types import ASGIApp

from config import Settings
from query.app import create_app

logger = logging.getLogger(__name__)


def create_server(settings: Settings, app: ASGIApp | None = None) -> uvicorn.Server:
    """A uvicorn server for `app` (default: `create_app(settings)`) on settings.query_host/query_port.

    Port 0 binds a free port; after `server.started` it is
    `server.servers[0].sockets[0].getsockname()[1]`.
    """
    config = uvicorn.Config(
        app if app is not None else create_app(settings),
        host=settings.query_host,
        port=settings.query_port,
        # The process owner (CLI, tests) configures logging; uvicorn must not replace it.
        log_config=None,
        lifespan="on",
        access_log=False,
        proxy_headers=False,
        # Open WebSockets and streamed exports get this long to finish on shutdown, then are cancelled.
        timeout_graceful_shutdown=settings.shutdown_grace_seconds,
    )
    return uvicorn.Server(config)


async def serve(settings: Settings) -> None:
    """Serve until cancelled or signalled (SIGINT/SIGTERM), then shut down gracefully."""
    server = create_server(settings)
    logger.info("query service starting on %s:%s", settings.query_host, settings.query_port)
    running = asyncio.create_task(server.serve())
    try:
        await asyncio.shield(running)
    except asyncio.CancelledError:
        # Cancelling uvicorn mid-loop would skip its shutdown; ask it to exit and
        # wait, so listeners close and the lifespan closes the database pool.
        server.should_exit = True
        await running
        raise
