"""Fixtures for the ingest tests: a JetStream client to look into the stream, and servers with custom settings."""

from collections.abc import AsyncIterator, Awaitable, Callable

import pytest

from config import Settings
from ingest.server import IngestServer, start_ingest


@pytest.fixture
async def start_ingest_with() -> AsyncIterator[Callable[..., Awaitable[IngestServer]]]:
    """Start an ingest server with the given settings; every server started is stopped after the test."""
    started: list[IngestServer] = []

    async def start(settings: Settings) -> IngestServer:
        server = await start_ingest(settings)
        started.append(server)
        return server

    yield start
    for server in started:
        if not server.service.draining.is_set():
            await server.stop(grace=1)
