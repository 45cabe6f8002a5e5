"""Drill: the disk under JetStream fills up while events arrive. Ingest refuses (UNAVAILABLE) what JetStream
cannot write, acks nothing that is not in the stream, and once there is space again (and NATS restarted,
which JetStream needs after a failed write) every refused event is delivered, stored once.

The disk is a small tmpfs of the test's own (mounting needs root; the drill is skipped otherwise), with a
private nats-server storing on it; a filler file takes the free space mid-drill.
"""

import asyncio
import contextlib
import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import grpc
import pytest

from cli.embedded import EmbeddedNats
from config import Settings
from storage.projects import CreatedProject
from tests.payloads import auth, batch_of, ingest_stub, track_event
from tests.resilience.conftest import (
    DrillFigures,
    ServiceFactory,
    compare,
    count_stored,
    stream_message_ids,
    wait_until_stored,
)
from trackmint_sdk import Client

DISK_BYTES = 24 * 1024 * 1024
STREAM_BYTES = 8 * 1024 * 1024
"""Below what nats-server allows on that disk (75% of its free space), so the disk fills before the stream."""
LEFT_FREE = 1_000_000
BATCH_EVENTS = 50
PAD = "x" * 1000
SDK_EVENTS = 1_000
REFUSED_BATCHES = 2
"""Each refusal takes ingest's publish timeout (5 s): JetStream does not answer a write it could not make."""


@pytest.fixture
def small_disk() -> Iterator[Path]:
    """A DISK_BYTES tmpfs mounted at a fresh directory, unmounted afterwards."""
    root = Path(tempfile.mkdtemp(prefix="trackmint-drill-disk-"))
    mount_point = root / "nats"
    mount_point.mkdir()
    try:
        mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={DISK_BYTES}", "tmpfs", str(mount_point)],
                                 capture_output=True, text=True)
        refusal = mounted.stderr.strip() if mounted.returncode != 0 else None
    except OSError as error:  # no mount command
        refusal = str(error)
    if refusal is not None:
        shutil.rmtree(root, ignore_errors=True)
        pytest.skip(f"cannot mount a small disk for JetStream (needs root): {refusal}")
    try:
        yield root
    finally:
        subprocess.run(["umount", "--lazy", str(mount_point)], check=False)
        shutil.rmtree(root, ignore_errors=True)


def fill(disk: Path) -> Path:
    """Take all but LEFT_FREE bytes of the disk's free space."""
    stat = os.statvfs(disk)
    filler = disk / "filler"
    with filler.open("wb") as out:
        remaining = stat.f_bavail * stat.f_frsize - LEFT_FREE
        while remaining > 0:
            remaining -= out.write(b"\0" * min(remaining, 1 << 20))
    return filler


async def test_disk_full_under_jetstream_refuses_acks_nothing_unstored_and_delivers_after_recovery(
    services: ServiceFactory, settings: Settings, project: CreatedProject, db, report, small_disk: Path
):
    started = time.monotonic()
    nats_server = EmbeddedNats(small_disk).start()
    try:
        own = settings.model_copy(update={"nats_url": nats_server.url, "stream_storage": "file"})
        ingest = services("ingest", nats_url=nats_server.url, stream_storage="file",
                          stream_max_bytes=STREAM_BYTES).wait_serving()
        channel, stub = ingest_stub(ingest.ingest_port)
        acked: list[str] = []
        refused: list[list] = []
        refusals: set[tuple[str, str]] = set()
        client = Client(project.write_key, ingest.endpoint, flush_interval=0.05, max_retry_delay=1.0)
        sent_by_sdk: set[str] = set()
        try:
            filler = None
            for sequence in range(1, 60):
                if sequence == 10:
                    filler = fill(small_disk / "nats")
                events = [track_event("tick", user_id=f"user-{n}", properties={"pad": PAD})
                          for n in range(BATCH_EVENTS)]
                try:
                    answer = await stub.Send(batch_of(events, sequence), metadata=auth(project.write_key), timeout=30)
                except grpc.aio.AioRpcError as error:
                    refused.append(events)
                    refusals.add((error.code().name, error.details()))
                    if len(refused) == 1:
                        # The disk is full now: an SDK sending from here on is refused and keeps its events.
                        sent_by_sdk = {client.track("later", user_id=f"user-{n % 50}", properties={"n": n})
                                       for n in range(SDK_EVENTS)}
                    if len(refused) == REFUSED_BATCHES:
                        break
                    continue
                assert answer.accepted == BATCH_EVENTS
                acked.extend(event.message_id for event in events)
            while_full = client.stats
        finally:
            await channel.close()
        # Space again. JetStream needs a restart after a failed write: without one the stream stayed unwritable
        # (no answer to publishes for 25 s after space was freed, in a probe). Same port, same store.
        assert filler is not None
        filler.unlink()
        await asyncio.to_thread(nats_server.stop)
        nats_server = EmbeddedNats(small_disk, port=nats_server.port).start()
        in_stream = await stream_message_ids(own)
        processor = services("processor", nats_url=nats_server.url, stream_storage="file",
                             stream_max_bytes=STREAM_BYTES)
        resender = Client(project.write_key, ingest.endpoint, flush_interval=0.05, max_retry_delay=1.0)
        try:
            for events in refused:
                for event in events:
                    resender.track("tick", user_id=event.user_id, message_id=event.message_id,
                                   properties={"pad": PAD})
            assert await asyncio.to_thread(resender.flush, 60), resender.stats
            resent = resender.stats
            assert await asyncio.to_thread(client.flush, 60), client.stats
            stats = client.stats
        finally:
            await asyncio.to_thread(resender.close)
            await asyncio.to_thread(client.close)
        sent = set(acked) | {event.message_id for events in refused for event in events} | sent_by_sdk
        await wait_until_stored(db, project.project_id, len(sent), within=60)
        await asyncio.sleep(1)  # a late duplicate would show up now
        ledger = await compare(db, project.project_id, sent)
        processor.stop()
        ingest.stop()
    finally:
        with contextlib.suppress(Exception):
            nats_server.stop()
    report(DrillFigures(
        "disk_full", sent=len(sent), acked=len(acked) + resent.acked + stats.acked, stored=ledger.stored,
        duplicates=ledger.duplicates, lost=ledger.lost, seconds=round(time.monotonic() - started, 1),
        notes={"acked_before_full": len(acked), "refused_batches": len(refused),
               "sdk_acked_while_full": while_full.acked, "refusals": sorted(refusals)},
    ))
    assert refused and acked
    for code, details in refusals:
        assert code in ("UNAVAILABLE", "RESOURCE_EXHAUSTED") and "nothing was acked" in details, (code, details)
    assert set(acked) <= set(in_stream)  # every ack survived the full disk and the restart
    assert while_full.acked == 0 and while_full.dropped == 0
    assert stats.acked >= SDK_EVENTS and stats.dropped == 0
    assert resent.acked == len(refused) * BATCH_EVENTS and resent.dropped == 0
    assert ledger.lost == 0 and ledger.duplicates == 0 and ledger.unexpected == 0
    assert ledger.rollup == ledger.rows == await count_stored(db, project.project_id)
