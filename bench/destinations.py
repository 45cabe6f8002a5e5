"""Does a destination, healthy or dead, slow ingestion or storage? Ingest → stored events/s per condition.

    python bench/destinations.py [--events N] [--batch N] [--senders N]

Starts a private system (embedded PostgreSQL and NATS unless TRACKMINT_DATABASE_URL /
TRACKMINT_NATS_URL are set; then a fresh database and NATS namespace on those) with ingest,
one processor and one destinations service as processes, then for each condition sends the
same N events to a project of its own over gRPC as fast as ingest acks them, and measures the
ingest publish rate (events acked per second), the ingest → stored rate (first send to the
last event stored in PostgreSQL), and for the healthy destination the ingest → delivered rate
at a local HTTP receiver, and the CPU seconds each process spent. Each condition runs next to a
control run (`none`: a project without a destination; first or second in turn), `--repeats`
times, and the paired ratios are reported; earlier
destinations stay, so the dead ones are still retrying while later runs go on:

- `healthy`: one destination, a local HTTP server answering 200 at once;
- `dead_refused`: one destination whose URL refuses connections;
- `dead_hanging`: one destination whose server accepts and never answers (each attempt waits the
  delivery timeout).

Prints one JSON object.
"""

import argparse
import asyncio
import json
import os
import platform
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import asyncpg
import grpc
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.system import BenchSystem, ThreadedHttpServer, tree_cpu_seconds
from bench.workload import wire_event
from cli.embedded import free_port
from storage import destinations
from trackmint.v1 import batch_pb2, ingest_service_pb2_grpc
from webhooks.signing import new_nonce


class Receiver(ThreadedHttpServer):
    """A local HTTP target in a thread of its own, counting the events it accepted."""

    def __init__(self) -> None:
        self.events = 0
        self.first_at: float | None = None
        self.last_at: float | None = None

        async def receive(request: Request) -> Response:
            body = json.loads(await request.body())
            self.events += len(body["events"])
            self.last_at = time.monotonic()
            self.first_at = self.first_at or self.last_at
            return Response("ok")

        super().__init__([Route("/hook", receive, methods=["POST"])])

    def start(self) -> "Receiver":
        super().start()
        return self


class Hanging:
    """A TCP server that accepts connections and never answers."""

    def __init__(self) -> None:
        self.socket = socket.socket()
        self.socket.bind(("127.0.0.1", 0))
        self.socket.listen(1024)
        self.port = self.socket.getsockname()[1]
        self.accepted: list[socket.socket] = []
        self.stopping = False
        self.thread = threading.Thread(target=self._accept, daemon=True)

    def _accept(self) -> None:
        self.socket.settimeout(0.2)
        while not self.stopping:
            try:
                connection, _ = self.socket.accept()
                self.accepted.append(connection)
            except OSError:
                continue

    def start(self) -> "Hanging":
        self.thread.start()
        return self

    def stop(self) -> None:
        self.stopping = True
        self.thread.join(5)
        for connection in self.accepted:
            connection.close()
        self.socket.close()


async def add_destination(database_url: str, project_id: str, url: str) -> None:
    connection = await asyncpg.connect(database_url)
    try:
        await destinations.insert_destination(connection, project_id, name="bench", url=url,
                                              filter={"events": [], "properties": []}, enabled=True,
                                              secret_nonce=new_nonce(), created_by=None)
    finally:
        await connection.close()


async def send(endpoint: str, write_key: str, events: int, batch: int, senders: int) -> tuple[float, float]:
    """Send `events` in batches with `senders` concurrent calls; returns (start, end) monotonic times."""
    batches = [[wire_event(index) for index in range(start, min(start + batch, events))]
               for start in range(0, events, batch)]
    queue: asyncio.Queue = asyncio.Queue()
    for item in batches:
        queue.put_nowait(item)
    async with grpc.aio.insecure_channel(endpoint) as channel:
        stub = ingest_service_pb2_grpc.IngestStub(channel)
        metadata = (("authorization", f"Bearer {write_key}"),)

        async def sender() -> None:
            while not queue.empty():
                chunk = queue.get_nowait()
                message = batch_pb2.EventBatch(sequence=1, events=chunk)
                message.sent_at.FromNanoseconds(time.time_ns())
                for _ in range(50):
                    try:
                        ack = await stub.Send(message, metadata=metadata, timeout=30)
                    except grpc.aio.AioRpcError as error:
                        if error.code() in (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.RESOURCE_EXHAUSTED):
                            await asyncio.sleep(0.1)
                            continue
                        raise
                    if ack.accepted != len(chunk):
                        raise RuntimeError(f"ingest accepted {ack.accepted} of {len(chunk)}")
                    break

        started = time.monotonic()
        await asyncio.gather(*(sender() for _ in range(senders)))
        return started, time.monotonic()


async def wait_stored(database_url: str, project_id: str, expected: int, within: float) -> tuple[int, float]:
    connection = await asyncpg.connect(database_url)
    deadline = time.monotonic() + within
    try:
        while True:
            stored = await connection.fetchval("SELECT count(*) FROM events WHERE project_id = $1", project_id)
            if stored >= expected or time.monotonic() > deadline:
                return stored, time.monotonic()
            await asyncio.sleep(0.05)
    finally:
        await connection.close()


async def dead_letter_state(database_url: str) -> list[dict]:
    connection = await asyncpg.connect(database_url)
    try:
        rows = await connection.fetch(
            "SELECT d.url, s.consecutive_failures, s.last_error, s.delivered_events,"
            " (SELECT count(*) FROM destination_dead_letters l WHERE l.destination_id = d.id) AS dead_letters"
            " FROM destinations d LEFT JOIN destination_status s ON s.destination_id = d.id ORDER BY d.created_at")
    finally:
        await connection.close()
    return [{"url": row["url"], "consecutive_failures": row["consecutive_failures"],
             "delivered_events": row["delivered_events"], "dead_letters": row["dead_letters"],
             "last_error": (row["last_error"] or "")[:120] or None} for row in rows]


def run_condition(system: BenchSystem, name: str, url: str | None, receiver: Receiver | None,
                  arguments: argparse.Namespace) -> dict:
    project_id, write_key = asyncio.run(system.create_project())
    if url is not None:
        asyncio.run(add_destination(system.database_url, project_id, url))
        time.sleep(3)  # the destinations leader notices it (refresh 2 s) and binds its consumer
    before = receiver.events if receiver is not None else 0
    pids = system.service_pids()  # ours, plus embedded PostgreSQL and NATS when the bench started them
    cpu_before = {name: tree_cpu_seconds(pid) for name, pid in pids.items()}
    started, acked = asyncio.run(send(system.endpoint, write_key, arguments.events, arguments.batch,
                                      arguments.senders))
    stored, stored_at = asyncio.run(wait_stored(system.database_url, project_id, arguments.events, 300))
    result = {
        "condition": name,
        "events": arguments.events,
        "publish_events_per_second": round(arguments.events / (acked - started)),
        "stored": stored,
        "ingest_to_stored_events_per_second": round(stored / (stored_at - started)),
        "ingest_to_stored_seconds": round(stored_at - started, 2),
        # CPU the services spent during the run: a dead destination should cost next to nothing.
        "cpu_seconds": {name: round(tree_cpu_seconds(pid) - cpu_before[name], 2) for name, pid in pids.items()},
    }
    if receiver is not None and url is not None and "hook" in url and name == "healthy":
        deadline = time.monotonic() + 300
        while receiver.events - before < arguments.events and time.monotonic() < deadline:
            time.sleep(0.05)
        delivered = receiver.events - before
        result["delivered"] = delivered
        result["ingest_to_delivered_events_per_second"] = round(delivered / ((receiver.last_at or started) - started))
        result["ingest_to_delivered_seconds"] = round((receiver.last_at or started) - started, 2)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=20_000)
    parser.add_argument("--batch", type=int, default=100, help="events per gRPC Send")
    parser.add_argument("--senders", type=int, default=4, help="concurrent Send calls")
    parser.add_argument("--repeats", type=int, default=2, help="control/condition pairs per condition")
    arguments = parser.parse_args()

    load_at_start = os.getloadavg()
    system = BenchSystem().start()
    receiver, hanging = Receiver().start(), Hanging().start()
    try:
        env = {**os.environ, "TRACKMINT_DATABASE_URL": system.database_url, "TRACKMINT_NATS_URL": system.nats_url,
               "TRACKMINT_NATS_NAMESPACE": system.namespace,
               "TRACKMINT_LOG_LEVEL": os.environ.get("TRACKMINT_LOG_LEVEL", "WARNING")}
        system.services["destinations"] = subprocess.Popen(
            [sys.executable, "-m", "cli.main", "serve", "destinations"], env=env)
        time.sleep(2)
        # Warm-up (not reported): first connections, caches, PostgreSQL's first partitions.
        run_condition(system, "warm_up", None, None, argparse.Namespace(**{**vars(arguments), "events": 5000}))
        targets = {
            "healthy": f"http://127.0.0.1:{receiver.port}/hook",
            "dead_refused": f"http://127.0.0.1:{free_port()}/hook",
            "dead_hanging": f"http://127.0.0.1:{hanging.port}/hook",
        }
        # Each condition next to a control run without a destination, repeated: the machine's other load
        # drifts, and a paired ratio is what tells whether the destination costs ingestion anything.
        results, pairs = [], []
        for repeat in range(arguments.repeats):
            for name, url in targets.items():
                # Alternate which of the pair goes first, so drift during a pair does not favour either.
                if repeat % 2 == 0:
                    control = run_condition(system, "none", None, None, arguments)
                    measured = run_condition(system, name, url, receiver, arguments)
                else:
                    measured = run_condition(system, name, url, receiver, arguments)
                    control = run_condition(system, "none", None, None, arguments)
                control["repeat"] = measured["repeat"] = repeat + 1
                results += [control, measured]
                pairs.append({"condition": name, "repeat": repeat + 1, "stored_rate_vs_control": round(
                    measured["ingest_to_stored_events_per_second"] / control["ingest_to_stored_events_per_second"],
                    3), "publish_rate_vs_control": round(
                    measured["publish_events_per_second"] / control["publish_events_per_second"], 3)})
        state = asyncio.run(dead_letter_state(system.database_url))
    finally:
        receiver.stop()
        hanging.stop()
        system.stop()
    print(json.dumps({
        "benchmark": "destinations",
        "conditions": {
            "machine": {"cpus": os.cpu_count(), "python": platform.python_version(), "system": platform.system()},
            "services": "ingest, 1 processor, 1 destinations service, each a process; PostgreSQL and NATS "
                        + ("given" if os.environ.get("TRACKMINT_DATABASE_URL") else "embedded"),
            "events_per_condition": arguments.events, "events_per_send": arguments.batch,
            "concurrent_sends": arguments.senders,
            "destination_settings": "defaults: 8 attempts, backoff 1 s doubling to 300 s, delivery timeout 10 s, "
                                    "fetch 50 messages, batches up to 500 events",
            "note": "dead destinations of earlier runs keep retrying during later ones; each condition is paired "
                    "with a control run (no destination), which goes first on odd repeats and second on even ones",
            "load_average_at_start": load_at_start,
        },
        "load_average_at_end": os.getloadavg(),
        "paired": pairs,
        "results": results,
        "destinations_after": state,
    }, indent=2))


if __name__ == "__main__":
    main()
