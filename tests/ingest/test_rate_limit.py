"""Per-key rate limits: a flooding key is slowed with RESOURCE_EXHAUSTED + retry-after; others are not."""

import asyncio
import time

import grpc
import pytest

from ingest.rate_limit import RateLimiter, TokenBucket
from storage.projects import create_project
from tests.payloads import auth, batch_of, ingest_stub, track_event
from tests.polling import wait_for_stored
from trackmint_sdk import Client


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_bucket_allows_a_burst_then_names_the_wait_and_refills_at_its_rate():
    bucket = TokenBucket(rate=100, burst_seconds=2, now=0.0)
    assert bucket.take(200, now=0.0) == 0.0  # the whole burst at once
    assert bucket.take(50, now=0.0) == pytest.approx(0.5)  # 50 events at 100/s
    assert bucket.take(50, now=0.25) == pytest.approx(0.25)  # half refilled
    assert bucket.take(50, now=0.5) == 0.0


def test_a_batch_larger_than_the_bucket_passes_when_full_and_leaves_a_debt():
    bucket = TokenBucket(rate=10, burst_seconds=1, now=0.0)
    assert bucket.take(30, now=0.0) == 0.0  # not starved...
    assert bucket.take(1, now=0.0) == pytest.approx(2.1)  # ...but the next waits the debt off


def test_limiter_keeps_one_bucket_per_key_and_uses_the_default_rate():
    clock = FakeClock()
    limiter = RateLimiter(default_rate=10, burst_seconds=1, clock=clock)
    assert limiter.wait_for(b"a", None, 10) == 0.0
    assert limiter.wait_for(b"a", None, 1) > 0
    assert limiter.wait_for(b"b", None, 10) == 0.0  # another key is unaffected
    assert limiter.wait_for(b"c", 1000, 500) == 0.0  # a project's own limit wins over the default
    assert RateLimiter(default_rate=0, burst_seconds=1, clock=clock).wait_for(b"a", None, 10**9) == 0.0


async def test_flooding_key_is_refused_with_retry_after_while_another_project_keeps_its_throughput(
    ingest_server, processor, db, project
):
    flooder = await create_project(db, "flooder", rate_limit=500)  # 1,000-event bucket
    channel, stub = ingest_stub(ingest_server.port)
    refused: list[grpc.aio.AioRpcError] = []
    other_acked = 0

    async def flood() -> None:
        for sequence in range(20):
            try:
                batch = batch_of([track_event() for _ in range(200)], sequence)
                await stub.Send(batch, metadata=auth(flooder.write_key))
            except grpc.aio.AioRpcError as error:
                refused.append(error)

    async def steady() -> None:
        nonlocal other_acked
        for sequence in range(20):
            ack = await stub.Send(batch_of([track_event() for _ in range(200)], sequence),
                                  metadata=auth(project.write_key))
            other_acked += ack.accepted

    async with channel:
        await asyncio.gather(flood(), steady())
    assert other_acked == 4000  # the default limit (10,000/s) is far away; the flood does not touch it
    assert refused, "the flood was never limited"
    error = refused[0]
    assert error.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
    assert "rate limit" in error.details()
    retry_after = dict(error.trailing_metadata())["retry-after"]
    assert 0 < float(retry_after) <= 2.0
    # What was refused was not stored: the limited key stored exactly what was acked.
    assert await wait_for_stored(db, flooder.project_id, (20 - len(refused)) * 200) == (20 - len(refused)) * 200


async def test_sdk_slows_down_under_its_limit_and_delivers_everything_once(ingest_server, processor, db):
    limited = await create_project(db, "limited", rate_limit=1000)  # 2,000-event bucket
    started = time.monotonic()
    client = Client(limited.write_key, f"127.0.0.1:{ingest_server.port}", flush_interval=0.05, batch_size=250)
    try:
        for index in range(4000):
            client.track("tick", user_id=f"user-{index % 9}")
        assert await asyncio.to_thread(client.flush, 30)
    finally:
        await asyncio.to_thread(client.close)
    elapsed = time.monotonic() - started
    assert client.stats.dropped == 0 and client.stats.reconnects >= 1
    assert elapsed >= 1.5  # 2,000 beyond the burst at 1,000/s: the SDK waited as told
    assert elapsed < 8  # ...and no longer: acks of batches in hand are not lost to a refusal, so little is resent
    assert await wait_for_stored(db, limited.project_id, 4000) == 4000
    distinct = await db.fetchval("SELECT count(DISTINCT message_id) FROM events WHERE project_id = $1",
                                 limited.project_id)
    assert distinct == 4000
