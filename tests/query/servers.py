"""Running the query service's uvicorn server inside the test event loop."""

import asyncio

import uvicorn

from config import Settings
from query.server import create_server

_STARTUP_TIMEOUT_SECONDS = 10.0


async def start_server(settings: Settings) -> tuple[uvicorn.Server, asyncio.Task, str]:
    """Start `create_server(settings)` in this loop; returns (server, its task, base URL)."""
    server = create_server(settings)
    task = asyncio.create_task(server.serve())
    async with asyncio.timeout(_STARTUP_TIMEOUT_SECONDS):
        while not server.started:
            if task.done():
                task.result()  # startup failed: raise its error here
            await asyncio.sleep(0.01)
    port = server.servers[0].sockets[0].getsockname()[1]
    return server, task, f"http://127.0.0.1:{port}"


async def stop_server(server: uvicorn.Server, task: asyncio.Task) -> None:
    server.should_exit = True
    # uvicorn gives open connections the settings' shutdown grace, then cancels them.
    async with asyncio.timeout((server.config.timeout_graceful_shutdown or 0) + _STARTUP_TIMEOUT_SECONDS):
        await task
