"""The operations endpoints of a service: `/healthz` (the process is alive), `/readyz` (its dependencies
answer) and `/metrics` (Prometheus text format).

Services without an HTTP server of their own (ingest's gRPC side, the processor, alerting, destinations)
serve these on their ops port (`TRACKMINT_<SERVICE>_OPS_PORT`); the query service adds them to its app.
Each service instance has its own registry, so several in one process (tests) never mix their numbers.
"""

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Mapping

import uvicorn
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

logger = logging.getLogger(__name__)

Check = Callable[[], Awaitable[None]]
"""A readiness check: returns when the dependency answers, raises (anything) when it does not."""

CHECK_TIMEOUT_SECONDS = 2.0
"""How long /readyz waits for each dependency before calling it unavailable."""

REFRESH_TIMEOUT_SECONDS = 2.0
"""How long /metrics waits for values read on demand (e.g. consumer lag from JetStream)."""


async def readiness(checks: Mapping[str, Check]) -> tuple[bool, dict[str, str]]:
    """Run every check at once; (all ready, {dependency: "ok" or what failed})."""

    async def run(check: Check) -> str:
        try:
            async with asyncio.timeout(CHECK_TIMEOUT_SECONDS):
                await check()
        except Exception as error:  # whatever stops a check means "not ready", with why
            return f"{type(error).__name__}: {error}" if str(error) else type(error).__name__
        return "ok"

    results = dict(zip(checks, await asyncio.gather(*(run(check) for check in checks.values())), strict=True))
    return all(result == "ok" for result in results.values()), results


def ops_routes(registry: CollectorRegistry, checks: Mapping[str, Check],
               refresh: Callable[[], Awaitable[None]] | None = None) -> list[BaseRoute]:
    async def healthz(request: Request) -> Response:
        return JSONResponse({"status": "ok"})

    async def readyz(request: Request) -> Response:
        ready, results = await readiness(checks)
        if not ready:
            logger.warning("not ready", extra={"checks": results})
        return JSONResponse({"status": "ok" if ready else "unavailable", "checks": results},
                            status_code=200 if ready else 503)

    async def metrics(request: Request) -> Response:
        if refresh is not None:
            try:
                async with asyncio.timeout(REFRESH_TIMEOUT_SECONDS):
                    await refresh()
            except Exception as error:  # stale values beat no metrics at all
                logger.warning("metrics refresh failed: %r", error)
        return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)

    return [
        Route("/healthz", healthz, methods=["GET"]),
        Route("/readyz", readyz, methods=["GET"]),
        Route("/metrics", metrics, methods=["GET"]),
    ]


class OpsServer:
    """The ops endpoints on their own port, served by uvicorn in the service's event loop."""

    def __init__(self, server: uvicorn.Server, task: asyncio.Task) -> None:
        self._server = server
        self._task = task

    @property
    def port(self) -> int:
        return self._server.servers[0].sockets[0].getsockname()[1]

    async def stop(self) -> None:
        self._server.should_exit = True
        await self._task


async def start_ops_server(host: str, port: int, registry: CollectorRegistry, checks: Mapping[str, Check],
                           refresh: Callable[[], Awaitable[None]] | None = None) -> OpsServer:
    app = Starlette(routes=ops_routes(registry, checks, refresh))
    config = uvicorn.Config(app, host=host, port=port, log_config=None, access_log=False, lifespan="off")
    server = uvicorn.Server(config)
    # The service handles SIGINT/SIGTERM itself; uvicorn must not take them over while it serves.
    server.capture_signals = contextlib.nullcontext  # type: ignore[method-assign]
    async def serve() -> None:
        try:
            await server.serve()
        except SystemExit:
            # uvicorn logs why it could not start (the port taken, ...) and exits the process; a service
            # must fail its start instead (and a SystemExit inside a task would stop the event loop).
            raise OSError(f"the ops endpoints cannot listen on {host}:{port}") from None

    task = asyncio.create_task(serve())
    while not server.started:
        if task.done():
            await task
        await asyncio.sleep(0.01)
    logger.info("ops endpoints listening", extra={"host": host, "port": OpsServer(server, task).port})
    return OpsServer(server, task)
