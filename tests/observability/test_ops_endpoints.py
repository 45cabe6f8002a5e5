"""Every service's operations endpoints: /healthz, /readyz that follows its dependencies, and /metrics whose
numbers follow what the service did (events accepted and rejected by reason, stored, written, queried)."""

import re
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from alerting.service import start_alerting
from cli.embedded import EmbeddedNats
from config import Settings
from destinations.service import start_destinations
from ingest.server import IngestServer, start_ingest
from processor.service import ProcessorService, start_processor
from tests.payloads import auth, batch_of, ingest_stub, track_event
from tests.polling import eventually
from tests.query.servers import start_server, stop_server
from tests.query.tenant import create_organization, create_owned_project

ROOT = Path(__file__).resolve().parents[2]


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Every sample of a Prometheus text page, by name and sorted labels."""
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text) for sample in family.samples
    }


async def scrape(http: httpx.AsyncClient, url: str) -> dict:
    response = await http.get(f"{url}/metrics")
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/plain")
    return samples(response.text)


def _invalid_json_event():
    event = track_event("bad")
    event.properties_json = "{oops"
    return event


@pytest.fixture
async def ingest_with_ops(settings: Settings) -> AsyncIterator[IngestServer]:
    server = await start_ingest(settings.model_copy(update={"ingest_ops_port": 0}))
    try:
        yield server
    finally:
        await server.stop(grace=1)


@pytest.fixture
async def processor_with_ops(settings: Settings) -> AsyncIterator[ProcessorService]:
    service = await start_processor(settings.model_copy(update={"processor_ops_port": 0}))
    try:
        yield service
    finally:
        await service.stop(grace=5)


async def test_ingest_and_processor_count_what_they_accepted_rejected_and_stored(
    ingest_with_ops: IngestServer, processor_with_ops: ProcessorService, project, db
):
    assert ingest_with_ops.ops is not None and processor_with_ops.ops is not None
    ingest_url = f"http://127.0.0.1:{ingest_with_ops.ops.port}"
    processor_url = f"http://127.0.0.1:{processor_with_ops.ops.port}"
    channel, stub = ingest_stub(ingest_with_ops.port)
    async with channel, httpx.AsyncClient(timeout=10) as http:
        for url in (ingest_url, processor_url):
            assert (await http.get(f"{url}/healthz")).json() == {"status": "ok"}
            ready = await http.get(f"{url}/readyz")
            assert ready.status_code == 200
            assert ready.json() == {"status": "ok", "checks": {"event_stream": "ok", "database": "ok"}}

        for sequence in range(3):
            events = [track_event("signup", user_id=f"u{sequence}-{i}") for i in range(4)] + [_invalid_json_event()]
            ack = await stub.Send(batch_of(events, sequence=sequence), metadata=auth(project.write_key))
            assert ack.accepted == 4
        ingested = await scrape(http, ingest_url)
        assert ingested[("trackmint_ingest_events_accepted_total", ())] == 12
        assert ingested[("trackmint_ingest_events_rejected_total", (("reason", "INVALID_JSON"),))] == 3
        assert ingested[("trackmint_ingest_publish_seconds_count", ())] == 3
        assert ingested[("trackmint_ingest_batches_refused_total", (("reason", "unavailable"),))] == 0

        await eventually(lambda: db.fetchval("SELECT count(*) FROM events WHERE project_id = $1",
                                             project.project_id), lambda count: count == 12)
        processed = await eventually(lambda: scrape(http, processor_url),
                                     lambda found: found[("trackmint_processor_events_stored_total", ())] == 12)
        assert processed[("trackmint_processor_events_stored_total", ())] == 12
        assert processed[("trackmint_processor_duplicates_total", ())] == 0
        assert processed[("trackmint_processor_write_seconds_count", ())] >= 1
        assert processed[("trackmint_processor_batch_events_sum", ())] == 12
        assert processed[("trackmint_processor_persons_created_total", ())] == 12
        # The shared consumer's lag, asked of JetStream at the scrape: all caught up.
        assert processed[("trackmint_processor_consumer_pending", ())] == 0


async def test_readiness_follows_the_event_stream_down_and_back(settings: Settings, tmp_path, project):
    """A private NATS server, stopped and started again: ingest says unavailable (503, naming the event stream)
    while it is down, and ready again once it is back."""
    nats_server = EmbeddedNats(tmp_path / "nats").start()
    # File storage: the stream outlives the server's restart, as in production.
    ingest = await start_ingest(settings.model_copy(update={
        "nats_url": nats_server.url, "ingest_ops_port": 0, "stream_storage": "file"}))
    try:
        assert ingest.ops is not None
        url = f"http://127.0.0.1:{ingest.ops.port}/readyz"
        async with httpx.AsyncClient(timeout=10) as http:
            assert (await http.get(url)).status_code == 200
            nats_server.stop()
            down = await eventually(lambda: http.get(url), lambda response: response.status_code == 503)
            assert down.status_code == 503 and down.json()["status"] == "unavailable"
            assert down.json()["checks"]["event_stream"] != "ok" and down.json()["checks"]["database"] == "ok"
            # Still alive: a load balancer must not restart it, only stop sending it work.
            assert (await http.get(url.replace("/readyz", "/healthz"))).status_code == 200
            nats_server.start()
            back = await eventually(lambda: http.get(url), lambda response: response.status_code == 200, within=30)
            assert back.status_code == 200
    finally:
        await ingest.stop(grace=1)
        nats_server.stop()


async def test_the_query_service_times_operations_by_field_counts_errors_and_echoes_request_ids(
    query_settings: Settings, database_url: str
):
    import asyncpg

    connection = await asyncpg.connect(database_url)
    try:
        caller = await create_organization(connection, query_settings, "Metrics")
        project = await create_owned_project(connection, caller.organization_id, "metrics")
    finally:
        await connection.close()
    server, task, url = await start_server(query_settings)
    try:
        async with httpx.AsyncClient(base_url=url, headers=caller.headers, timeout=30) as http:
            trends = """query($p: ID!) { trends(projectId: $p, interval: DAY,
                series: [{event: "signup", math: TOTAL}],
                dateRange: {from: "2026-11-01T00:00:00Z", to: "2026-11-08T00:00:00Z"}) { label } }"""
            variables = {"p": str(project.project_id)}
            for _ in range(2):
                answer = await http.post("/graphql", json={"query": trends, "variables": variables},
                                         headers={"x-request-id": "trace-42"})
                assert "errors" not in answer.json()
                assert answer.headers["x-request-id"] == "trace-42"
            missing = await http.post("/graphql", json={"query": trends, "variables": {"p": str(caller.user_id)}})
            assert missing.json()["errors"][0]["extensions"]["code"] == "NOT_FOUND"
            # A request id that is no plain token (it ends up in every log line) is replaced by one of ours.
            odd = "forged\" level=ERROR {x}"
            replaced = (await http.get("/healthz", headers={"x-request-id": odd})).headers["x-request-id"]
            assert replaced != odd and len(replaced) == 16

            found = await scrape(http, url)
        assert found[("trackmint_query_seconds_count", (("field", "trends"), ("type", "query")))] == 3
        assert found[("trackmint_query_errors_total", (("code", "NOT_FOUND"),))] == 1
        assert ("trackmint_query_live_subscriptions", ()) in found
    finally:
        await stop_server(server, task)


async def test_an_ops_port_already_taken_fails_the_start_and_leaves_nothing_running(settings: Settings):
    first = await start_ingest(settings.model_copy(update={"ingest_ops_port": 0}))
    try:
        assert first.ops is not None
        with pytest.raises(OSError, match="cannot listen"):
            await start_ingest(settings.model_copy(update={"ingest_ops_port": first.ops.port}))
    finally:
        await first.stop(grace=1)


async def test_alerting_reports_its_leadership_and_readiness(settings: Settings):
    first = await start_alerting(settings.model_copy(update={"alerting_ops_port": 0}), name="first")
    second = await start_alerting(settings.model_copy(update={"alerting_ops_port": 0}), name="second")
    try:
        assert first.ops is not None and second.ops is not None
        async with httpx.AsyncClient(timeout=10) as http:
            urls = [f"http://127.0.0.1:{service.ops.port}" for service in (first, second)]

            async def leaders() -> list[float]:
                return [(await scrape(http, url))[("trackmint_alerting_leader", ())] for url in urls]

            # Exactly one replica leads, and says so.
            assert sorted(await eventually(leaders, lambda found: sum(found) == 1)) == [0, 1]
            found = await scrape(http, urls[0])
            assert ("trackmint_alerting_notification_failures_total", ()) in found
            for url in urls:
                ready = await http.get(f"{url}/readyz")
                assert ready.status_code == 200 and ready.json()["checks"] == {"database": "ok"}
    finally:
        await first.stop()
        await second.stop()


async def test_every_metric_the_dashboard_and_the_docs_name_is_one_a_service_exports(
    settings: Settings, query_settings: Settings
):
    """Start every service with its ops endpoints and scrape them all: the Grafana dashboard's queries and
    docs/operations.md may only name metrics that exist."""
    started = [
        await start_ingest(settings.model_copy(update={"ingest_ops_port": 0})),
        await start_processor(settings.model_copy(update={"processor_ops_port": 0})),
        await start_alerting(settings.model_copy(update={"alerting_ops_port": 0})),
        await start_destinations(settings.model_copy(update={"destinations_ops_port": 0})),
    ]
    server, task, query_url = await start_server(query_settings)
    try:
        urls = [f"http://127.0.0.1:{service.ops.port}" for service in started] + [query_url]
        exported: set[str] = set()
        async with httpx.AsyncClient(timeout=10) as http:
            for url in urls:
                text = (await http.get(f"{url}/metrics")).text
                exported |= {family.name for family in text_string_to_metric_families(text)}
        assert {name.split("_")[1] for name in exported} == {"ingest", "processor", "alerting", "destinations",
                                                             "query"}
        dashboard = (ROOT / "deploy/grafana/dashboards/trackmint-operations.json").read_text()
        operations = (ROOT / "docs/operations.md").read_text()
        named = set(re.findall(r"trackmint_[a-z_]+", dashboard + operations))
        # The docs abbreviate a family's siblings as `…_name`; those are checked through the full names.
        unknown = sorted(name for name in named if _family(name) not in exported)
        assert not unknown, f"named but not exported: {unknown}"
    finally:
        await stop_server(server, task)
        for service in reversed(started):
            await (service.stop(grace=1) if isinstance(service, IngestServer) else
                   service.stop(grace=5) if isinstance(service, ProcessorService) else service.stop())


def _family(name: str) -> str:
    for suffix in ("_total", "_bucket", "_sum", "_count", "_created"):
        if name.endswith(suffix):
            return name.removesuffix(suffix)
    return name
