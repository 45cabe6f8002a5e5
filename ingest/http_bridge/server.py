"""Serving the bridge with uvicorn inside the ingest process, beside the gRPC server.

The listening socket is bound here rather than by uvicorn, so a taken port fails
the ingest start with an OSError (uvicorn would exit the process) and port 0
reports the port it got. Signals stay with the ingest process, which stops the
bridge together with gRPC.
"""

import asyncio
import contextlib
import logging
import socket
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import uvicorn
from starlette.routing import BaseRoute

from ingest.http_bridge.app import Bridge, create_bridge_app

logger = logging.getLogger(__name__)

_STARTUP_TIMEOUT_SECONDS = 10.0


class _EmbeddedServer(uvicorn.Server):
    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        # The ingest process owns SIGINT/SIGTERM and stops the bridge itself.
        yield


@dataclass
class BridgeServer:
    server: uvicorn.Server
    task: asyncio.Task
    host: str
    port: int

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    async def stop(self, grace: float) -> None:
        """Stop accepting, let in-flight requests finish for up to `grace` seconds, then close."""
        self.server.config.timeout_graceful_shutdown = max(grace, 0.1)
        self.server.should_exit = True
        try:
            async with asyncio.timeout(grace + 5):
                await self.task
        except TimeoutError:
            logger.warning("bridge did not stop within %ss; cancelling", grace + 5)
            self.task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self.task


def _listen(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    return socket.create_server((host, port), family=family, backlog=2048)


async def start_bridge(bridge: Bridge, extra_routes: Sequence[BaseRoute] = ()) -> BridgeServer:
    """Serve the bridge on settings.bridge_host/bridge_port; raises OSError when the port is taken."""
    settings = bridge.settings
    sock = _listen(settings.bridge_host, settings.bridge_port)
    config = uvicorn.Config(
        create_bridge_app(bridge, extra_routes),
        # The process owner (CLI, tests) configures logging; uvicorn must not replace it.
        log_config=None,
        lifespan="off",
        access_log=False,
        proxy_headers=False,
        server_header=False,
        timeout_keep_alive=30,
    )
    server = _EmbeddedServer(config)
    task = asyncio.create_task(server.serve(sockets=[sock]), name="http-bridge")
    try:
        async with asyncio.timeout(_STARTUP_TIMEOUT_SECONDS):
            while not server.started:
                if task.done():
                    task.result()  # startup failed: raise its error here
                    raise RuntimeError("the HTTP bridge stopped during startup")
                await asyncio.sleep(0.01)
    except BaseException:
        server.should_exit = True
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await task
        sock.close()
        raise
    port = sock.getsockname()[1]
    logger.info("HTTP bridge listening on %s:%s", settings.bridge_host, port)
    return BridgeServer(server, task, settings.bridge_host, port)
