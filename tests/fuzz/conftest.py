"""Fixtures for the fuzz tests: smaller ingest limits (so "over the limit" is cheap), a JetStream watch, and a
throwaway GraphQL tenant with a query service in a thread of its own (graphql_sandbox.py)."""

import secrets
from collections.abc import AsyncIterator, Iterator

import asyncpg
import pytest
from hypothesis import HealthCheck
from hypothesis import settings as hypothesis_settings

from config import Settings, load_settings
from tests.fuzz.graphql_sandbox import Sandbox, ThreadedServer, create_sandbox
from tests.fuzz.jetstream import StreamWatch

# Deterministic in CI: the same examples every run (derandomize), none read from or written to a local
# example database. Servers and clients are per test, shared by its examples (hence the fixture health check).
hypothesis_settings.register_profile(
    "fuzz", derandomize=True, database=None, deadline=None, print_blob=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow, HealthCheck.data_too_large],
)
FUZZ = hypothesis_settings.get_profile("fuzz")


@pytest.fixture
def settings(settings: Settings) -> Settings:
    """The suite's settings with smaller request limits (a 64 KiB bridge body, a 256 KiB gRPC message)."""
    return settings.model_copy(update={"bridge_max_body_bytes": 64 * 1024, "max_batch_bytes": 256 * 1024})


@pytest.fixture
async def stream_watch(jetstream, settings: Settings) -> AsyncIterator[StreamWatch]:
    yield StreamWatch(jetstream, settings)


@pytest.fixture(scope="session")
def graphql_settings(database_url: str, nats_url: str, tmp_path_factory: pytest.TempPathFactory) -> Settings:
    return load_settings(database_url=database_url, nats_url=nats_url, nats_namespace=f"fz{secrets.token_hex(4)}_",
                         data_dir=tmp_path_factory.mktemp("fuzz-graphql"), query_host="127.0.0.1", query_port=0,
                         database_pool_size=4)


@pytest.fixture(scope="session")
async def sandbox(database_url: str, graphql_settings: Settings) -> Sandbox:
    connection = await asyncpg.connect(database_url)
    try:
        return await create_sandbox(connection, graphql_settings)
    finally:
        await connection.close()


@pytest.fixture(scope="session")
def graphql_url(graphql_settings: Settings, sandbox: Sandbox) -> Iterator[str]:
    server = ThreadedServer(graphql_settings)
    url = server.start()
    try:
        yield url
    finally:
        server.stop()
