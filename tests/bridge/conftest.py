"""Fixtures for the bridge tests: the real ingest process's HTTP bridge, over real HTTP."""

from collections.abc import AsyncIterator

import httpx
import pytest

from ingest.server import IngestServer


@pytest.fixture
def bridge_url(ingest_server: IngestServer) -> str:
    return f"http://127.0.0.1:{ingest_server.bridge_port}"


@pytest.fixture
async def http(bridge_url: str) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=bridge_url, timeout=30) as client:
        yield client
