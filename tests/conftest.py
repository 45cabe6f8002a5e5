"""Real servers for the test suite.

PostgreSQL and NATS come from TRACKMINT_DATABASE_URL / TRACKMINT_NATS_URL when
set, otherwise from private embedded servers started here. Either way the suite
works in a database it creates and drops, and in a NATS namespace of its own,
so it never touches data it did not make.
"""

import contextlib
import os
import secrets
import shutil
import tempfile
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import nats
import nats.js.errors
import pytest

from cli.embedded import EmbeddedNats, EmbeddedPostgres
from config import Settings, load_settings
from messaging.names import Names
from storage.migrations import migrate
from storage.projects import CreatedProject, create_project

if TYPE_CHECKING:
    from nats.js import JetStreamContext

    from ingest.server import IngestServer
    from processor.service import ProcessorService


def _with_database(url: str, database: str) -> str:
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path=f"/{database}"))


@pytest.fixture(scope="session")
def servers_dir() -> Iterator[Path]:
    # Not under pytest's basetemp: another pytest session on the machine prunes old basetemps, and
    # pruning a live PostgreSQL data directory crashes the server mid-run.
    path = Path(tempfile.mkdtemp(prefix="trackmint-test-servers-"))
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


@pytest.fixture(scope="session")
def postgres_server_url(servers_dir: Path) -> Iterator[str]:
    given = os.environ.get("TRACKMINT_DATABASE_URL")
    if given:
        yield given
        return
    server = EmbeddedPostgres(servers_dir).start()
    try:
        yield server.url
    finally:
        server.stop()


@pytest.fixture(scope="session")
def nats_url(servers_dir: Path) -> Iterator[str]:
    given = os.environ.get("TRACKMINT_NATS_URL")
    if given:
        yield given
        return
    server = EmbeddedNats(servers_dir).start()
    try:
        yield server.url
    finally:
        server.stop()


@pytest.fixture(scope="session")
async def database_url(postgres_server_url: str) -> AsyncIterator[str]:
    """A migrated database of this test session's own, dropped at the end."""
    name = f"trackmint_test_{secrets.token_hex(4)}"
    admin = await asyncpg.connect(postgres_server_url)
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()
    url = _with_database(postgres_server_url, name)
    connection = await asyncpg.connect(url)
    try:
        await migrate(connection)
    finally:
        await connection.close()
    yield url
    admin = await asyncpg.connect(postgres_server_url)
    try:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await admin.close()


@pytest.fixture
def nats_namespace() -> str:
    """Each test gets its own streams and consumers on the shared NATS server."""
    return f"t{secrets.token_hex(4)}_"


@pytest.fixture
async def settings(database_url: str, nats_url: str, nats_namespace: str, tmp_path: Path) -> AsyncIterator[Settings]:
    """Settings for one test: its own NATS namespace (small in-memory streams, deleted afterwards)."""
    configured = load_settings(
        database_url=database_url,
        nats_url=nats_url,
        nats_namespace=nats_namespace,
        data_dir=tmp_path,
        stream_storage="memory",
        stream_max_bytes=64 * 1024 * 1024,
        ingest_port=0,
        query_port=0,
        bridge_port=0,
    )
    yield configured
    await delete_namespace_streams(nats_url, nats_namespace)


async def delete_namespace_streams(nats_url: str, namespace: str) -> None:
    """Free the JetStream memory a test's streams held (they share one server)."""
    names = Names(namespace)
    connection = await nats.connect(nats_url, connect_timeout=2, max_reconnect_attempts=0)
    try:
        js = connection.jetstream()
        for stream in (names.events_stream, names.dead_letter_stream):
            with contextlib.suppress(nats.js.errors.NotFoundError):
                await js.delete_stream(stream)
    finally:
        await connection.close()


@pytest.fixture
async def jetstream(settings: Settings) -> AsyncIterator["JetStreamContext"]:
    """A JetStream client on the test's NATS server, with the test's streams declared."""
    from messaging.streams import connect, ensure_streams

    nc = await connect(settings.nats_url, name="tests")
    js = nc.jetstream(timeout=10)
    await ensure_streams(js, settings)
    try:
        yield js
    finally:
        await nc.close()


@pytest.fixture
async def db(database_url: str) -> AsyncIterator[asyncpg.Connection]:
    connection = await asyncpg.connect(database_url)
    try:
        yield connection
    finally:
        await connection.close()


@pytest.fixture
async def project(db: asyncpg.Connection) -> CreatedProject:
    return await create_project(db, f"test-{secrets.token_hex(3)}")


@pytest.fixture
async def ingest_server(settings: Settings) -> AsyncIterator["IngestServer"]:
    """A real ingest gRPC server on a free port, for the test's settings."""
    from ingest.server import start_ingest

    server = await start_ingest(settings)
    try:
        yield server
    finally:
        await server.stop(grace=1)


@pytest.fixture
async def processor(settings: Settings) -> AsyncIterator["ProcessorService"]:
    """A real processor replica storing the test's events."""
    from processor.service import start_processor

    service = await start_processor(settings)
    try:
        yield service
    finally:
        await service.stop(grace=5)
