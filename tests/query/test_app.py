"""The HTTP surface around GraphQL: the GraphiQL page, liveness, readiness, and the server's lifecycle."""

import asyncio
import secrets
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import httpx
import pytest

from config import Settings
from query.server import serve
from tests.query.servers import start_server, stop_server


async def test_browser_get_on_graphql_serves_graphiql(client: httpx.AsyncClient) -> None:
    response = await client.get("/graphql", headers={"Accept": "text/html"})

    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    assert "graphiql" in response.text.lower()


async def test_healthz_answers_ok(client: httpx.AsyncClient) -> None:
    response = await client.get("/healthz")

    assert (response.status_code, response.json()) == (200, {"status": "ok"})


async def test_readyz_answers_ok_when_the_database_answers(client: httpx.AsyncClient) -> None:
    response = await client.get("/readyz")

    assert (response.status_code, response.json()) == (200, {"status": "ok"})


async def test_readyz_answers_503_naming_the_database_when_it_is_gone(
    query_settings: Settings, postgres_server_url: str
) -> None:
    # A database of its own, dropped under the running service.
    name = f"trackmint_readyz_{secrets.token_hex(4)}"
    admin = await asyncpg.connect(postgres_server_url)
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
        url = urlunsplit(urlsplit(postgres_server_url)._replace(path=f"/{name}"))
        settings = query_settings.model_copy(update={"database_url": url, "database_pool_size": 1})
        server, task, base_url = await start_server(settings)
        try:
            async with httpx.AsyncClient(base_url=base_url) as http:
                assert (await http.get("/readyz")).status_code == 200
                await admin.execute(f'DROP DATABASE "{name}" WITH (FORCE)')

                response = await http.get("/readyz")
        finally:
            await stop_server(server, task)
    finally:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()

    assert response.status_code == 503
    assert response.json()["problem"] == "database"


async def test_serve_stops_cleanly_when_cancelled(query_settings: Settings) -> None:
    task = asyncio.create_task(serve(query_settings))
    await asyncio.sleep(0.3)

    task.cancel()

    with pytest.raises(asyncio.CancelledError):
        async with asyncio.timeout(10):
            await task
