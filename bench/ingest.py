"""End-to-end ingestion benchmark: SDK clients → ingest → JetStream → processor → PostgreSQL.

    python bench/ingest.py [--duration S] [--clients N] [--rate EVENTS_PER_S] [--processors N] [--ingest N]
                           [--nats-cluster 3]
    python bench/ingest.py --endpoint HOST:PORT --write-key KEY [--data-dir DIR] ...   (a running system)

Starts a private system (embedded PostgreSQL and NATS unless TRACKMINT_DATABASE_URL /
TRACKMINT_NATS_URL are set; then a fresh database and NATS namespace on those),
measures the raw stage limits with the same events, then drives ingest with N
SDK client processes for S seconds and prints one JSON object: events/s acked
and stored, ack latency, send-to-queryable latency (probe events polled in the
database), peak memory of each service, and the ratios to the raw limits.
With `--nats-cluster N` the private system runs on an N-node NATS JetStream
cluster it starts on loopback (streams replicated on min(N, 3) nodes, the
services given every node's URL) instead of one NATS server.
"""

import argparse
import asyncio
import json
import multiprocessing
import os
import platform
import sys
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import asyncpg

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.raw_limits import envelopes, jetstream_publish_rate, postgres_copy_rate
from bench.system import BenchSystem, RunningSystem, tree_cpu_seconds, tree_rss
from bench.workload import EVENT_NAMES, properties_for, web_call
from cli.state import read_state
from config import load_settings

PROBE_EVENT = "bench_probe"
PROBES_PER_SECOND = 20


def percentile(values: list[float], fraction: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


def run_client(endpoint: str | list[str], write_key: str, rate: float, duration: float, index: int, results,
               workload: str = "track") -> None:
    """One SDK client process: paced calls of the workload, a few probes per second, then flush."""
    from trackmint_sdk import Client

    client = Client(write_key, endpoint, max_queue_size=200_000)
    started = time.monotonic()
    sent = probes = 0
    while (elapsed := time.monotonic() - started) < duration:
        due = int(rate * elapsed) if rate else sent + 2000
        while sent < due:
            if workload == "web":
                method, args, kwargs = web_call(sent, index)
                getattr(client, method)(*args, **kwargs)
            else:
                client.track(EVENT_NAMES[sent % len(EVENT_NAMES)], user_id=f"user-{index}-{sent % 5000}",
                             properties=properties_for(sent))
            sent += 1
        while probes < int(PROBES_PER_SECOND * elapsed):
            client.track(PROBE_EVENT, user_id="probe", message_id=f"probe-{time.time_ns()}-{index}-{probes}")
            probes += 1
        time.sleep(0.005) if rate else None
    flushed = client.flush(timeout=120)
    stats = client.stats
    client.close()
    cpu_seconds = time.process_time()
    results.put({
        "sent": sent + probes, "acked": stats.acked, "rejected": stats.rejected, "dropped": stats.dropped,
        "reconnects": stats.reconnects, "flushed": flushed, "cpu_seconds": cpu_seconds,
        "ack_p50_ms": stats.ack_latency_p50_ms, "ack_p99_ms": stats.ack_latency_p99_ms,
    })


async def poll_probes(database_url: str, project_id: str, seen: dict[str, int], stop: threading.Event) -> None:
    """Record when each probe event first becomes visible to a query."""
    connection = await asyncpg.connect(database_url)
    try:
        while not stop.is_set():
            # Probe ids sort by send time; an index range over the last 30 s of them keeps this poll
            # cheap, so the measurement does not load PostgreSQL itself.
            since = f"probe-{time.time_ns() - 30 * 10**9}"
            rows = await connection.fetch(
                'SELECT message_id FROM event_message_ids WHERE project_id = $1'
                ' AND message_id > $2 AND message_id < $3',
                project_id, since, "probe.",
            )
            now = time.time_ns()
            for row in rows:
                seen.setdefault(row["message_id"], now)
            await asyncio.sleep(0.02)
    finally:
        await connection.close()


def sample_rss(pids: dict[str, int], peaks: dict[str, int], stop: threading.Event) -> None:
    while not stop.is_set():
        for name, pid in pids.items():
            peaks[name] = max(peaks.get(name, 0), tree_rss(pid))
        stop.wait(0.5)


async def stored_summary(database_url: str, project_id: str, since: datetime) -> dict:
    """Events of this run (stored since it began), and whether the project's rollup matches its events."""
    connection = await asyncpg.connect(database_url)
    try:
        row = await connection.fetchrow(
            "SELECT count(*) AS stored, count(DISTINCT message_id) AS distinct_ids, min(event_time) AS first,"
            " max(stored_at) AS last FROM events WHERE project_id = $1 AND stored_at >= $2",
            project_id, since,
        )
        events_total = await connection.fetchval("SELECT count(*) FROM events WHERE project_id = $1", project_id)
        rollup = await connection.fetchval("SELECT sum(count) FROM event_counts WHERE project_id = $1", project_id)
        persons = await connection.fetchval(
            "SELECT count(*) FROM persons WHERE project_id = $1 AND merged_into IS NULL", project_id)
        sessions = await connection.fetchval("SELECT count(*) FROM sessions WHERE project_id = $1", project_id)
    finally:
        await connection.close()
    return {"stored": row["stored"], "first": row["first"], "last": row["last"],
            "duplicates": row["stored"] - row["distinct_ids"], "rollup_matches": int(rollup or 0) == events_total,
            "persons": persons, "sessions": sessions}


async def wait_until_stored(database_url: str, project_id: str, since: datetime, expected: int,
                            within: float) -> dict:
    deadline = time.monotonic() + within
    while True:
        summary = await stored_summary(database_url, project_id, since)
        if summary["stored"] >= expected or time.monotonic() > deadline:
            return summary
        await asyncio.sleep(0.25)


def running_system(arguments: argparse.Namespace) -> RunningSystem:
    """The services of a running TrackMint, reached through TRACKMINT_* settings or `up`'s state file."""
    if not arguments.write_key:
        raise SystemExit("--endpoint needs --write-key")
    settings = load_settings(data_dir=arguments.data_dir)
    state = read_state(settings.data_dir.resolve())
    database_url = settings.database_url or (state.database_url if state else None)
    nats_url = settings.nats_url or (state.nats_url if state else None)
    if not database_url or not nats_url:
        raise SystemExit("set TRACKMINT_DATABASE_URL/TRACKMINT_NATS_URL or give the --data-dir of a running `up`")
    return RunningSystem(arguments.endpoint, arguments.write_key, database_url, nats_url)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--duration", type=float, default=60)
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--rate", type=float, default=25_000, help="total events/s to offer; 0 = as fast as possible")
    parser.add_argument("--processors", type=int, default=1)
    parser.add_argument("--ingest", type=int, default=1, metavar="N",
                        help="ingest replicas; each SDK client prefers another one and fails over to the rest")
    parser.add_argument("--workload", choices=("track", "web"), default="track",
                        help="track: identified track calls; web: anonymous page views with URL, referrer, user agent"
                             " and IP, clicks, and one identify per visitor (persons, merges, sessions, enrichment)")
    parser.add_argument("--raw-events", type=int, default=200_000)
    parser.add_argument("--nats-cluster", type=int, default=0, metavar="N",
                        help="run on an N-node JetStream cluster started for the run (R3 streams for N >= 3)")
    parser.add_argument("--endpoint", help="use a running ingest at HOST:PORT instead of starting a system")
    parser.add_argument("--write-key", help="write key of the project to send to (with --endpoint)")
    parser.add_argument("--data-dir", type=Path, help="data directory of a running `trackmint up` (with --endpoint)")
    arguments = parser.parse_args()

    if arguments.endpoint and arguments.nats_cluster:
        raise SystemExit("--nats-cluster starts a private system; it cannot be combined with --endpoint")
    system = running_system(arguments) if arguments.endpoint else BenchSystem(
        processors=arguments.processors, ingests=arguments.ingest, nats_cluster=arguments.nats_cluster).start()
    stream_replicas = getattr(system, "stream_replicas", 1)
    try:
        project_id, write_key = asyncio.run(system.create_project())
        payloads = envelopes(arguments.raw_events, 500, project_id)
        raw_jetstream = asyncio.run(
            jetstream_publish_rate(system.nats_url, system.namespace, payloads, 500, stream_replicas))
        raw_copy = asyncio.run(postgres_copy_rate(system.database_url, payloads))
        del payloads

        stop = threading.Event()
        peaks: dict[str, int] = {}
        sampler = threading.Thread(target=sample_rss, args=(system.service_pids(), peaks, stop), daemon=True)
        sampler.start()
        seen: dict[str, int] = {}
        poller = threading.Thread(
            target=lambda: asyncio.run(poll_probes(system.database_url, project_id, seen, stop)), daemon=True
        )
        poller.start()

        context = multiprocessing.get_context("spawn")
        results = context.Queue()
        endpoints = getattr(system, "endpoints", None) or [system.endpoint]
        per_client = arguments.rate / arguments.clients
        clients = [
            context.Process(target=run_client,
                            args=(endpoints[index % len(endpoints):] + endpoints[:index % len(endpoints)], write_key,
                                  per_client, arguments.duration, index, results, arguments.workload))
            for index in range(arguments.clients)
        ]
        pids = system.service_pids()
        cpu_before = {name: tree_cpu_seconds(pid) for name, pid in pids.items()}
        load_started = time.time()
        since = datetime.now(UTC) - timedelta(seconds=1)
        for client in clients:
            client.start()
        reports = [results.get(timeout=arguments.duration + 300) for _ in clients]
        for client in clients:
            client.join(30)
        load_seconds = time.time() - load_started
        acked = sum(report["acked"] for report in reports)
        summary = asyncio.run(wait_until_stored(system.database_url, project_id, since, acked, 120))
        cpu_used = {name: tree_cpu_seconds(pid) - cpu_before[name] for name, pid in pids.items()}
        cpu_used["sdk_clients"] = sum(report["cpu_seconds"] for report in reports)
        time.sleep(0.3)
        stop.set()
        sampler.join()
        poller.join()
    finally:
        system.stop()

    queryable_ms = [
        (first_seen - int(message_id.split("-")[1])) / 1e6 for message_id, first_seen in seen.items()
    ]
    client_p50 = [report["ack_p50_ms"] for report in reports if report["ack_p50_ms"] is not None]
    client_p99 = [report["ack_p99_ms"] for report in reports if report["ack_p99_ms"] is not None]
    span = (summary["last"] - summary["first"]).total_seconds() if summary["first"] else float("nan")
    stored_rate = summary["stored"] / span if span else 0
    result = {
        "benchmark": "ingest_end_to_end",
        "conditions": {
            "machine": f"{os.cpu_count()} cores, {platform.machine()}, Python {platform.python_version()}",
            "co_located": "clients, ingest, processor(s), PostgreSQL and NATS on this machine",
            "clients": arguments.clients,
            "processors": arguments.processors if not arguments.endpoint else "running system",
            "ingest_replicas": arguments.ingest if not arguments.endpoint else "running system",
            "offered_rate_events_per_s": arguments.rate or "max",
            "duration_s": arguments.duration,
            "workload": arguments.workload,
            "sdk_batch": "SDK defaults (500 events / 512 KiB, flush 0.5 s, 8 in flight)",
            "servers": "running system" if arguments.endpoint
            else "external" if os.environ.get("TRACKMINT_DATABASE_URL") else "embedded",
            "nats": "running system" if arguments.endpoint
            else f"{arguments.nats_cluster}-node JetStream cluster on loopback, R{stream_replicas} file streams"
            if arguments.nats_cluster else "one server, R1 file streams",
        },
        "events_sent": sum(report["sent"] for report in reports),
        "events_acked": acked,
        "events_dropped_by_sdk": sum(report["dropped"] for report in reports),
        "events_rejected": sum(report["rejected"] for report in reports),
        "events_stored": summary["stored"],
        "duplicates_stored": summary["duplicates"],
        "rollup_matches_events": summary["rollup_matches"],
        "persons": summary.get("persons"),
        "sessions": summary.get("sessions"),
        "acked_events_per_s": round(acked / load_seconds),
        "stored_events_per_s": round(stored_rate),
        # Per SDK client over its last 4096 batches: the median of the clients' p50s, the worst p99.
        "ack_latency_ms": {"p50": percentile(client_p50, 0.5), "p99": max(client_p99, default=None)},
        "send_to_queryable_ms": {"p50": percentile(queryable_ms, 0.5), "p99": percentile(queryable_ms, 0.99),
                                 "probes": len(queryable_ms)},
        "cpu_us_per_stored_event": {
            name: round(seconds / max(summary["stored"], 1) * 1e6, 1) for name, seconds in sorted(cpu_used.items())
        },
        "peak_rss_mib": {name: round(value / 2**20, 1) for name, value in sorted(peaks.items())},
        "raw_limits": {"jetstream_publish_one_client": raw_jetstream, "postgres_copy": raw_copy},
        "ratios": {
            "stored_vs_jetstream_publish": round(stored_rate / raw_jetstream["events_per_s"], 3),
            "stored_vs_postgres_copy": round(stored_rate / raw_copy["rows_per_s"], 3),
        },
    }
    print(json.dumps(result, indent=2, default=str))


if __name__ == "__main__":
    main()
