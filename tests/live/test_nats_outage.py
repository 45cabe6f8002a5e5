"""Without NATS the query service still answers queries; subscriptions say why they cannot run, then work
once NATS is there."""

import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import nats

from cli.embedded import EmbeddedNats, free_port
from config import Settings
from messaging.live import LiveEvent, encode_notice
from messaging.names import Names
from processor.transform import rows_from_batch
from processor.writer import WRITER_SESSION_SETTINGS, EventWriter, prepare_connection
from storage.database import create_pool
from tests.live.conftest import wait_until_live
from tests.live.ws_client import bearer, error_codes_of, errors_of, graphql_websocket
from tests.payloads import track_event
from tests.processor.support import envelope
from tests.query.graphql_client import TRENDS, execute
from tests.query.servers import start_server, stop_server

FEED = "subscription($p: ID!) { liveEvents(projectId: $p) { missed events { messageId } } }"
LIVE_TRENDS = """
subscription($p: ID!, $range: DateRangeInput!) {
  liveTrends(projectId: $p, series: [{event: "signup", math: TOTAL}], interval: HOUR, dateRange: $range) {
    points { value }
  }
}
"""


def _range() -> dict[str, str]:
    now = datetime.now(UTC)
    return {"from": (now - timedelta(days=1)).isoformat(), "to": (now + timedelta(days=1)).isoformat()}


async def _trends_work(url: str, caller, project) -> None:
    async with httpx.AsyncClient(base_url=url, headers=caller.headers, timeout=30) as http:
        body = await execute(http, TRENDS, projectId=str(project.project_id),
                             series=[{"event": None, "math": "TOTAL"}], interval="DAY", dateRange=_range())
    assert "errors" not in body, body
    assert body["data"]["trends"][0]["label"] == "All events"


async def _subscription_refusal(url: str, caller, project) -> dict:
    async with graphql_websocket(url, bearer(caller.access_token)) as ws:
        await ws.subscribe(FEED, p=str(project.project_id))
        return await ws.receive()


async def test_queries_work_and_subscriptions_are_unavailable_while_nats_is_down_until_it_starts(
    live_settings: Settings, caller, project, tmp_path: Path
):
    port = free_port()
    settings = live_settings.model_copy(update={"nats_url": f"nats://127.0.0.1:{port}"})
    server, task, url = await start_server(settings)
    nats_server = None
    try:
        await _trends_work(url, caller, project)
        refusal = await _subscription_refusal(url, caller, project)
        assert error_codes_of(refusal) == ["UNAVAILABLE"]
        assert "NATS cannot be reached" in errors_of(refusal)[0]["message"]

        nats_server = EmbeddedNats(tmp_path, port).start()
        await wait_until_live(url, caller, project, within=15)
        async with graphql_websocket(url, bearer(caller.access_token)) as ws:
            await ws.subscribe(FEED, p=str(project.project_id))
            await ws.silence(0.3)
            publisher = await nats.connect(nats_server.url)
            event = LiveEvent(message_id=str(uuid.uuid4()), event="after", distinct_id="d", person_id=None,
                              timestamp_us=0, is_bot=False, properties={})
            await publisher.publish(Names(settings.nats_namespace).live_subject(str(project.project_id)),
                                    encode_notice(str(project.project_id), 0.0, [event]))
            await publisher.close()
            batch = (await ws.next_data())["liveEvents"]
        assert [item["messageId"] for item in batch["events"]] == [event.message_id]
        await _trends_work(url, caller, project)
    finally:
        await stop_server(server, task)
        if nats_server is not None:
            nats_server.stop()


def _total(series: list[dict]) -> float:
    return sum(point["value"] for item in series for point in item["points"])


async def test_a_chart_subscription_rides_out_a_nats_restart_and_catches_up_on_what_it_missed(
    live_settings: Settings, caller, project, tmp_path: Path, database_url: str
):
    port = free_port()
    nats_server = EmbeddedNats(tmp_path, port).start()
    settings = live_settings.model_copy(update={"nats_url": nats_server.url})
    server, task, url = await start_server(settings)
    writer_pool = await create_pool(database_url, size=1, init=prepare_connection,
                                    server_settings=WRITER_SESSION_SETTINGS)
    try:
        await wait_until_live(url, caller, project, within=15)
        async with graphql_websocket(url, bearer(caller.access_token)) as ws:
            await ws.subscribe(LIVE_TRENDS, p=str(project.project_id), range=_range())
            assert _total((await ws.next_data())["liveTrends"]) == 0

            nats_server.stop()
            # Stored while NATS is away (a processor writes without it): no notice will ever announce them.
            batch = envelope(project.project_id, [track_event("signup", user_id=f"u{i}") for i in range(3)])
            assert await EventWriter(writer_pool).write(rows_from_batch(batch)) == 3
            assert await ws.silence(1.5) == []

            nats_server = EmbeddedNats(tmp_path, port).start()
            # Back: the hub tells every subscription to compute afresh, and the chart shows them.
            assert _total((await ws.next_data(within=20))["liveTrends"]) == 3
    finally:
        await writer_pool.close()
        await stop_server(server, task)
        nats_server.stop()


async def test_without_a_nats_url_subscriptions_say_so(live_settings: Settings, caller, project):
    server, task, url = await start_server(live_settings.model_copy(update={"nats_url": None}))
    try:
        refusal = await _subscription_refusal(url, caller, project)
        await _trends_work(url, caller, project)
    finally:
        await stop_server(server, task)

    assert error_codes_of(refusal) == ["UNAVAILABLE"]
    assert "TRACKMINT_NATS_URL" in errors_of(refusal)[0]["message"]
