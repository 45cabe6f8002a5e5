"""Soak: does any service's memory or the consumer lag grow under steady load?

    python bench/soak.py [--minutes 10] [--rate 500] [--persons 5000] [--threshold 1.0]

Starts a private system (embedded PostgreSQL and NATS unless TRACKMINT_DATABASE_URL /
TRACKMINT_NATS_URL are set; then a fresh database and NATS namespace on those): ingest, two
processors, query, alerting and destinations, each a process serving /metrics. It creates a
project with two alert rules (their webhook channel and a destination point at a local HTTP
receiver in this process, so alerting and destinations do real work), holds live subscriptions
(liveCounters, liveTrends, liveEvents; graphql-transport-ws) open for the whole run and runs
trends, funnel and sessionsSummary queries every few seconds, while one SDK client process sends
a web product's traffic (page views, clicks, identifies of many persons) at a steady rate.

Every `--sample-seconds` it records each service's RSS and what its /metrics say (consumer
pending, events accepted and stored, destinations pending). At the end it checks that every
message id sent is stored exactly once, and prints one JSON object: conditions, per service RSS
first/last/max and its slope over the second half of the load (warm-up excluded) with a verdict
(`flat` below `--threshold` MiB per minute, else `growing`), the consumer lag's max and slope,
events sent/acked/stored, live pushes, query latencies and the sampled series.
"""

import argparse
import asyncio
import contextlib
import importlib.metadata
import json
import multiprocessing
import os
import platform
import shutil
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import asyncpg
import httpx
import nats
import psutil
from prometheus_client.parser import text_string_to_metric_families
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from websockets.asyncio.client import connect
from websockets.exceptions import WebSocketException
from websockets.typing import Subprotocol

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.ingest import percentile
from bench.system import BenchSystem, ThreadedHttpServer, create_tenant, delete_namespace_streams, tree_rss
from bench.workload import web_call

LIVE = {
    "liveCounters": "subscription($p: ID!) { liveCounters(projectId: $p) { activePersons eventsPerSecond } }",
    "liveTrends": "subscription($p: ID!, $range: DateRangeInput!) { liveTrends(projectId: $p, series: "
                  "[{event: null, math: TOTAL}, {event: \"purchase\", math: UNIQUE_PERSONS}], interval: MINUTE, "
                  "dateRange: $range) { label points { bucket value } } }",
    "liveEvents": "subscription($p: ID!) { liveEvents(projectId: $p) { missed events { messageId } } }",
}
QUERIES = {
    "trends": "query($p: ID!, $range: DateRangeInput!) { trends(projectId: $p, series: [{event: \"$pageview\", "
              "math: UNIQUE_PERSONS}, {event: \"purchase\", math: TOTAL}], interval: HOUR, dateRange: $range) "
              "{ label points { bucket value } } }",
    "funnel": "query($p: ID!, $range: DateRangeInput!) { funnel(projectId: $p, steps: [{event: \"$pageview\"}, "
              "{event: \"signup\"}, {event: \"purchase\"}], dateRange: $range, windowSeconds: 3600) "
              "{ steps { event persons conversionFromStart } } }",
    "sessionsSummary": "query($p: ID!, $range: DateRangeInput!) { sessionsSummary(projectId: $p, dateRange: $range) "
                       "{ totals { sessions persons avgDurationSeconds bounceRate pageviewsPerSession } } }",
}
CREATE_CHANNEL = ("mutation($p: ID!, $url: String!) { createAlertChannel(kind: WEBHOOK, name: \"soak\", projectId: $p,"
                  " url: $url) { channel { id } } }")
CREATE_RULE = "mutation($p: ID!, $rule: AlertRuleInput!) { createAlertRule(projectId: $p, rule: $rule) { id } }"
CREATE_DESTINATION = ("mutation($p: ID!, $url: String!) { createDestination(projectId: $p, input: {name: \"soak\","
                      " url: $url}) { destination { id } } }")
MIB = 2**20


class Receiver(ThreadedHttpServer):
    """The local HTTP server alert notices and destination batches are sent to, counting both."""

    def __init__(self) -> None:
        self.posts: dict[str, int] = {}
        self.delivered_ids: dict[str, int] = {}

        async def receive(request: Request) -> Response:
            path = request.url.path
            self.posts[path] = self.posts.get(path, 0) + 1
            if path == "/destination":
                for event in json.loads(await request.body()).get("events", []):
                    message_id = event.get("messageId", "")
                    self.delivered_ids[message_id] = self.delivered_ids.get(message_id, 0) + 1
            return Response("ok")

        super().__init__([Route("/{path}", receive, methods=["POST"])])

    def start(self) -> "Receiver":
        super().start()
        return self


def send_load(endpoint: str, write_key: str, rate: float, seconds: float, persons: int, ids_path: str,
              progress, results) -> None:
    """The load generator, a process of its own: paced SDK calls, every message id written to `ids_path`."""
    from trackmint_sdk import Client

    client = Client(write_key, endpoint, max_queue_size=200_000)
    started = time.monotonic()
    sent = 0
    with open(ids_path, "w") as ids:
        while (elapsed := time.monotonic() - started) < seconds:
            while sent < int(rate * elapsed):
                method, args, kwargs = web_call(sent, 0, persons)
                ids.write(getattr(client, method)(*args, **kwargs) + "\n")
                sent += 1
            progress.value = sent
            time.sleep(0.01)
    flushed = client.flush(timeout=180)
    stats = client.stats
    client.close()
    results.put({"sent": sent, "acked": stats.acked, "rejected": stats.rejected, "dropped": stats.dropped,
                 "reconnects": stats.reconnects, "flushed": flushed,
                 "ack_p50_ms": stats.ack_latency_p50_ms, "ack_p99_ms": stats.ack_latency_p99_ms})


class Live:
    """One subscription on a WebSocket of its own, held open (and opened again if it ends) for the whole run."""

    def __init__(self, field: str, variables: dict) -> None:
        self.field = field
        self.variables = variables
        self.pushes = 0
        self.events = 0
        self.missed = 0
        self.event_ids: set[str] = set()
        self.duplicate_events = 0
        self.errors: list[str] = []
        self.subscribed = 0

    async def run(self, url: str, token: str) -> None:
        while True:
            try:
                async with connect(url, subprotocols=[Subprotocol("graphql-transport-ws")], open_timeout=10) as ws:
                    await ws.send(json.dumps({"type": "connection_init",
                                              "payload": {"authorization": f"Bearer {token}"}}))
                    await ws.send(json.dumps({"id": "1", "type": "subscribe", "payload": {
                        "query": LIVE[self.field], "variables": self.variables}}))
                    self.subscribed += 1
                    async for raw in ws:
                        message = json.loads(raw)
                        if message["type"] == "ping":
                            await ws.send(json.dumps({"type": "pong"}))
                        elif message["type"] == "next":
                            self._record(message["payload"])
                        elif message["type"] in ("error", "complete"):
                            self.errors.append(json.dumps(message)[:300])
                            break
            except (OSError, WebSocketException) as error:
                self.errors.append(repr(error)[:300])
            await asyncio.sleep(1)

    def _record(self, payload: dict) -> None:
        if payload.get("errors"):
            self.errors.append(json.dumps(payload["errors"])[:300])
            return
        self.pushes += 1
        if self.field == "liveEvents":
            batch = payload["data"]["liveEvents"]
            self.missed += batch["missed"]
            for event in batch["events"]:
                self.events += 1
                if event["messageId"] in self.event_ids:
                    self.duplicate_events += 1
                self.event_ids.add(event["messageId"])

    def summary(self) -> dict:
        result = {"pushes": self.pushes, "subscribed": self.subscribed, "errors": len(self.errors),
                  "first_errors": self.errors[:3]}
        if self.field == "liveEvents":
            result.update(events=self.events, distinct_events=len(self.event_ids),
                          duplicate_events=self.duplicate_events, missed_reported=self.missed)
        return result


async def graphql(http: httpx.AsyncClient, query: str, **variables) -> dict:
    body = (await http.post("/graphql", json={"query": query, "variables": variables}, timeout=60)).json()
    if body.get("errors"):
        raise RuntimeError(f"GraphQL errors: {body['errors']}")
    return body["data"]


async def set_up_work(http: httpx.AsyncClient, project_id: str, receiver: Receiver) -> None:
    """Two alert rules notifying a webhook channel, and a destination of every event: all at the receiver."""
    channel = (await graphql(http, CREATE_CHANNEL, p=project_id, url=receiver.url("alert")))
    channel_ids = [channel["createAlertChannel"]["channel"]["id"]]
    for rule in (
        {"name": "purchases", "interval": "MINUTE", "evaluateEverySeconds": 10, "cooldownSeconds": 60,
         "channelIds": channel_ids, "series": {"event": "purchase", "math": "TOTAL"},
         "detector": {"kind": "THRESHOLD", "direction": "UP", "threshold": 100}},
        {"name": "page views", "interval": "MINUTE", "evaluateEverySeconds": 10, "cooldownSeconds": 60,
         "channelIds": channel_ids, "series": {"event": "$pageview", "math": "TOTAL"},
         "detector": {"kind": "ZSCORE", "direction": "BOTH"}},
    ):
        await graphql(http, CREATE_RULE, p=project_id, rule=rule)
    await graphql(http, CREATE_DESTINATION, p=project_id, url=receiver.url("destination"))


async def run_queries(http: httpx.AsyncClient, project_id: str, every: float, started: float,
                      latencies: dict[str, list[tuple[float, float]]], errors: dict[str, int]) -> None:
    """Each analytics query in turn, one round every `every` seconds, timed from request to answer.

    Latencies are (seconds since the load started, milliseconds): the data grows during the run.
    """
    while True:
        round_started = time.monotonic()
        now = datetime.now(UTC)
        date_range = {"from": (now - timedelta(days=1)).isoformat(), "to": (now + timedelta(hours=1)).isoformat()}
        for name, query in QUERIES.items():
            began = time.monotonic()
            try:
                await graphql(http, query, p=project_id, range=date_range)
                latencies[name].append((began - started, (time.monotonic() - began) * 1000))
            except (httpx.HTTPError, RuntimeError, ValueError):
                errors[name] += 1
        await asyncio.sleep(max(0.0, round_started + every - time.monotonic()))


def metric_sums(text: str) -> dict[str, float]:
    """Each sample name of a Prometheus text page, summed over its labels."""
    sums: dict[str, float] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            sums[sample.name] = sums.get(sample.name, 0.0) + sample.value
    return sums


async def take_sample(http: httpx.AsyncClient, system: BenchSystem, started: float, progress) -> dict:
    scraped: dict[str, dict[str, float]] = {}
    for name, url in system.metrics_urls.items():
        try:
            scraped[name] = metric_sums((await http.get(url, timeout=10)).text)
        except httpx.HTTPError:
            scraped[name] = {}
    processors = [values for name, values in scraped.items() if name.startswith("processor")]

    def of(values: dict[str, float], metric: str) -> float | None:
        return values.get(metric)

    return {
        "t": round(time.monotonic() - started, 1),
        "sent": progress.value,
        "rss_mib": {name: round(tree_rss(process.pid) / MIB, 1) for name, process in system.services.items()},
        # One durable consumer shared by the processors: each reports the same pending count.
        "consumer_pending": max((of(each, "trackmint_processor_consumer_pending") or 0 for each in processors),
                                default=None),
        "consumer_ack_pending": max((of(each, "trackmint_processor_consumer_ack_pending") or 0
                                     for each in processors), default=None),
        "accepted": of(scraped.get("ingest", {}), "trackmint_ingest_events_accepted_total"),
        "stored": sum(of(each, "trackmint_processor_events_stored_total") or 0 for each in processors),
        "duplicates": sum(of(each, "trackmint_processor_duplicates_total") or 0 for each in processors),
        "destinations_pending": of(scraped.get("destinations", {}), "trackmint_destinations_pending_events"),
        "destinations_delivered": of(scraped.get("destinations", {}),
                                     "trackmint_destinations_delivered_events_total"),
        "live_subscriptions": of(scraped.get("query", {}), "trackmint_query_live_subscriptions"),
        "alert_evaluations": of(scraped.get("alerting", {}), "trackmint_alerting_evaluations_total"),
    }


def slope_per_minute(points: list[tuple[float, float]]) -> float | None:
    """Least-squares slope of (seconds, value) points, per minute."""
    if len(points) < 2:
        return None
    mean_t = sum(t for t, _ in points) / len(points)
    mean_v = sum(v for _, v in points) / len(points)
    spread = sum((t - mean_t) ** 2 for t, _ in points)
    if not spread:
        return None
    return sum((t - mean_t) * (v - mean_v) for t, v in points) / spread * 60


async def check_ids(database_url: str, project_id: str, ids_path: Path) -> dict:
    """Every message id the load generator sent, against the project's stored events."""
    sent_ids = [line for line in (await asyncio.to_thread(ids_path.read_text)).splitlines() if line]
    connection = await asyncpg.connect(database_url)
    try:
        await connection.execute("CREATE TEMP TABLE soak_sent (message_id text PRIMARY KEY)")
        await connection.copy_records_to_table("soak_sent", records=[(each,) for each in set(sent_ids)])
        found = await connection.fetchval(
            "SELECT count(DISTINCT e.message_id) FROM events e JOIN soak_sent s USING (message_id)"
            " WHERE e.project_id = $1", project_id)
        rows, distinct = await connection.fetchrow(
            "SELECT count(*), count(DISTINCT message_id) FROM events WHERE project_id = $1", project_id)
        persons = await connection.fetchval(
            "SELECT count(*) FROM persons WHERE project_id = $1 AND merged_into IS NULL", project_id)
        sessions = await connection.fetchval("SELECT count(*) FROM sessions WHERE project_id = $1", project_id)
    finally:
        await connection.close()
    return {"sent_ids": len(sent_ids), "distinct_sent_ids": len(set(sent_ids)), "stored_of_sent": found,
            "lost": len(set(sent_ids)) - found, "stored_rows": rows, "duplicates": rows - distinct,
            "persons": persons, "sessions": sessions}


async def stored_count(database_url: str, project_id: str) -> int:
    connection = await asyncpg.connect(database_url)
    try:
        return await connection.fetchval("SELECT count(*) FROM events WHERE project_id = $1", project_id)
    finally:
        await connection.close()


async def server_versions(system: BenchSystem) -> dict:
    connection = await asyncpg.connect(system.database_url)
    try:
        postgres = await connection.fetchval("SHOW server_version")
    finally:
        await connection.close()
    nc = await nats.connect(system.nats_url, connect_timeout=5, max_reconnect_attempts=0)
    try:
        nats_version = nc.connected_server_version and str(nc.connected_server_version)
    finally:
        await nc.close()
    packages = {}
    for name in ("trackmint", "trackmint-sdk"):
        with contextlib.suppress(importlib.metadata.PackageNotFoundError):
            packages[name] = importlib.metadata.version(name)
    return {"python": platform.python_version(), "postgresql": postgres, "nats": nats_version, **packages}


def summarize_memory(samples: list[dict], load_seconds: float, threshold: float) -> dict:
    second_half = [each for each in samples if load_seconds / 2 <= each["t"] <= load_seconds + 1]
    result = {}
    for name in samples[0]["rss_mib"]:
        values = [each["rss_mib"][name] for each in samples]
        slope = slope_per_minute([(each["t"], each["rss_mib"][name]) for each in second_half])
        result[name] = {
            "first_mib": values[0], "last_mib": values[-1], "max_mib": max(values),
            "slope_mib_per_min_second_half": None if slope is None else round(slope, 3),
            "verdict": None if slope is None else ("flat" if slope < threshold else "growing"),
        }
    return result


async def soak(system: BenchSystem, receiver: Receiver, arguments: argparse.Namespace, work_dir: Path) -> dict:
    project_id, write_key, token = await create_tenant(system.database_url, "soak")
    base_url = f"http://127.0.0.1:{system.query_port}"
    load_seconds = arguments.minutes * 60
    async with httpx.AsyncClient(base_url=base_url, headers={"Authorization": f"Bearer {token}"}) as http, \
            httpx.AsyncClient() as scraper:
        await set_up_work(http, project_id, receiver)
        now = datetime.now(UTC)
        live = [
            Live("liveCounters", {"p": project_id}),
            Live("liveTrends", {"p": project_id, "range": {
                "from": (now - timedelta(minutes=30)).isoformat(),
                "to": (now + timedelta(minutes=arguments.minutes + 30)).isoformat()}}),
            Live("liveEvents", {"p": project_id}),
        ]
        tasks = [asyncio.create_task(each.run(f"ws://127.0.0.1:{system.query_port}/graphql", token))
                 for each in live]
        latencies: dict[str, list[tuple[float, float]]] = {name: [] for name in QUERIES}
        query_errors = dict.fromkeys(QUERIES, 0)
        await asyncio.sleep(3)  # the destination's consumer is bound (refresh 2 s), subscriptions are open

        context = multiprocessing.get_context("spawn")
        progress, results = context.Value("q", 0), context.Queue()
        ids_path = work_dir / "sent_ids.txt"
        load = context.Process(target=send_load, args=(
            system.endpoint, write_key, arguments.rate, load_seconds, arguments.persons, str(ids_path),
            progress, results))
        started = time.monotonic()
        load.start()
        tasks.append(asyncio.create_task(run_queries(http, project_id, arguments.query_every, started, latencies,
                                                     query_errors)))
        samples = [await take_sample(scraper, system, started, progress)]
        while load.is_alive() and time.monotonic() - started < load_seconds:
            await asyncio.sleep(max(0.0, started + len(samples) * arguments.sample_seconds - time.monotonic()))
            samples.append(await take_sample(scraper, system, started, progress))
        client = await asyncio.to_thread(results.get, True, 300)
        await asyncio.to_thread(load.join, 30)

        # Drain: everything acked is stored, and delivered to the destination; then the last sample.
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline:
            stored = await stored_count(system.database_url, project_id)
            if stored >= client["acked"] and len(receiver.delivered_ids) >= client["acked"]:
                break
            await asyncio.sleep(1)
        drained_after = round(time.monotonic() - started - load_seconds, 1)
        await asyncio.sleep(2)  # the last live pushes (debounced to once a second)
        samples.append(await take_sample(scraper, system, started, progress))
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
    ids = await check_ids(system.database_url, project_id, ids_path)
    versions = await server_versions(system)

    during_load = [each for each in samples if each["t"] <= load_seconds + 1]
    second_half = [each for each in during_load if each["t"] >= load_seconds / 2]
    lag = [(each["t"], each["consumer_pending"]) for each in second_half if each["consumer_pending"] is not None]
    lag_slope = slope_per_minute(lag)
    memory = summarize_memory(samples, load_seconds, arguments.threshold)
    destination_ids = receiver.delivered_ids
    return {
        "benchmark": "soak",
        "conditions": {
            "machine": {"system": platform.system(), "machine": platform.machine(), "cores": os.cpu_count(),
                        "memory_gib": round(psutil.virtual_memory().total / 2**30, 1)},
            "rate_events_per_s": arguments.rate, "minutes": arguments.minutes, "persons": arguments.persons,
            "workload": "bench/workload.py web_call: page views with URL, referrer, user agent and IP, clicks, "
                        "one identify per person; one SDK client process",
            "services": "ingest, 2 processors, query, alerting, destinations, each a process; PostgreSQL and NATS "
                        + ("given (fresh database and NATS namespace)" if os.environ.get("TRACKMINT_DATABASE_URL")
                           else "embedded"),
            "work": "2 alert rules (threshold, z-score; every 10 s) notifying a webhook, 1 destination of every "
                    f"event, 3 live subscriptions, trends + funnel + sessionsSummary every {arguments.query_every} s",
            "sample_every_seconds": arguments.sample_seconds,
            "flat_threshold_mib_per_min": arguments.threshold,
            "flat_lag_threshold_messages_per_min": arguments.lag_threshold,
            "slopes": "least squares over the samples of the second half of the load (warm-up excluded)",
            "versions": versions,
            "load_average_at_end": [round(value, 2) for value in os.getloadavg()],
        },
        "memory": memory,
        "consumer_lag": {
            "max": max((each["consumer_pending"] or 0 for each in samples), default=None),
            "max_second_half": max((value for _, value in lag), default=None),
            "slope_per_min_second_half": None if lag_slope is None else round(lag_slope, 2),
            "at_end_of_load": during_load[-1]["consumer_pending"],
            "after_drain": samples[-1]["consumer_pending"],
            "verdict": None if lag_slope is None else (
                "flat" if lag_slope < arguments.lag_threshold else "growing"),
        },
        "destinations_pending_max": max((each["destinations_pending"] or 0 for each in samples), default=None),
        "events": {
            "sent": client["sent"], "acked": client["acked"], "rejected": client["rejected"],
            "dropped": client["dropped"], "sdk_reconnects": client["reconnects"],
            "ack_p50_ms": client["ack_p50_ms"], "ack_p99_ms": client["ack_p99_ms"],
            "accepted_by_ingest": samples[-1]["accepted"], "stored_by_processors": samples[-1]["stored"],
            "processor_duplicates": samples[-1]["duplicates"],
            **ids,
            "drained_seconds_after_load": drained_after,
            "delivered_to_destination": sum(destination_ids.values()),
            "delivered_distinct": len(destination_ids),
        },
        "alerting": {"evaluations": samples[-1]["alert_evaluations"], "notices_received": receiver.posts.get(
            "/alert", 0)},
        "live": {each.field: each.summary() for each in live},
        "queries_ms": {name: query_summary(values, query_errors[name]) for name, values in latencies.items()},
        "series": samples,
    }


def query_summary(timed: list[tuple[float, float]], errors: int) -> dict:
    """Latency percentiles over the run, and the median of each minute (the data grows as the run goes)."""
    values = [ms for _, ms in timed]
    minutes: dict[int, list[float]] = {}
    for at, ms in timed:
        minutes.setdefault(int(at // 60), []).append(ms)
    return {"count": len(values), "errors": errors, "p50": _round(percentile(values, 0.5)),
            "p95": _round(percentile(values, 0.95)),
            "p50_by_minute": [_round(percentile(each, 0.5)) for _, each in sorted(minutes.items())]}


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--minutes", type=float, default=10)
    parser.add_argument("--rate", type=float, default=500, help="events per second")
    parser.add_argument("--persons", type=int, default=5000, help="visitors the traffic cycles through")
    parser.add_argument("--sample-seconds", type=float, default=10)
    parser.add_argument("--query-every", type=float, default=5, help="seconds between rounds of queries")
    parser.add_argument("--threshold", type=float, default=1.0, help="MiB per minute below which RSS is flat")
    parser.add_argument("--lag-threshold", type=float, default=5.0,
                        help="consumer pending messages (SDK batches) per minute below which the lag is flat")
    arguments = parser.parse_args()
    # A bounded stream: a shared NATS server reserves each stream's max_bytes of its storage.
    os.environ.setdefault("TRACKMINT_STREAM_MAX_BYTES", str(2**30))

    receiver = Receiver().start()
    system = BenchSystem(processors=2, also=("query", "alerting", "destinations"), ops_ports=True)
    try:
        system.start()
        system.wait_ready()
        result = asyncio.run(soak(system, receiver, arguments, system.work_dir))
    finally:
        system.stop()
        if os.environ.get("TRACKMINT_NATS_URL"):
            asyncio.run(delete_namespace_streams(system.nats_url, system.namespace))
        receiver.stop()
        shutil.rmtree(system.work_dir, ignore_errors=True)  # the sent ids, and embedded servers' data
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
