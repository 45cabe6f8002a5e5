"""A real query service (uvicorn on a free port) for the accounts tests, with a known signing secret."""

from collections.abc import AsyncIterator

import httpx
import pytest

from config import Settings, load_settings
from tests.query.servers import start_server, stop_server

SECRET = "accounts-tests-secret-key-0123456789abcdef"


@pytest.fixture(scope="session")
def accounts_settings(database_url: str, tmp_path_factory: pytest.TempPathFactory) -> Settings:
    return load_settings(
        database_url=database_url,
        data_dir=tmp_path_factory.mktemp("accounts"),
        query_host="127.0.0.1",
        query_port=0,
        database_pool_size=4,
        secret_key=SECRET,
    )


@pytest.fixture(scope="session")
async def accounts_url(accounts_settings: Settings) -> AsyncIterator[str]:
    server, task, url = await start_server(accounts_settings)
    try:
        yield url
    finally:
        await stop_server(server, task)


@pytest.fixture
async def client(accounts_url: str) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=accounts_url, timeout=30) as http:
        yield http
