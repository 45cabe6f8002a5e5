"""Drill: PostgreSQL stops for OUTAGE_SECONDS while SDKs send; ingest keeps acking (JetStream buffers),
processors back off with the messages in hand, and everything is stored once after PostgreSQL returns."""

import asyncio
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator
from pathlib import Path

import asyncpg
import pytest

from cli.embedded import free_port
from cli.supervisor import ensure_database
from storage.migrations import migrate
from storage.projects import CreatedProject, create_project
from tests.resilience.conftest import ROOT, DrillFigures, ServiceFactory, compare, wait_until_stored
from trackmint_sdk import Client

OUTAGE_SECONDS = 30
"""How long PostgreSQL is down: the 30 s the operations issue asks for."""
EVENTS_PER_SECOND = 500
BEFORE_SECONDS = 4
AFTER_SECONDS = 4
CATCH_UP_SECONDS = 60
"""Bound on storing the outage's backlog once PostgreSQL is back (processors retry at most every 10 s)."""


class PrivatePostgres:
    """A PostgreSQL of this test's own, so it may be stopped (never the machine's shared server).

    Run by tests/resilience/postgres_keeper.py in a child process (see there why).
    """

    def __init__(self, data_dir: Path) -> None:
        self.data_dir = data_dir
        self.port = free_port()
        self.url = f"postgresql://postgres@127.0.0.1:{self.port}/postgres"
        self._keeper: subprocess.Popen | None = None

    def start(self) -> None:
        self._keeper = subprocess.Popen(
            [sys.executable, "-m", "tests.resilience.postgres_keeper", str(self.data_dir), str(self.port)],
            cwd=ROOT, stdout=subprocess.PIPE, stdin=subprocess.PIPE, text=True,
        )
        assert self._keeper.stdout.readline().strip() == "ready", f"PostgreSQL did not start; see {self.data_dir}"

    def stop(self) -> None:
        if self._keeper is not None and self._keeper.poll() is None:
            self._keeper.terminate()
            self._keeper.wait(30)
        if self._keeper is not None:
            self._keeper.stdin.close()
            self._keeper.stdout.close()
        self._keeper = None


@pytest.fixture
async def private_postgres() -> AsyncIterator[PrivatePostgres]:
    # Not under pytest's basetemp: another pytest session starting on the machine resets its permissions to 0700,
    # which locks out the user PostgreSQL runs as (when the tests run as root), as tests/conftest.py notes.
    data_dir = Path(tempfile.mkdtemp(prefix="trackmint-drill-postgres-"))
    server = PrivatePostgres(data_dir)
    try:
        await asyncio.to_thread(server.start)
        yield server
    finally:
        await asyncio.to_thread(server.stop)
        shutil.rmtree(data_dir, ignore_errors=True)


async def _prepare(server: PrivatePostgres) -> tuple[str, CreatedProject]:
    url = await ensure_database(server.url, "drill")
    connection = await asyncpg.connect(url)
    try:
        await migrate(connection)
        return url, await create_project(connection, "outage drill")
    finally:
        await connection.close()


async def _send(client: Client, sent: set[str], seconds: float) -> None:
    """Track EVENTS_PER_SECOND events at an even pace for `seconds`."""
    for _tick in range(int(seconds * 10)):
        for _ in range(EVENTS_PER_SECOND // 10):
            n = len(sent)
            sent.add(client.track("tick", user_id=f"user-{n % 300}", properties={"n": n}))
        await asyncio.sleep(0.1)


async def test_postgres_outage_is_buffered_and_caught_up_without_loss_or_duplicates(
    services: ServiceFactory, private_postgres: PrivatePostgres, report
):
    started = time.monotonic()
    database_url, project = await _prepare(private_postgres)
    ingest = services("ingest", database_url=database_url).wait_serving()
    processors = [services("processor", database_url=database_url) for _ in range(2)]
    client = Client(project.write_key, ingest.endpoint, flush_interval=0.05, max_retry_delay=2.0)
    sent: set[str] = set()
    try:
        await _send(client, sent, BEFORE_SECONDS)
        await asyncio.to_thread(private_postgres.stop)
        down_at = time.monotonic()
        acked_before_outage = client.stats.acked
        await _send(client, sent, OUTAGE_SECONDS)
        acked_during_outage = client.stats.acked - acked_before_outage
        sent_by_end_of_outage = len(sent)
        await asyncio.to_thread(private_postgres.start)
        outage = time.monotonic() - down_at
        back_at = time.monotonic()
        await _send(client, sent, AFTER_SECONDS)
        assert await asyncio.to_thread(client.flush, 30), client.stats
        stats = client.stats
        db = await asyncpg.connect(database_url)
        try:
            await wait_until_stored(db, project.project_id, len(sent), within=CATCH_UP_SECONDS)
            caught_up = time.monotonic() - back_at
            ledger = await compare(db, project.project_id, sent)
        finally:
            await db.close()
    finally:
        await asyncio.to_thread(client.close)
    report(DrillFigures(
        "postgres_outage", sent=len(sent), acked=stats.acked, stored=ledger.stored, duplicates=ledger.duplicates,
        lost=ledger.lost, seconds=round(time.monotonic() - started, 1),
        notes={"outage_seconds": round(outage, 1), "acked_during_outage": acked_during_outage,
               "caught_up_seconds_after_restart": round(caught_up, 1)},
    ))
    # Ingest needs only NATS (and its cached key): it kept acking while PostgreSQL was down.
    assert acked_during_outage >= (sent_by_end_of_outage - acked_before_outage) * 0.9
    assert stats.acked == len(sent) and stats.dropped == 0
    assert ledger.lost == 0 and ledger.duplicates == 0 and ledger.unexpected == 0
    assert ledger.rollup == ledger.rows == len(sent)
    for service in (ingest, *processors):
        assert service.running, service.log_tail()
