"""Drill: a processor replica is SIGKILLed while it writes; its batches are redelivered and stored once."""

import asyncio
import time

from config import Settings
from storage.projects import CreatedProject
from tests.resilience.conftest import (
    ConsumerWatch,
    DrillFigures,
    ServiceFactory,
    compare,
    count_stored,
    wait_until_stored,
)
from trackmint_sdk import Client

EVENTS = 30_000
KILL_AT = (0.3, 0.6)
"""Fractions of EVENTS stored when the processor is killed (and a replacement started)."""
SEND_SECONDS = 6
"""Events are tracked at an even pace over this long, a stream rather than one backlog."""
ACK_WAIT_SECONDS = 3
"""How soon JetStream redelivers what a killed replica had in hand (the default, 60 s, would only slow the drill)."""


async def send(client: Client, sent: set[str]) -> None:
    chunk = EVENTS // 60
    for first in range(0, EVENTS, chunk):
        for n in range(first, min(first + chunk, EVENTS)):
            sent.add(client.track("tick", user_id=f"user-{n % 250}", properties={"n": n, "pad": "x" * 64}))
        await asyncio.sleep(SEND_SECONDS / 60)


async def test_processor_killed_mid_batch_loses_nothing_and_duplicates_nothing(
    services: ServiceFactory, settings: Settings, project: CreatedProject, db, report
):
    # One replica at a time, so what the consumer shows un-acked at the kill is certainly the victim's:
    # each kill is mid-batch (fetched, being written or committed, not acked).
    started = time.monotonic()
    ingest = services("ingest").wait_serving()
    processor = services("processor", processor_ack_wait_seconds=ACK_WAIT_SECONDS)
    client = Client(project.write_key, ingest.endpoint, flush_interval=0.05, max_queue_size=EVENTS)
    sent: set[str] = set()
    kills = []
    try:
        async with ConsumerWatch(settings) as consumer:
            await consumer.wait_for_pullers(settings.processor_workers)
            sender = asyncio.create_task(send(client, sent))
            for fraction in KILL_AT:
                await wait_until_stored(db, project.project_id, int(EVENTS * fraction), within=60)
                for _attempt in range(5):
                    await consumer.wait_for_messages_in_hand()
                    processor.kill()
                    await asyncio.sleep(0.3)  # an ack the victim wrote just before dying still lands
                    in_hand = (await consumer.info()).num_ack_pending
                    stored = await count_stored(db, project.project_id)
                    kills.append({"stored": stored, "messages_in_hand": in_hand})
                    assert stored < EVENTS, "the pipeline finished before the kill; raise EVENTS"
                    processor = services("processor", processor_ack_wait_seconds=ACK_WAIT_SECONDS)
                    if in_hand:
                        break  # mid-batch; else it died between two batches: once more
            await sender
            assert await asyncio.to_thread(client.flush, 60), client.stats
            stats = client.stats
            await wait_until_stored(db, project.project_id, EVENTS, within=60)
            await asyncio.sleep(ACK_WAIT_SECONDS + 1)  # a late redelivery of a killed replica's batch lands now
            redeliveries = await consumer.redeliveries()
        ledger = await compare(db, project.project_id, sent)
    finally:
        await asyncio.to_thread(client.close)
    report(DrillFigures(
        "processor_sigkill", sent=len(sent), acked=stats.acked, stored=ledger.stored, duplicates=ledger.duplicates,
        lost=ledger.lost, seconds=round(time.monotonic() - started, 1),
        notes={"kills": kills, "redeliveries": redeliveries},
    ))
    assert sum(1 for kill in kills if kill["messages_in_hand"]) == len(KILL_AT)
    assert redeliveries > 0
    assert stats.acked == len(sent) and stats.dropped == 0
    assert ledger.lost == 0 and ledger.duplicates == 0 and ledger.unexpected == 0
    assert ledger.rollup == ledger.rows == await count_stored(db, project.project_id)
    assert processor.running, processor.log_tail()
