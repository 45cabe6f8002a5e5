"""Drill: the ingest replica an SDK streams to is SIGKILLed; the SDK fails over to the other replica and
resends what was not acked, and every event is stored once."""

import asyncio
import time

from storage.projects import CreatedProject
from tests.resilience.conftest import DrillFigures, ServiceFactory, compare, count_stored, wait_until_stored
from trackmint_sdk import Client, Stats

EVENTS = 20_000
SEND_SECONDS = 6
KILL_AFTER = 0.4
"""The fraction of EVENTS tracked when the replica in use is killed."""


async def with_batches_in_flight(client: Client, within: float = 0.5) -> Stats | None:
    """The client's stats at a moment it has batches on the wire, un-acked (polled every millisecond)."""
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        stats = client.stats
        if stats.in_flight > 0:
            return stats
        await asyncio.sleep(0.001)
    return None


async def test_ingest_replica_killed_while_sdk_streams_fails_over_without_loss_or_duplicates(
    services: ServiceFactory, project: CreatedProject, db, report
):
    started = time.monotonic()
    replicas = [services("ingest") for _ in range(2)]
    for replica in replicas:
        replica.wait_serving()
    processors = [services("processor") for _ in range(2)]
    client = Client(project.write_key, [replica.endpoint for replica in replicas],
                    flush_interval=0.05, initial_retry_delay=0.05, max_retry_delay=1.0)
    sent: set[str] = set()
    try:
        chunk = EVENTS // 60
        for first in range(0, EVENTS, chunk):
            for n in range(first, min(first + chunk, EVENTS)):
                sent.add(client.track("tick", user_id=f"user-{n % 250}", properties={"n": n}))
            if first >= EVENTS * KILL_AFTER and replicas[0].running:
                in_use = await with_batches_in_flight(client)
                if in_use is not None:  # else acked too fast to catch; the next chunk tries again
                    replicas[0].kill()
                    # The first endpoint was the one in use: it acked, and the client had not switched away.
                    assert in_use.acked > 0 and in_use.failovers == 0, in_use
                    at_kill = {"acked": in_use.acked, "in_flight": in_use.in_flight}
            await asyncio.sleep(SEND_SECONDS / 60)
        assert not replicas[0].running, "never caught batches in flight to kill the replica under them"
        assert await asyncio.to_thread(client.flush, 60), client.stats
        stats = client.stats
        await wait_until_stored(db, project.project_id, EVENTS, within=60)
        await asyncio.sleep(1)  # a late duplicate would show up now
        ledger = await compare(db, project.project_id, sent)
    finally:
        await asyncio.to_thread(client.close)
    report(DrillFigures(
        "ingest_sigkill", sent=len(sent), acked=stats.acked, stored=ledger.stored, duplicates=ledger.duplicates,
        lost=ledger.lost, seconds=round(time.monotonic() - started, 1),
        notes={"at_kill": at_kill, "failovers": stats.failovers, "reconnects": stats.reconnects},
    ))
    assert stats.failovers >= 1 and stats.dropped == 0
    assert stats.acked >= len(sent)  # a batch stored before its ack was lost is acked twice
    assert ledger.lost == 0 and ledger.duplicates == 0 and ledger.unexpected == 0
    assert ledger.rollup == ledger.rows == await count_stored(db, project.project_id)
    for service in (replicas[1], *processors):
        assert service.running, service.log_tail()
