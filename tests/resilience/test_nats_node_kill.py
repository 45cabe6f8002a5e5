"""Drill: one node of a 3-node NATS JetStream cluster (the events stream's leader) is SIGKILLed while two SDK
clients stream through two ingest replicas to two processor replicas. JetStream elects a new stream leader
from the two surviving replicas of the R3 stream, the services reconnect to the surviving nodes (each is
given all three URLs), the SDK resends what was not acked; the node is restarted later and catches up.
Every sent event is stored once."""

import asyncio
import contextlib
import shutil
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from nats.errors import Error as NatsError

from cli.embedded import EmbeddedNatsCluster
from config import Settings, load_settings
from messaging.names import Names
from messaging.streams import connect
from storage.projects import CreatedProject
from tests.polling import eventually
from tests.resilience.conftest import (
    ConsumerWatch,
    DrillFigures,
    ServiceFactory,
    compare,
    count_stored,
    wait_until_stored,
)
from trackmint_sdk import Client

NODES = 3
EVENTS = 20_000
SEND_SECONDS = 10
"""Events are tracked at an even pace over this long."""
KILL_AT = 0.25
"""The fraction of EVENTS tracked when the stream leader is killed."""
RESTART_AT = 0.7
"""The node comes back once this fraction is tracked and a new leader has taken over (or after sending)."""
ACK_WAIT_SECONDS = 5
"""How soon JetStream redelivers a batch whose ack was lost with the consumer leader (default 60 s)."""


@pytest.fixture
def nats_cluster() -> Iterator[EmbeddedNatsCluster]:
    # Not under pytest's basetemp, which another pytest session on the machine may prune mid-run.
    path = Path(tempfile.mkdtemp(prefix="trackmint-nats-cluster-"))
    cluster = EmbeddedNatsCluster(path, NODES)
    try:
        yield cluster.start()
    finally:
        cluster.stop()
        shutil.rmtree(path, ignore_errors=True)


@pytest.fixture
def settings(database_url: str, nats_cluster: EmbeddedNatsCluster, nats_namespace: str, tmp_path: Path) -> Settings:
    """This drill's settings: every cluster node's URL, file streams replicated on all three nodes."""
    return load_settings(
        database_url=database_url,
        nats_url=nats_cluster.url,
        nats_namespace=nats_namespace,
        data_dir=tmp_path,
        stream_storage="file",
        stream_replicas=NODES,
        stream_max_bytes=256 * 1024 * 1024,
        ingest_port=0,
        query_port=0,
        bridge_port=0,
    )


class StreamWatch:
    """The events stream's cluster state as JetStream reports it, asked of whichever node answers."""

    def __init__(self, settings: Settings) -> None:
        self._url = settings.nats_url
        self._stream = Names(settings.nats_namespace).events_stream

    async def __aenter__(self) -> "StreamWatch":
        self._nc = await connect(self._url, name="drill-stream-watch")
        self._js = self._nc.jetstream(timeout=1)
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self._nc.close()

    async def leader(self) -> str | None:
        """The stream leader's server name; None while an election runs or no node answers."""
        try:
            info = await self._js.stream_info(self._stream)
        except (NatsError, TimeoutError, OSError):
            return None
        return info.cluster.leader if info.cluster else None

    async def new_leader(self, killed: str, within: float = 30) -> tuple[str | None, float]:
        """The leader elected after `killed`, and how many seconds after this call it was first seen."""
        since = time.monotonic()
        leader = await eventually(self.leader, lambda name: name not in (None, killed), within)
        return leader, round(time.monotonic() - since, 1)

    async def replicas_current(self) -> bool:
        """Whether every follower has caught up with the leader."""
        try:
            info = await self._js.stream_info(self._stream)
        except (NatsError, TimeoutError, OSError):
            return False
        replicas = (info.cluster.replicas or []) if info.cluster else []
        return len(replicas) == NODES - 1 and all(replica.current for replica in replicas)


async def test_stream_leader_node_killed_while_ingesting_loses_nothing_and_duplicates_nothing(
    services: ServiceFactory, settings: Settings, nats_cluster: EmbeddedNatsCluster, project: CreatedProject, db,
    report,
):
    started = time.monotonic()
    ingests = [services("ingest") for _ in range(2)]
    for replica in ingests:
        replica.wait_serving()
    processors = [services("processor", processor_ack_wait_seconds=ACK_WAIT_SECONDS) for _ in range(2)]
    endpoints = [replica.endpoint for replica in ingests]
    # Each client prefers another replica, so both ingest replicas take traffic; either fails over to the other.
    clients = [
        Client(project.write_key, endpoints[index:] + endpoints[:index], flush_interval=0.05,
               initial_retry_delay=0.05, max_retry_delay=1.0, max_queue_size=EVENTS)
        for index in range(2)
    ]
    sent: set[str] = set()
    killed = None
    timeline: dict[str, object] = {}
    try:
        async with StreamWatch(settings) as stream, ConsumerWatch(settings) as consumer:
            await consumer.wait_for_pullers(2 * settings.processor_workers)
            chunk = EVENTS // 60
            for first in range(0, EVENTS, chunk):
                for n in range(first, min(first + chunk, EVENTS)):
                    client = clients[n % 2]
                    sent.add(client.track("tick", user_id=f"user-{n % 250}", properties={"n": n}))
                if killed is None and first >= EVENTS * KILL_AT:
                    killed = await stream.leader()
                    assert killed is not None, "the events stream has no leader before the kill"
                    acked_before = sum(client.stats.acked for client in clients)
                    nats_cluster.kill(killed)
                    killed_at = time.monotonic()
                    timeline.update(killed=f"{killed} (stream leader)", acked_at_kill=acked_before,
                                    tracked_at_kill=len(sent))
                    new_leader = asyncio.create_task(stream.new_leader(killed))
                if (killed is not None and "restarted_after_s" not in timeline and first >= EVENTS * RESTART_AT
                        and new_leader.done()):
                    await asyncio.to_thread(nats_cluster.restart, killed)
                    timeline["restarted_after_s"] = round(time.monotonic() - killed_at, 1)
                await asyncio.sleep(SEND_SECONDS / 60)
            assert killed is not None
            leader, after = await new_leader
            assert leader not in (None, killed), f"no new stream leader after killing {killed}"
            timeline.update(new_leader=leader, new_leader_after_s=after)
            if "restarted_after_s" not in timeline:
                await asyncio.to_thread(nats_cluster.restart, killed)
                timeline["restarted_after_s"] = round(time.monotonic() - killed_at, 1)
            flushed = await asyncio.gather(*(asyncio.to_thread(client.flush, 60) for client in clients))
            assert all(flushed), [client.stats for client in clients]
            stats = [client.stats for client in clients]
            await wait_until_stored(db, project.project_id, EVENTS, within=60)
            await asyncio.sleep(1)  # a late duplicate would show up now
            ledger = await compare(db, project.project_id, sent)
            # R3 again: the restarted node caught up with the stream it lost while down.
            caught_up = await eventually(stream.replicas_current, bool, within=30)
            redeliveries = await consumer.redeliveries()
    finally:
        for client in clients:
            with contextlib.suppress(Exception):
                await asyncio.to_thread(client.close)
    acked = sum(each.acked for each in stats)
    report(DrillFigures(
        "nats_node_sigkill", sent=len(sent), acked=acked, stored=ledger.stored, duplicates=ledger.duplicates,
        lost=ledger.lost, seconds=round(time.monotonic() - started, 1),
        notes={
            "cluster": f"{NODES} nodes, R{NODES} file stream, 2 ingest + 2 processor replicas",
            **timeline,
            "replicas_current_after_restart": caught_up,
            "sdk_reconnects": sum(each.reconnects for each in stats),
            "sdk_failovers": sum(each.failovers for each in stats),
            "redeliveries": redeliveries,
        },
    ))
    assert sum(each.dropped for each in stats) == 0 and sum(each.rejected for each in stats) == 0
    assert acked >= len(sent)  # a batch stored before its ack was lost is acked twice
    assert ledger.lost == 0 and ledger.duplicates == 0 and ledger.unexpected == 0
    assert ledger.rollup == ledger.rows == await count_stored(db, project.project_id)
    assert caught_up, "the restarted node never caught up with the stream"
    for service in (*ingests, *processors):
        assert service.running, service.log_tail()
