"""Live subscription benchmark: many liveEvents subscribers on one query replica, events through the real pipeline.

    python bench/subscriptions.py [--subscribers 200] [--events 300] [--rate 10] [--processors 1]

Starts a private system (embedded PostgreSQL and NATS unless TRACKMINT_DATABASE_URL /
TRACKMINT_NATS_URL are set; then a fresh database and NATS namespace on those):
ingest, processor(s) and one query service, each its own process. N WebSocket
clients (graphql-transport-ws) subscribe to `liveEvents` of one project; the
Python SDK then sends events at the given rate through ingest, JetStream and
the processor. Every subscriber must receive every event exactly once. Prints
one JSON object: commit-to-push latency percentiles (the processor's commit
time carried in the notice, against the moment the subscriber's socket
delivered the message; one machine, one clock), deliveries, duplicates and
misses, the query service's CPU and memory, and the conditions of the run.
"""

import argparse
import asyncio
import json
import os
import platform
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import psutil
from websockets.asyncio.client import ClientConnection, connect
from websockets.typing import Subprotocol

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.ingest import percentile
from bench.system import BenchSystem, create_tenant, delete_namespace_streams, tree_cpu_seconds, tree_rss
from cli.embedded import free_port
from trackmint_sdk import AsyncClient

FEED = "subscription($p: ID!) { liveEvents(projectId: $p) { missed events { messageId committedAt } } }"
WARM_UP_EVENT = "bench_warm_up"
EVENT = "bench_live"


@dataclass
class Subscriber:
    """One WebSocket client with one liveEvents subscription, recording what arrives and when."""

    connection: ClientConnection
    # message id -> deliveries
    received: dict[str, int] = field(default_factory=dict)
    latencies: list[float] = field(default_factory=list)
    missed: int = 0
    errors: list[str] = field(default_factory=list)

    async def run(self, project_id: str, token: str) -> None:
        init = {"type": "connection_init", "payload": {"authorization": f"Bearer {token}"}}
        await self.connection.send(json.dumps(init))
        await self.connection.send(json.dumps(
            {"id": "1", "type": "subscribe", "payload": {"query": FEED, "variables": {"p": project_id}}}
        ))
        async for raw in self.connection:
            arrived = time.time()
            message = json.loads(raw)
            if message["type"] == "ping":
                await self.connection.send(json.dumps({"type": "pong"}))
            elif message["type"] == "next":
                self._record(message["payload"], arrived)
            elif message["type"] in ("error", "complete"):
                self.errors.append(json.dumps(message))
                return

    def _record(self, payload: dict, arrived: float) -> None:
        if payload.get("errors"):
            self.errors.append(json.dumps(payload["errors"]))
            return
        batch = payload["data"]["liveEvents"]
        self.missed += batch["missed"]
        for event in batch["events"]:
            self.received[event["messageId"]] = self.received.get(event["messageId"], 0) + 1
            committed = datetime.fromisoformat(event["committedAt"]).timestamp()
            self.latencies.append(arrived - committed)


def _start_query(system: BenchSystem, port: int) -> subprocess.Popen:
    env = {
        **os.environ,
        "TRACKMINT_DATABASE_URL": system.database_url,
        "TRACKMINT_NATS_URL": system.nats_url,
        "TRACKMINT_NATS_NAMESPACE": system.namespace,
        "TRACKMINT_QUERY_PORT": str(port),
        "TRACKMINT_DATABASE_POOL_SIZE": "10",
        "TRACKMINT_LOG_LEVEL": os.environ.get("TRACKMINT_LOG_LEVEL", "WARNING"),
    }
    return subprocess.Popen([sys.executable, "-m", "cli.main", "serve", "query"], env=env)


async def _connect(url: str, attempts: int = 100) -> ClientConnection:
    for _ in range(attempts):
        try:
            return await connect(url, subprotocols=[Subprotocol("graphql-transport-ws")], open_timeout=10)
        except OSError:
            await asyncio.sleep(0.1)
    raise RuntimeError(f"cannot connect to {url}")


async def _send(endpoint: str, write_key: str, name: str, count: int, rate: float) -> list[str]:
    """Send `count` events at `rate` per second through the SDK; their message ids."""
    ids: list[str] = []
    async with AsyncClient(write_key, endpoint, flush_interval=0.02) as client:
        started = time.monotonic()
        for index in range(count):
            await asyncio.sleep(max(0.0, started + index / rate - time.monotonic()))
            ids.append(client.track(name, user_id=f"user-{index % 50}", properties={"index": index}))
        assert await client.flush(60), "the SDK could not deliver every event"
    return ids


async def _wait_for(subscribers: list[Subscriber], ids: list[str], within: float) -> None:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        if all(all(message_id in each.received for message_id in ids) for each in subscribers):
            return
        await asyncio.sleep(0.1)


async def measure(system: BenchSystem, arguments: argparse.Namespace) -> dict:
    project_id, write_key, token = await create_tenant(system.database_url, "live-bench")
    port = free_port()
    query = _start_query(system, port)
    try:
        url = f"ws://127.0.0.1:{port}/graphql"
        subscribers = [Subscriber(await _connect(url)) for _ in range(arguments.subscribers)]
        tasks = [asyncio.create_task(each.run(project_id, token)) for each in subscribers]
        # Warm-up: one event every subscriber must see before measuring (the hub connects in the background).
        for _ in range(50):
            warm_up = await _send(system.endpoint, write_key, WARM_UP_EVENT, 1, 1)
            await _wait_for(subscribers, warm_up, 3)
            if all(warm_up[0] in each.received for each in subscribers):
                break
            if any(each.errors for each in subscribers):  # UNAVAILABLE before the hub connected: subscribe again
                for task in tasks:
                    task.cancel()
                subscribers = [Subscriber(await _connect(url)) for _ in range(arguments.subscribers)]
                tasks = [asyncio.create_task(each.run(project_id, token)) for each in subscribers]
                await asyncio.sleep(0.5)
        else:
            raise RuntimeError("the subscribers never saw the warm-up event")
        for each in subscribers:
            each.received.clear()
            each.latencies.clear()
            each.missed = 0

        cpu_before = tree_cpu_seconds(query.pid)
        load_before = os.getloadavg()
        started = time.monotonic()
        ids = await _send(system.endpoint, write_key, EVENT, arguments.events, arguments.rate)
        await _wait_for(subscribers, ids, 60)
        elapsed = time.monotonic() - started
        cpu = tree_cpu_seconds(query.pid) - cpu_before
        rss = tree_rss(query.pid)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        for each in subscribers:
            await each.connection.close()
    finally:
        query.terminate()
        query.wait(20)

    latencies_ms = [latency * 1000 for each in subscribers for latency in each.latencies]
    expected = set(ids)
    complete = sum(1 for each in subscribers if set(each.received) >= expected)
    duplicates = sum(count - 1 for each in subscribers for count in each.received.values() if count > 1)
    unexpected = sum(1 for each in subscribers for message_id in each.received if message_id not in expected)
    return {
        "benchmark": "subscriptions",
        "subscribers": arguments.subscribers,
        "events": arguments.events,
        "rate_events_per_s": arguments.rate,
        "deliveries": sum(sum(each.received.values()) for each in subscribers),
        "expected_deliveries": arguments.subscribers * arguments.events,
        "subscribers_with_every_event": complete,
        "duplicates": duplicates,
        "unexpected_events": unexpected,
        "missed_reported": sum(each.missed for each in subscribers),
        "subscription_errors": sum(len(each.errors) for each in subscribers),
        "commit_to_push_ms": {
            "p50": _round(percentile(latencies_ms, 0.50)),
            "p95": _round(percentile(latencies_ms, 0.95)),
            "p99": _round(percentile(latencies_ms, 0.99)),
            "max": _round(max(latencies_ms, default=None)),
        },
        "seconds": round(elapsed, 2),
        "query_service": {"cpu_seconds": round(cpu, 2), "rss_mib": round(rss / 2**20, 1)},
        "conditions": {
            "query_replicas": 1,
            "processors": arguments.processors,
            "cpus": psutil.cpu_count(),
            "load_average_before": [round(value, 2) for value in load_before],
            "load_average_after": [round(value, 2) for value in os.getloadavg()],
            "python": platform.python_version(),
            "clients": "all subscribers in this one process (asyncio, websockets); events sent with the Python SDK",
            "servers": "given by TRACKMINT_DATABASE_URL/TRACKMINT_NATS_URL" if os.environ.get(
                "TRACKMINT_DATABASE_URL") else "embedded PostgreSQL and NATS",
            "run_id": str(uuid.uuid4()),
        },
    }


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--subscribers", type=int, default=200)
    parser.add_argument("--events", type=int, default=300)
    parser.add_argument("--rate", type=float, default=10.0, help="events per second")
    parser.add_argument("--processors", type=int, default=1)
    arguments = parser.parse_args()
    # A small stream: a shared NATS server reserves each stream's max_bytes of its storage.
    os.environ.setdefault("TRACKMINT_STREAM_MAX_BYTES", str(256 * 2**20))
    system = BenchSystem(processors=arguments.processors).start()
    try:
        result = asyncio.run(measure(system, arguments))
    finally:
        system.stop()
        if os.environ.get("TRACKMINT_NATS_URL"):  # embedded NATS is gone with its streams
            asyncio.run(delete_namespace_streams(system.nats_url, system.namespace))
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
