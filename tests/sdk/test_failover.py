"""Several ingest endpoints: the SDK streams to one and fails over to the next, resending what was not acked."""

import asyncio

import grpc
import pytest

from config import Settings
from ingest.server import start_ingest
from tests.polling import wait_for_stored
from tests.sdk.stored import stored_events
from tests.sdk.test_delivery_failures import unused_port
from trackmint_sdk import Client, _status
from trackmint_sdk._options import Options


@pytest.mark.parametrize(
    "code",
    [grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED, grpc.StatusCode.UNKNOWN, grpc.StatusCode.INTERNAL],
)
def test_a_failure_one_replica_can_cause_moves_to_the_next_endpoint(code):
    assert _status.should_fail_over(code, _status.classify(code, ()))


@pytest.mark.parametrize(
    ("code", "trailing"),
    [
        (grpc.StatusCode.RESOURCE_EXHAUSTED, [("retry-after", "0.5")]),  # each replica limits on its own
        (grpc.StatusCode.UNAUTHENTICATED, ()),  # every replica would refuse the key
        (grpc.StatusCode.INVALID_ARGUMENT, ()),
        (None, ()),  # the server ended the stream cleanly
    ],
)
def test_rate_limits_refusals_and_clean_ends_stay_on_the_endpoint(code, trailing):
    assert not _status.should_fail_over(code, _status.classify(code, trailing))


def test_endpoint_may_be_one_address_or_a_list_of_them():
    assert Options("tm_live_x", "a:1").endpoints == ("a:1",)
    assert Options("tm_live_x", ["a:1", " b:2 "]).endpoints == ("a:1", "b:2")
    for bad in ([], ["a:1", ""], [None], ""):
        with pytest.raises(ValueError, match="endpoint"):
            Options("tm_live_x", bad)


async def test_unreachable_first_endpoint_fails_over_to_the_next(settings: Settings, processor, project, db):
    server = await start_ingest(settings)
    client = Client(project.write_key, [f"127.0.0.1:{unused_port()}", f"127.0.0.1:{server.port}"],
                    flush_interval=0.02, initial_retry_delay=0.05, max_retry_delay=0.3)
    try:
        sent = {client.track("Signed Up", user_id=f"user-{index}") for index in range(50)}
        assert await asyncio.to_thread(client.flush, 20), client.stats
        stats = client.stats
        assert (stats.acked, stats.dropped, stats.failovers) == (50, 0, 1)
    finally:
        await asyncio.to_thread(client.close)
        await server.stop(grace=0.2)
    assert await wait_for_stored(db, project.project_id, 50) == 50
    assert set(await stored_events(db, project.project_id)) == sent


async def test_replica_stopping_mid_stream_fails_over_and_stores_everything_once(
    settings: Settings, processor, project, db
):
    first, second = await start_ingest(settings), await start_ingest(settings)
    client = Client(project.write_key, [f"127.0.0.1:{first.port}", f"127.0.0.1:{second.port}"],
                    batch_size=20, flush_interval=0.02, initial_retry_delay=0.05, max_retry_delay=0.3)
    sent: set[str] = set()
    try:
        for index in range(1500):
            sent.add(client.track("Heartbeat", user_id=f"user-{index % 10}", properties={"n": index}))
            if index == 500:
                await first.stop(grace=0.2)  # draining: UNAVAILABLE, "retry on another replica"
            if index % 10 == 0:
                await asyncio.sleep(0.002)
        assert await asyncio.to_thread(client.flush, 30), client.stats
        stats = client.stats
        assert (stats.enqueued, stats.dropped, stats.failovers) == (1500, 0, 1)
        assert stats.acked >= 1500  # a batch stored before its ack was lost is acked twice
    finally:
        await asyncio.to_thread(client.close)
        await first.stop(grace=0.2)
        await second.stop(grace=0.2)
    assert await wait_for_stored(db, project.project_id, 1500) == 1500
    await asyncio.sleep(0.3)  # a late duplicate would show up now
    assert await db.fetchval("SELECT count(*) FROM events WHERE project_id = $1", project.project_id) == 1500
    assert set(await stored_events(db, project.project_id)) == sent
