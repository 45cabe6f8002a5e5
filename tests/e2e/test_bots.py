"""Bot traffic is stored and flagged, but analytics leave it out by default."""

import asyncio
from datetime import UTC, datetime, timedelta

from tests.polling import wait_for_stored
from trackmint_sdk import Client

GOOGLEBOT = "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)"
FIREFOX = "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0"

QUERY = """
query($p: ID!, $from: DateTime!, $to: DateTime!) {
  trends(projectId: $p, series: [{event: "$pageview", math: TOTAL}], interval: HOUR,
         dateRange: {from: $from, to: $to}) { points { value } }
  visible: events(projectId: $p) { edges { node { messageId } } }
  all: events(projectId: $p, includeBots: true) { edges { node { enrichment { isBot deviceType } } } }
}"""


async def test_bot_events_are_flagged_and_left_out_of_trends_persons_and_sessions(
    ingest_server, processor, project, db, graphql
):
    start = datetime.now(UTC).replace(minute=0, second=0, microsecond=0) - timedelta(hours=2)
    client = Client(project.write_key, f"127.0.0.1:{ingest_server.port}")
    try:
        for index in range(5):
            agent = GOOGLEBOT if index < 3 else FIREFOX
            client.page("Home", anonymous_id=f"visitor-{index}", timestamp=start + timedelta(minutes=index),
                        context={"userAgent": agent, "page": {"path": "/"}})
        assert await asyncio.to_thread(client.flush, 30)
    finally:
        await asyncio.to_thread(client.close)
    assert await wait_for_stored(db, project.project_id, 5) == 5

    response = await graphql.post("/graphql", json={"query": QUERY, "variables": {
        "p": str(project.project_id), "from": start.isoformat(), "to": (start + timedelta(hours=1)).isoformat(),
    }})
    data = response.json()["data"]
    assert data["trends"][0]["points"] == [{"value": 2}]
    assert len(data["visible"]["edges"]) == 2
    flags = sorted((edge["node"]["enrichment"]["isBot"], edge["node"]["enrichment"]["deviceType"])
                   for edge in data["all"]["edges"])
    assert flags == [(False, "desktop"), (False, "desktop"), (True, "bot"), (True, "bot"), (True, "bot")]
    assert await db.fetchval("SELECT count(*) FROM persons WHERE project_id = $1", project.project_id) == 2
    assert await db.fetchval("SELECT count(*) FROM sessions WHERE project_id = $1", project.project_id) == 2
