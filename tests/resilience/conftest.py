"""Fault drills: real services as subprocesses, killed and starved while SDKs send.

Each drill runs ingest and processor replicas as `python -m cli.main serve ...`
children (as `trackmint up` and the containers run them), with the test's
database and NATS namespace, sends events with the SDK, breaks something, and
then compares the message ids it sent with the ones PostgreSQL stored. It
reports one JSON line `{drill, sent, acked, stored, duplicates, lost, seconds}`.
"""

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from uuid import UUID

import asyncpg
import grpc
import nats
import nats.js.errors
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc
from nats.js.api import ConsumerInfo

from cli.embedded import free_port
from config import Settings
from messaging.names import Names
from messaging.streams import nats_servers
from tests.polling import eventually
from trackmint.v1 import batch_pb2

ROOT = Path(__file__).resolve().parents[2]


class ServiceProcess:
    """One `trackmint serve <service>` child with its own log file; started, killed and restarted by drills."""

    def __init__(self, service: str, env: dict[str, str], log: Path) -> None:
        self.service = service
        self.env = env
        self.log = log
        self.process: subprocess.Popen | None = None

    @property
    def ingest_port(self) -> int:
        return int(self.env["TRACKMINT_INGEST_PORT"])

    @property
    def endpoint(self) -> str:
        return f"127.0.0.1:{self.ingest_port}"

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def start(self) -> "ServiceProcess":
        with self.log.open("ab") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "cli.main", "serve", self.service],
                cwd=ROOT, env=self.env, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            )
        return self

    def kill(self) -> None:
        """SIGKILL: no graceful shutdown, no ack of the batch in hand, connections cut."""
        if self.running:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(10)

    def stop(self, timeout: float = 20) -> None:
        """SIGTERM, as an orchestrator stops a replica: finish and ack what is in hand."""
        if not self.running:
            return
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(5)
            raise AssertionError(f"{self.service} ignored SIGTERM for {timeout}s; see {self.log}") from None

    def wait_serving(self, within: float = 60) -> "ServiceProcess":
        """Block until this ingest answers gRPC health checks with SERVING."""
        deadline = time.monotonic() + within
        with grpc.insecure_channel(self.endpoint) as channel:
            stub = health_pb2_grpc.HealthStub(channel)
            while True:
                assert self.running, f"{self.service} exited with {self.process.returncode}; see {self.log}"
                try:
                    answer = stub.Check(health_pb2.HealthCheckRequest(), timeout=1)
                    if answer.status == health_pb2.HealthCheckResponse.SERVING:
                        return self
                except grpc.RpcError:
                    pass
                assert time.monotonic() < deadline, f"{self.service} not serving within {within}s; see {self.log}"
                time.sleep(0.1)

    def log_tail(self, lines: int = 40) -> str:
        if not self.log.exists():
            return ""
        return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])


ServiceFactory = Callable[..., ServiceProcess]


def service_env(settings: Settings, **overrides: object) -> dict[str, str]:
    """The environment a service child reads its settings from: the test's servers and namespace."""
    env = {key: value for key, value in os.environ.items() if not key.startswith("TRACKMINT_")}
    values: dict[str, object] = {
        "database_url": settings.database_url,
        "nats_url": settings.nats_url,
        "nats_namespace": settings.nats_namespace,
        "data_dir": settings.data_dir,
        "stream_storage": settings.stream_storage,
        "stream_max_bytes": settings.stream_max_bytes,
        "stream_replicas": settings.stream_replicas,
        "log_level": "WARNING",
        # Drills measure delivery, not rate limiting.
        "rate_limit_events_per_second": 0,
        "shutdown_grace_seconds": 5,
        **overrides,
    }
    env.update({f"TRACKMINT_{key.upper()}": str(value) for key, value in values.items()})
    return env


@pytest.fixture
def services(settings: Settings, tmp_path: Path) -> Iterator[ServiceFactory]:
    """Start service children: `services("processor", processor_ack_wait_seconds=5)`; all stopped at the end."""
    started: list[ServiceProcess] = []

    def start(service: str, **overrides: object) -> ServiceProcess:
        if service == "ingest":
            overrides = {"ingest_port": free_port(), "bridge_port": free_port(), **overrides}
        env = service_env(settings, **overrides)
        child = ServiceProcess(service, env, tmp_path / f"{service}-{len(started)}.log").start()
        started.append(child)
        return child

    yield start
    # Stopped as an orchestrator would (SIGTERM), all at once: a replica that hangs on shutdown fails the drill.
    running = [child for child in started if child.running]
    for child in running:
        child.process.send_signal(signal.SIGTERM)
    hung = []
    deadline = time.monotonic() + 20
    for child in running:
        try:
            child.process.wait(max(deadline - time.monotonic(), 0.1))
        except subprocess.TimeoutExpired:
            hung.append(f"{child.service} ({child.log})")
            child.kill()
    assert not hung, f"ignored SIGTERM for 20 s: {', '.join(hung)}"


@dataclass
class DrillFigures:
    """What one drill reports: events sent, acked by ingest, stored once, stored more than once, never stored."""

    drill: str
    sent: int
    acked: int
    stored: int
    duplicates: int
    lost: int
    seconds: float
    notes: dict[str, object] = field(default_factory=dict)


async def count_stored(db: asyncpg.Connection, project_id: UUID) -> int:
    return await db.fetchval("SELECT count(*) FROM events WHERE project_id = $1", project_id)


async def wait_until_stored(db: asyncpg.Connection, project_id: UUID, expected: int, within: float) -> int:
    return await eventually(lambda: count_stored(db, project_id), lambda count: count >= expected, within)


async def stream_message_ids(settings: Settings) -> list[str]:
    """Every event message id in the test's events stream, one entry per stored copy."""
    stream = Names(settings.nats_namespace).events_stream
    nc = await nats.connect(nats_servers(settings.nats_url), connect_timeout=2)
    try:
        js = nc.jetstream(timeout=5)
        state = (await js.stream_info(stream)).state
        ids = []
        for sequence in range(state.first_seq, state.last_seq + 1):
            message = await js.get_msg(stream, sequence)
            ids.extend(event.message_id for event in batch_pb2.IngestedBatch.FromString(message.data).events)
        return ids
    finally:
        await nc.close()


@dataclass
class Ledger:
    """Sent message ids against stored ones."""

    stored: int
    duplicates: int
    lost: int
    unexpected: int
    rollup: int
    rows: int


async def compare(db: asyncpg.Connection, project_id: UUID, sent: set[str]) -> Ledger:
    """Every stored row of the project by message id (the events table has no unique key on it alone)."""
    counts = {
        row["message_id"]: row["copies"]
        for row in await db.fetch(
            "SELECT message_id, count(*) AS copies FROM events WHERE project_id = $1 GROUP BY message_id", project_id
        )
    }
    rollup = await db.fetchval(
        "SELECT coalesce(sum(count), 0) FROM event_counts WHERE project_id = $1", project_id
    )
    return Ledger(
        stored=sum(1 for message_id in counts if message_id in sent),
        duplicates=sum(copies - 1 for copies in counts.values()),
        lost=len(sent - counts.keys()),
        unexpected=len(counts.keys() - sent),
        rollup=rollup,
        rows=sum(counts.values()),
    )


@pytest.fixture
def report(request: pytest.FixtureRequest, capsys: pytest.CaptureFixture) -> Callable[[DrillFigures], None]:
    """Print a drill's figures as one JSON line on the terminal (also kept as a junit property)."""

    def emit(figures: DrillFigures) -> None:
        line = json.dumps({key: value for key, value in asdict(figures).items() if value != {}})
        request.node.user_properties.append(("figures", line))
        with capsys.disabled():
            sys.stdout.write(f"\n{line}\n")
            sys.stdout.flush()

    return emit


class ConsumerWatch:
    """Reads the processor's durable consumer: what replicas hold un-acked, and how often JetStream redelivered."""

    def __init__(self, settings: Settings) -> None:
        self._names = Names(settings.nats_namespace)
        self._url = settings.nats_url

    async def __aenter__(self) -> "ConsumerWatch":
        self._nc = await nats.connect(nats_servers(self._url), connect_timeout=2)
        self._js = self._nc.jetstream(timeout=2)
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self._nc.close()

    async def info(self) -> ConsumerInfo | None:
        try:
            return await self._js.consumer_info(self._names.events_stream, self._names.processor_consumer)
        except nats.js.errors.NotFoundError:  # no processor created it yet
            return None

    async def wait_for_pullers(self, count: int, within: float = 60) -> None:
        """Until `count` fetches wait on the consumer: the processors are up (each worker keeps one pending)."""
        info = await eventually(self.info, lambda info: info is not None and info.num_waiting >= count, within)
        assert info is not None and info.num_waiting >= count, f"processors not fetching after {within}s: {info}"

    async def wait_for_messages_in_hand(self, within: float = 30) -> int:
        """Until some delivered message is not acked yet (a replica is working on it); returns how many."""
        info = await eventually(self.info, lambda info: info is not None and info.num_ack_pending > 0, within)
        assert info is not None and info.num_ack_pending > 0, f"no message in a processor's hands: {info}"
        return info.num_ack_pending

    async def redeliveries(self) -> int:
        """Consumer deliveries beyond stream messages delivered (every stream message matches the consumer): more
        than zero once JetStream redelivered something. Not an exact count across replica restarts."""
        info = await self.info()
        assert info is not None and info.delivered is not None
        return info.delivered.consumer_seq - info.delivered.stream_seq
