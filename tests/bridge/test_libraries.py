"""Segment's and RudderStack's official Python libraries, unchanged, pointed at the bridge.

Their events are stored and read back through the GraphQL `events` query as
the project's organization sees them.
"""

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from storage.projects import CreatedProject
from tests.polling import wait_for_stored
from tests.query.graphql_client import EVENTS, execute
from tests.query.servers import start_server, stop_server
from tests.query.tenant import Caller, create_organization, create_owned_project


@pytest.fixture
async def caller(db, settings) -> Caller:
    return await create_organization(db, settings, "Bridge libraries")


@pytest.fixture
async def owned_project(db, caller: Caller) -> CreatedProject:
    return await create_owned_project(db, caller.organization_id, "libraries")


@pytest.fixture
async def graphql(settings, caller: Caller) -> AsyncIterator[httpx.AsyncClient]:
    server, task, url = await start_server(settings)
    try:
        async with httpx.AsyncClient(base_url=url, timeout=30, headers=caller.headers) as client:
            yield client
    finally:
        await stop_server(server, task)


async def _events(graphql: httpx.AsyncClient, project_id) -> list[dict[str, Any]]:
    body = await execute(graphql, EVENTS, projectId=str(project_id), first=100)
    assert "errors" not in body, body
    return [edge["node"] for edge in body["data"]["events"]["edges"]]


def _use_segment(write_key: str, host: str, errors: list) -> None:
    from segment.analytics import Client

    sync = Client(write_key, host=host, sync_mode=True, on_error=lambda error, batch: errors.append(error))
    sync.track("user-1", "Order Completed", {"revenue": 42.5, "items": 3})
    sync.identify("user-1", {"email": "ada@example.com", "plan": "pro"})
    sync.page("user-1", "Docs", "Quick start", {"url": "https://example.com/docs"})
    # The default client batches in a background thread (gzip on): the /v1/batch path.
    batching = Client(write_key, host=host, gzip=True, upload_interval=0.05,
                      on_error=lambda error, batch: errors.append(error))
    for index in range(25):
        batching.track(anonymous_id=f"anon-{index}", event="Viewed Item", properties={"index": index})
    batching.flush()
    batching.join()


async def test_segment_analytics_python_works_unchanged(bridge_url, owned_project, processor, db, graphql):
    errors: list = []
    await asyncio.to_thread(_use_segment, owned_project.write_key, bridge_url, errors)
    assert errors == []
    assert await wait_for_stored(db, owned_project.project_id, 28) == 28
    events = await _events(graphql, owned_project.project_id)
    by_type: dict[str, list[dict[str, Any]]] = {}
    for event in events:
        by_type.setdefault(event["type"], []).append(event)
    assert {kind: len(found) for kind, found in by_type.items()} == {"TRACK": 26, "IDENTIFY": 1, "PAGE": 1}
    order = next(event for event in by_type["TRACK"] if event["name"] == "Order Completed")
    assert order["userId"] == "user-1" and order["properties"] == {"revenue": 42.5, "items": 3}
    assert order["context"]["library"]["name"] == "analytics-python"
    assert by_type["PAGE"][0]["name"] == "Quick start"
    assert sorted(event["properties"]["index"] for event in by_type["TRACK"] if event["anonymousId"]) == list(
        range(25))


def _use_rudder(write_key: str, host: str, errors: list) -> None:
    from rudderstack.analytics import Client

    client = Client(write_key, host=host, gzip=True, upload_interval=0.05,
                    on_error=lambda error, batch: errors.append(error))
    client.track("user-7", "Trial Started", {"days": 14})
    client.identify("user-7", {"name": "Grace"})
    client.group("user-7", "org-3", {"seats": 10})
    client.alias("anon-7", "user-7")
    client.screen("user-7", "Settings")
    client.flush()
    client.join()


async def test_rudder_sdk_python_works_unchanged(bridge_url, owned_project, processor, db, graphql):
    errors: list = []
    await asyncio.to_thread(_use_rudder, owned_project.write_key, bridge_url, errors)
    assert errors == []
    assert await wait_for_stored(db, owned_project.project_id, 5) == 5
    events = await _events(graphql, owned_project.project_id)
    assert sorted(event["type"] for event in events) == ["ALIAS", "GROUP", "IDENTIFY", "SCREEN", "TRACK"]
    trial = next(event for event in events if event["type"] == "TRACK")
    assert trial["name"] == "Trial Started" and trial["properties"] == {"days": 14}


async def test_segment_library_reports_refusals_as_api_errors(bridge_url, owned_project):
    from segment.analytics import Client
    from segment.analytics.request import APIError

    errors: list = []
    client = Client("tm_live_" + "0" * 32, host=bridge_url, sync_mode=True, max_retries=0,
                    on_error=lambda error, batch: errors.append(error))

    def send() -> None:
        try:
            client.track("user-1", "Refused")
        except APIError as error:
            errors.append(error)

    await asyncio.to_thread(send)
    assert len(errors) == 1 and errors[0].status == 401 and errors[0].code == "unauthenticated"
