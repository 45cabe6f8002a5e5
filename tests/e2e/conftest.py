"""Whole-system fixtures: the query service next to ingest and processor."""

from collections.abc import AsyncIterator

import httpx
import pytest

from config import Settings
from tests.query.servers import start_server, stop_server


@pytest.fixture
async def graphql(settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    """An HTTP client for a real query service over the test database."""
    server, task, url = await start_server(settings)
    try:
        async with httpx.AsyncClient(base_url=url, timeout=30) as http:
            yield http
    finally:
        await stop_server(server, task)
