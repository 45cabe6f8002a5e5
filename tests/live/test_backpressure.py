"""A slow subscriber costs bounded memory: its inbox keeps the newest notices and it is told what it missed."""

import asyncio
import uuid
from collections.abc import AsyncIterator

import nats
import pytest

from config import Settings
from messaging.live import LiveEvent, encode_notice
from messaging.names import Names
from query.live.hub import LiveHub
from tests.live.conftest import wait_until_live
from tests.live.ws_client import bearer, graphql_websocket
from tests.polling import eventually
from tests.query.servers import start_server, stop_server

INBOX_SIZE = 8
NOTICES = 600
EVENTS_PER_NOTICE = 10
FEED = "subscription($p: ID!) { liveEvents(projectId: $p) { missed events { messageId properties } } }"


@pytest.fixture
async def server(live_settings: Settings, jetstream, caller, project) -> AsyncIterator[tuple[str, LiveHub]]:
    """A query service with small inboxes, and its hub (the lifespan state uvicorn keeps)."""
    settings = live_settings.model_copy(update={"live_inbox_size": INBOX_SIZE})
    running, task, url = await start_server(settings)
    try:
        await wait_until_live(url, caller, project)
        yield url, running.lifespan.state["live"]
    finally:
        await stop_server(running, task)


def _notice(project_id: str) -> bytes:
    # About 4 KB per event: the largest properties a notice carries.
    properties = {f"key{index}": "x" * 200 for index in range(16)}
    events = [
        LiveEvent(message_id=str(uuid.uuid4()), event="flood", distinct_id="d", person_id=None,
                  timestamp_us=0, is_bot=False, properties=properties)
        for _ in range(EVENTS_PER_NOTICE)
    ]
    return encode_notice(project_id, 0.0, events)


async def test_a_subscriber_that_stops_reading_holds_a_bounded_inbox_and_learns_what_it_missed(
    server, caller, project, live_settings
):
    url, hub = server
    project_id = str(project.project_id)
    publisher = await nats.connect(live_settings.nats_url)
    # max_queue=1: the client stops reading its socket as soon as one message waits, like a stalled browser tab.
    async with graphql_websocket(url, bearer(caller.access_token), max_queue=1) as ws:
        await ws.subscribe(FEED, p=project_id)
        await asyncio.sleep(0.3)
        subject = Names(live_settings.nats_namespace).live_subject(project_id)
        for _ in range(NOTICES):
            await publisher.publish(subject, _notice(project_id))
        await publisher.flush()

        async def delivered() -> int:
            return hub.stats.notices

        assert await eventually(delivered, lambda count: count >= NOTICES, within=20) == NOTICES

        (inbox,) = [inbox for inbox in hub.inboxes() if inbox.project_id == project_id]
        assert len(inbox) <= INBOX_SIZE
        assert inbox.dropped_notices > 0

        # The client reads again: every event either arrives or is counted as missed, exactly once.
        received = missed = 0
        async with asyncio.timeout(30):
            while received + missed < NOTICES * EVENTS_PER_NOTICE:
                batch = (await ws.next_data())["liveEvents"]
                received += len(batch["events"])
                missed += batch["missed"]
    await publisher.close()

    assert missed > 0
    assert received + missed == NOTICES * EVENTS_PER_NOTICE
