"""HTTP bridge benchmark: concurrent HTTP clients → POST /v1/batch → JetStream → processor → PostgreSQL.

    python bench/bridge.py [--duration S] [--clients N] [--concurrency C] [--batch-size B] [--processors N] [--gzip]

Starts a private system (embedded PostgreSQL and NATS unless TRACKMINT_DATABASE_URL /
TRACKMINT_NATS_URL are set; then a fresh database and NATS namespace on those), then
N client processes each keep C requests of B Segment track messages in flight for S
seconds, as fast as the bridge answers. Prints one JSON object: events/s accepted
(200 answers) and stored, request latency, CPU per event of each service, and the
conditions of the run.
"""

import argparse
import asyncio
import gzip
import json
import multiprocessing
import os
import platform
import sys
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.ingest import percentile, wait_until_stored
from bench.system import BenchSystem, tree_cpu_seconds
from bench.workload import EVENT_NAMES, properties_for
from cli.embedded import free_port

_USER_AGENT = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 Chrome/130.0 Safari/537.36"


def batch_body(size: int, offset: int, use_gzip: bool) -> bytes:
    """A /v1/batch body of `size` track messages with fresh message ids, as Segment's libraries send it."""
    now = datetime.now(UTC).isoformat(timespec="milliseconds")
    messages = [{
        "type": "track", "messageId": str(uuid.uuid4()), "event": EVENT_NAMES[(offset + i) % len(EVENT_NAMES)],
        "userId": f"user-{(offset + i) % 5000}", "anonymousId": f"anon-{(offset + i) % 9000}", "timestamp": now,
        "properties": properties_for(offset + i),
        "context": {"library": {"name": "analytics-python", "version": "2.4.0"}, "userAgent": _USER_AGENT},
    } for i in range(size)]
    body = json.dumps({"batch": messages, "sentAt": now}).encode()
    return gzip.compress(body, 1) if use_gzip else body


async def _client(url: str, write_key: str, arguments: argparse.Namespace, index: int) -> dict:
    import httpx

    headers = {"content-type": "application/json"}
    if arguments.gzip:
        headers["content-encoding"] = "gzip"
    latencies: list[float] = []
    counts = {"accepted": 0, "rejected_events": 0, "failed_requests": 0}
    started = time.monotonic()
    deadline = started + arguments.duration
    async with httpx.AsyncClient(base_url=url, auth=(write_key, ""), headers=headers, timeout=60,
                                 limits=httpx.Limits(max_connections=arguments.concurrency)) as client:
        async def loop(worker: int) -> None:
            sent = 0
            while time.monotonic() < deadline:
                body = batch_body(arguments.batch_size, (index * 1000 + worker) * 10_000 + sent, arguments.gzip)
                started = time.perf_counter()
                response = await client.post("/v1/batch", content=body)
                latencies.append((time.perf_counter() - started) * 1000)
                sent += arguments.batch_size
                if response.status_code == 200:
                    answer = response.json()
                    counts["accepted"] += answer["accepted"]
                    counts["rejected_events"] += len(answer["errors"])
                else:
                    counts["failed_requests"] += 1

        await asyncio.gather(*(loop(worker) for worker in range(arguments.concurrency)))
    return {**counts, "requests": len(latencies), "latencies": latencies, "cpu_seconds": time.process_time(),
            "load_seconds": time.monotonic() - started}


def run_client(url: str, write_key: str, arguments: argparse.Namespace, index: int, results) -> None:
    results.put(asyncio.run(_client(url, write_key, arguments, index)))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--duration", type=float, default=25)
    parser.add_argument("--clients", type=int, default=3, help="client processes")
    parser.add_argument("--concurrency", type=int, default=2, help="requests in flight per client")
    parser.add_argument("--batch-size", type=int, default=100)
    parser.add_argument("--processors", type=int, default=1)
    parser.add_argument("--gzip", action="store_true", help="gzip request bodies, as Segment's libraries may")
    arguments = parser.parse_args()

    bridge_port = free_port()
    os.environ["TRACKMINT_BRIDGE_PORT"] = str(bridge_port)  # the spawned ingest inherits it
    system = BenchSystem(processors=arguments.processors).start()
    try:
        project_id, write_key = asyncio.run(system.create_project())
        url = f"http://127.0.0.1:{bridge_port}"
        context = multiprocessing.get_context("spawn")
        results = context.Queue()
        clients = [context.Process(target=run_client, args=(url, write_key, arguments, index, results))
                   for index in range(arguments.clients)]
        pids = system.service_pids()
        cpu_before = {name: tree_cpu_seconds(pid) for name, pid in pids.items()}
        since = datetime.now(UTC) - timedelta(seconds=1)
        for client in clients:
            client.start()
        reports = [results.get(timeout=arguments.duration + 300) for _ in clients]
        for client in clients:
            client.join(30)
        # Each client's own sending time: process start-up is not load.
        load_seconds = max(report["load_seconds"] for report in reports)
        accepted = sum(report["accepted"] for report in reports)
        summary = asyncio.run(wait_until_stored(system.database_url, project_id, since, accepted, 180))
        cpu_used = {name: tree_cpu_seconds(pid) - cpu_before[name] for name, pid in pids.items()}
        cpu_used["http_clients"] = sum(report["cpu_seconds"] for report in reports)
    finally:
        system.stop()

    latencies = [value for report in reports for value in report["latencies"]]
    span = (summary["last"] - summary["first"]).total_seconds() if summary["first"] else float("nan")
    stored_rate = summary["stored"] / span if span else 0
    result = {
        "benchmark": "http_bridge_batch",
        "conditions": {
            "machine": f"{os.cpu_count()} cores, {platform.machine()}, Python {platform.python_version()}",
            "co_located": "HTTP clients, ingest (gRPC + bridge), processor(s), PostgreSQL and NATS on this machine",
            "client_processes": arguments.clients,
            "requests_in_flight_per_client": arguments.concurrency,
            "events_per_request": arguments.batch_size,
            "gzip": arguments.gzip,
            "processors": arguments.processors,
            "duration_s": arguments.duration,
            "servers": "external" if os.environ.get("TRACKMINT_DATABASE_URL") else "embedded",
        },
        "requests": sum(report["requests"] for report in reports),
        "failed_requests": sum(report["failed_requests"] for report in reports),
        "events_accepted": accepted,
        "events_rejected": sum(report["rejected_events"] for report in reports),
        "events_stored": summary["stored"],
        "duplicates_stored": summary["duplicates"],
        "accepted_events_per_s": round(accepted / load_seconds),
        "stored_events_per_s": round(stored_rate),
        "request_latency_ms": {"p50": percentile(latencies, 0.5), "p99": percentile(latencies, 0.99)},
        "cpu_us_per_stored_event": {
            name: round(seconds / max(summary["stored"], 1) * 1e6, 1) for name, seconds in sorted(cpu_used.items())
        },
    }
    print(json.dumps(result, indent=2, default=str))


if __name__ == "__main__":
    main()
