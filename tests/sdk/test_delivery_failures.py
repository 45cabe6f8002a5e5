"""What the SDK does when the server refuses, limits or disappears: real ingest, real pipeline."""

import asyncio
import logging
import socket
import time

from config import Settings
from ingest.server import start_ingest
from tests.polling import wait_for_stored
from tests.sdk.stored import stored_events
from trackmint_sdk import Client, InvalidBatchError, UnauthorizedError

UNKNOWN_KEY = "tm_live_" + "Z" * 32


def unused_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


async def test_unknown_write_key_drops_events_logs_once_and_keeps_the_app_running(ingest_server, caplog):
    reported = []
    client = Client(UNKNOWN_KEY, f"127.0.0.1:{ingest_server.port}", flush_interval=0.02, on_error=reported.append)
    try:
        with caplog.at_level(logging.ERROR, logger="trackmint_sdk"):
            for index in range(5):
                client.track("Signed Up", user_id=f"user-{index}")
            assert await asyncio.to_thread(client.flush, 10)
            assert client.stats.dropped_by_reason.unauthorized == 5
            # Later calls still work (and are dropped the same way), without a second error line.
            assert client.track("Signed Up", user_id="user-6")
            assert await asyncio.to_thread(client.flush, 10)
        stats = client.stats
        assert (stats.acked, stats.dropped, stats.dropped_by_reason.unauthorized) == (0, 6, 6)
    finally:
        await asyncio.to_thread(client.close)
    [line] = [record.getMessage() for record in caplog.records if "UNAUTHENTICATED" in record.getMessage()]
    assert UNKNOWN_KEY[:12] in line and UNKNOWN_KEY not in line
    sdk_lines = [record.getMessage() for record in caplog.records if record.name.startswith("trackmint_sdk")]
    assert not any(UNKNOWN_KEY[:13] in line for line in sdk_lines)  # at most 12 characters of the key
    assert sum(error.dropped for error in reported if isinstance(error, UnauthorizedError)) == 6


async def test_full_queue_drops_and_counts_while_track_stays_fast():
    client = Client(
        UNKNOWN_KEY, f"127.0.0.1:{unused_port()}", max_queue_size=1000, batch_size=100, flush_interval=0.01
    )
    try:
        started = time.perf_counter()
        for index in range(10_000):
            client.track("Tick", user_id="user-1", properties={"index": index})
        elapsed = time.perf_counter() - started
        assert elapsed < 1.0, f"10k track() calls took {elapsed:.2f} s"
        stats = client.stats
        assert stats.enqueued == 10_000
        # At most the queue plus the in-flight window is held; the rest is dropped.
        assert stats.dropped_by_reason.queue_full >= 10_000 - 1000 - 8 * 100
        assert stats.dropped + stats.queued + stats.in_flight == 10_000
    finally:
        assert not await asyncio.to_thread(client.close, 0.2)
    stats = client.stats
    assert (stats.dropped, stats.queued, stats.in_flight) == (10_000, 0, 0)
    assert stats.dropped_by_reason.closed == 10_000 - stats.dropped_by_reason.queue_full


async def test_ingest_restart_while_sending_stores_everything_exactly_once(settings, processor, project, db):
    server = await start_ingest(settings)
    port = server.port
    client = Client(
        project.write_key,
        f"127.0.0.1:{port}",
        batch_size=20,
        flush_interval=0.02,
        initial_retry_delay=0.05,
        max_retry_delay=0.3,
    )
    sent: list[str] = []

    async def produce(count: int) -> None:
        for index in range(count):
            sent.append(client.track("Heartbeat", user_id=f"user-{index % 10}", properties={"n": len(sent)}))
            if index % 10 == 0:
                await asyncio.sleep(0.002)

    try:
        producer = asyncio.create_task(produce(1500))
        await asyncio.sleep(0.3)
        await server.stop(grace=0.2)
        await asyncio.sleep(0.5)
        server = await start_ingest(settings.model_copy(update={"ingest_port": port}))
        await producer
        assert await asyncio.to_thread(client.flush, 30)
        stats = client.stats
        assert (stats.enqueued, stats.rejected, stats.dropped) == (1500, 0, 0)
        assert stats.acked >= 1500  # a batch stored before its ack was lost is acked twice
        assert stats.reconnects >= 1
    finally:
        await asyncio.to_thread(client.close)
        await server.stop(grace=0.2)

    assert await wait_for_stored(db, project.project_id, 1500) == 1500
    await asyncio.sleep(0.3)  # a late duplicate would show up now
    assert await db.fetchval("SELECT count(*) FROM events WHERE project_id = $1", project.project_id) == 1500
    assert set(await stored_events(db, project.project_id)) == set(sent)


async def test_batch_the_server_refuses_is_dropped_and_the_rest_is_sent(settings: Settings, processor, project, db):
    server = await start_ingest(settings.model_copy(update={"max_batch_events": 10}))
    reported = []
    client = Client(
        project.write_key, f"127.0.0.1:{server.port}", batch_size=20, flush_interval=60, on_error=reported.append
    )
    try:
        too_many = [client.track("Imported", user_id="user-1") for _ in range(20)]
        assert await asyncio.to_thread(client.flush, 10)
        fine = [client.track("Imported", user_id="user-1") for _ in range(5)]
        assert await asyncio.to_thread(client.flush, 10)
        stats = client.stats
        assert (stats.acked, stats.dropped, stats.dropped_by_reason.invalid_argument) == (5, 20, 20)
    finally:
        await asyncio.to_thread(client.close)
        await server.stop(grace=0.2)
    assert [error.dropped for error in reported if isinstance(error, InvalidBatchError)] == [20]
    assert await wait_for_stored(db, project.project_id, 5) == 5
    stored = set(await stored_events(db, project.project_id))
    assert stored == set(fine) and not stored & set(too_many)


async def test_batch_larger_than_the_server_accepts_is_dropped_as_too_large(settings, processor, project, db):
    server = await start_ingest(settings.model_copy(update={"max_batch_bytes": 64 * 1024}))
    client = Client(project.write_key, f"127.0.0.1:{server.port}", flush_interval=60)
    try:
        for _ in range(10):
            client.track("Uploaded", user_id="user-1", properties={"blob": "x" * 10_000})
        assert await asyncio.to_thread(client.flush, 10)
        small = client.track("Uploaded", user_id="user-1")
        assert await asyncio.to_thread(client.flush, 10)
        stats = client.stats
        assert (stats.acked, stats.dropped_by_reason.batch_too_large) == (1, 10)
    finally:
        await asyncio.to_thread(client.close)
        await server.stop(grace=0.2)
    assert await wait_for_stored(db, project.project_id, 1) == 1
    assert set(await stored_events(db, project.project_id)) == {small}
