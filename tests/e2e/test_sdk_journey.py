"""The README's journey: the SDK sends events, the processor stores them, `trends` counts them exactly."""

import asyncio
import json
from datetime import UTC, datetime, timedelta

from tests.polling import wait_for_stored
from trackmint_sdk import AsyncClient, Client

TRENDS = """
query($p: ID!, $from: DateTime!, $to: DateTime!) {
  trends(projectId: $p, series: [{event: "Signed Up", math: TOTAL}, {event: null, math: TOTAL}],
         interval: MINUTE, dateRange: {from: $from, to: $to}) { label points { bucket value } }
}"""


async def test_sdk_events_are_stored_once_and_counted_exactly_by_trends(
    ingest_server, processor, project, db, graphql
):
    start = datetime.now(UTC).replace(second=0, microsecond=0) - timedelta(minutes=5)
    client = Client(project.write_key, f"127.0.0.1:{ingest_server.port}")
    try:
        for index in range(240):
            client.track("Signed Up", user_id=f"user-{index}", properties={"plan": "pro"},
                         timestamp=start + timedelta(seconds=index))
        for index in range(60):
            client.page("Pricing", anonymous_id=f"anon-{index}", timestamp=start + timedelta(seconds=2 * index),
                        context={"page": {"url": "https://example.com/pricing", "path": "/pricing"}})
        assert await asyncio.to_thread(client.flush, 30)
    finally:
        await asyncio.to_thread(client.close)
    assert client.stats.acked == 300
    assert await wait_for_stored(db, project.project_id, 300) == 300

    response = await graphql.post("/graphql", json={"query": TRENDS, "variables": {
        "p": str(project.project_id), "from": start.isoformat(), "to": (start + timedelta(minutes=5)).isoformat(),
    }})
    signed_up, everything = response.json()["data"]["trends"]
    assert signed_up["label"] == "Signed Up"
    assert [point["value"] for point in signed_up["points"]] == [60, 60, 60, 60, 0]
    # Page views: one every 2 s from `start`, so 30 in each of the first two minutes.
    assert [point["value"] for point in everything["points"]] == [90, 90, 60, 60, 0]

    page = await db.fetchrow(
        "SELECT event, name, page_url, page_path, library_name FROM events WHERE project_id = $1 AND type = 2"
        " LIMIT 1", project.project_id,
    )
    assert dict(page) == {"event": "$pageview", "name": "Pricing", "page_url": "https://example.com/pricing",
                          "page_path": "/pricing", "library_name": "trackmint-python"}


async def test_async_client_events_arrive_with_their_properties(ingest_server, processor, project, db):
    async with AsyncClient(project.write_key, f"127.0.0.1:{ingest_server.port}") as client:
        message_id = client.track("Order Completed", user_id="user-7", properties={"total": 99.9, "items": [1, 2]})
        assert await client.flush(10)
    assert await wait_for_stored(db, project.project_id, 1) == 1
    row = await db.fetchrow("SELECT message_id, user_id, properties::text FROM events WHERE project_id = $1",
                            project.project_id)
    assert (row["message_id"], row["user_id"]) == (message_id, "user-7")
    assert json.loads(row["properties"]) == {"total": 99.9, "items": [1, 2]}
