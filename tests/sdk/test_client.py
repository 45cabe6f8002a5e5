"""The sync Client against a real ingest server, JetStream, processor and PostgreSQL."""

import asyncio
import json
import logging
from datetime import UTC, datetime, timedelta

from tests.polling import wait_for_stored
from tests.sdk.stored import stored_events
from trackmint.v1 import event_pb2
from trackmint_sdk import Client, EventsRejectedError, __version__
from trackmint_sdk.stats import latency_percentiles


async def test_tracked_events_are_stored_with_their_fields(ingest_server, processor, project, db):
    client = Client(project.write_key, f"127.0.0.1:{ingest_server.port}", flush_interval=0.05)
    when = datetime.now(UTC).replace(microsecond=123456) - timedelta(hours=1)
    try:
        ids = [
            client.track(
                "Order Completed",
                user_id="user-1",
                properties={"total": 42, "items": ["a", "b"], "coupon": None},
                timestamp=when,
                session_id="s-1",
            ),
            client.track("Signed Up", anonymous_id="anon-1"),
        ]
        assert await asyncio.to_thread(client.flush, 10)
        assert client.stats.acked == 2
    finally:
        await asyncio.to_thread(client.close)

    assert await wait_for_stored(db, project.project_id, 2) == 2
    rows = await stored_events(db, project.project_id)
    order = rows[ids[0]]
    assert order["type"] == event_pb2.EVENT_TYPE_TRACK
    assert order["event"] == "Order Completed"
    assert (order["user_id"], order["anonymous_id"], order["session_id"]) == ("user-1", None, "s-1")
    assert json.loads(order["properties"]) == {"total": 42, "items": ["a", "b"], "coupon": None}
    # Clock-skew correction moves the time by the client-to-server delay only.
    assert abs(order["event_time"] - when) < timedelta(seconds=5)
    assert (order["library_name"], order["library_version"]) == ("trackmint-python", __version__)
    assert (rows[ids[1]]["anonymous_id"], rows[ids[1]]["user_id"]) == ("anon-1", None)


async def test_flush_returns_only_once_every_event_is_acked(ingest_server, processor, project, db):
    client = Client(project.write_key, f"127.0.0.1:{ingest_server.port}", batch_size=50, flush_interval=5)
    try:
        for index in range(1234):
            client.track("Clicked", user_id=f"user-{index % 7}", properties={"index": index})
        assert await asyncio.to_thread(client.flush, 20)
        stats = client.stats
        assert (stats.enqueued, stats.acked, stats.in_flight, stats.queued, stats.dropped) == (1234, 1234, 0, 0, 0)
        # 25 batches were acked, so the latency summary covers them and is ordered.
        assert 0 < stats.ack_latency_p50_ms <= stats.ack_latency_p99_ms < 20_000
    finally:
        await asyncio.to_thread(client.close)
    assert await wait_for_stored(db, project.project_id, 1234) == 1234


def test_latency_percentiles_pick_the_median_and_the_99th():
    samples = [index / 1000 for index in range(1, 101)]  # 1 ms … 100 ms
    assert latency_percentiles(samples) == (51.0, 99.0)
    assert latency_percentiles([]) == (None, None)


async def test_close_flushes_what_is_queued(ingest_server, processor, project, db):
    # A long flush interval: only close() can be what sends these.
    client = Client(project.write_key, f"127.0.0.1:{ingest_server.port}", flush_interval=60)
    for index in range(25):
        client.identify(f"user-{index}", traits={"plan": "pro"})
    assert await asyncio.to_thread(client.close)
    assert client.stats.acked == 25
    assert await asyncio.to_thread(client.close)  # idempotent
    assert await wait_for_stored(db, project.project_id, 25) == 25


async def test_rejected_event_is_counted_and_logged_while_its_neighbours_are_stored(
    ingest_server, processor, project, db, caplog
):
    reported = []
    client = Client(
        project.write_key, f"127.0.0.1:{ingest_server.port}", flush_interval=60, on_error=reported.append
    )
    try:
        with caplog.at_level(logging.WARNING, logger="trackmint_sdk"):
            good = [client.track("Viewed", user_id="user-1") for _ in range(3)]
            future = client.track("Viewed", user_id="user-1", timestamp=datetime.now(UTC) + timedelta(days=2))
            good.append(client.track("Viewed", user_id="user-1"))
            assert await asyncio.to_thread(client.flush, 10)
        stats = client.stats
        assert (stats.acked, stats.rejected, stats.dropped) == (4, 1, 0)
    finally:
        await asyncio.to_thread(client.close)

    warnings = [record.getMessage() for record in caplog.records
                if record.levelno == logging.WARNING and record.name.startswith("trackmint_sdk")]
    assert len(warnings) == 1  # one line per batch, not per event
    assert "TIMESTAMP_IN_FUTURE" in warnings[0] and future in warnings[0]
    [error] = [error for error in reported if isinstance(error, EventsRejectedError)]
    assert [(item.message_id, item.code) for item in error.rejections] == [(future, "TIMESTAMP_IN_FUTURE")]
    assert await wait_for_stored(db, project.project_id, 4) == 4
    assert set(await stored_events(db, project.project_id)) == set(good)
