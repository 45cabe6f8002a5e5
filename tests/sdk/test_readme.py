"""The README's quick starts run as written against a real pipeline, so the usage it shows stays true."""

import asyncio
import re
from pathlib import Path

from tests.polling import wait_for_stored
from tests.sdk.stored import stored_events
from trackmint.v1 import event_pb2

README = Path(__file__).parents[2] / "sdk" / "python" / "README.md"


def quick_start(heading: str, write_key: str, port: int) -> str:
    """The first python block after `heading`, pointed at the test's server."""
    text = README.read_text()
    section = text[text.index(heading):]
    code = re.search(r"```python\n(.*?)```", section, re.DOTALL)
    assert code is not None, heading
    return code.group(1).replace('"tm_live_..."', repr(write_key)).replace('"localhost:50051"', f'"127.0.0.1:{port}"')


def kinds(rows) -> list[int]:
    return sorted(row["type"] for row in rows.values())


ALL_SIX = sorted([event_pb2.EVENT_TYPE_PAGE, event_pb2.EVENT_TYPE_SCREEN, event_pb2.EVENT_TYPE_IDENTIFY,
                  event_pb2.EVENT_TYPE_TRACK, event_pb2.EVENT_TYPE_GROUP, event_pb2.EVENT_TYPE_ALIAS])


async def test_the_sync_quick_start_sends_all_six_calls(ingest_server, processor, project, db):
    code = quick_start("## Quick start (threads", project.write_key, ingest_server.port)

    await asyncio.to_thread(exec, code, {})

    assert await wait_for_stored(db, project.project_id, 6) == 6
    rows = await stored_events(db, project.project_id)
    assert kinds(rows) == ALL_SIX
    alias = next(row for row in rows.values() if row["type"] == event_pb2.EVENT_TYPE_ALIAS)
    assert (alias["previous_id"], alias["user_id"]) == ("legacy-user-17", "user-42")


async def test_the_asyncio_quick_start_sends_all_six_calls(ingest_server, processor, project, db):
    namespace: dict = {}
    exec(quick_start("## Quick start (asyncio)", project.write_key, ingest_server.port), namespace)

    await namespace["main"]()

    assert await wait_for_stored(db, project.project_id, 6) == 6
    rows = await stored_events(db, project.project_id)
    assert kinds(rows) == ALL_SIX
    page = next(row for row in rows.values() if row["type"] == event_pb2.EVENT_TYPE_PAGE)
    assert (page["page_url"], page["page_path"]) == ("https://example.com/docs/install", "/docs/install")
