"""Faults while an SDK is sending: nothing is lost and nothing is stored twice."""

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from cli.embedded import EmbeddedNats
from config import Settings
from ingest.server import start_ingest
from processor.service import start_processor
from tests.polling import wait_for_stored
from trackmint_sdk import Client


@pytest.fixture
async def private_nats(tmp_path: Path) -> AsyncIterator[EmbeddedNats]:
    """A NATS server of this test's own, so it can be stopped and started again."""
    server = EmbeddedNats(tmp_path / "nats-private").start()
    try:
        yield server
    finally:
        server.stop()


async def test_jetstream_restart_while_sdk_sends_loses_nothing_and_duplicates_nothing(
    settings: Settings, private_nats: EmbeddedNats, project, db
):
    settings = settings.model_copy(update={"nats_url": private_nats.url, "stream_storage": "file"})
    ingest = await start_ingest(settings)
    processor = await start_processor(settings)
    client = Client(project.write_key, f"127.0.0.1:{ingest.port}", flush_interval=0.05, max_retry_delay=1.0)
    sent = 0
    try:
        for round_number in range(40):
            for _ in range(50):
                client.track("tick", user_id=f"user-{sent % 17}", properties={"n": sent})
                sent += 1
            if round_number == 10:
                private_nats.stop()  # JetStream goes away mid-stream, acks stop
                await asyncio.sleep(1.5)
            if round_number == 20:
                private_nats.start()  # same port, same store: stream and consumer survive
            await asyncio.sleep(0.05)
        assert await asyncio.to_thread(client.flush, 60), client.stats
        stats = client.stats
        assert stats.dropped == 0 and stats.rejected == 0
        assert stats.reconnects >= 1  # the outage was felt and retried through
        assert await wait_for_stored(db, project.project_id, sent, within=30) == sent
        distinct = await db.fetchval(
            "SELECT count(DISTINCT message_id) FROM events WHERE project_id = $1", project.project_id
        )
        assert distinct == sent
        rollup = await db.fetchval("SELECT sum(count) FROM event_counts WHERE project_id = $1", project.project_id)
        assert rollup == sent
    finally:
        await asyncio.to_thread(client.close)
        await processor.stop(grace=5)
        await ingest.stop(grace=1)
