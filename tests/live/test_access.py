"""Subscriptions are scoped like queries, and end cleanly when the caller's access ends."""

import asyncio
import time
from datetime import UTC, datetime, timedelta

import pytest

from query.auth.tokens import issue_access_token
from storage.members import remove_member, set_member_role
from tests.live.ws_client import bearer, error_codes_of, errors_of, graphql_websocket
from tests.query.graphql_client import TRENDS, error_codes, execute
from tests.query.tenant import add_member, create_organization, create_owned_project

FEED = "subscription($p: ID!) { liveEvents(projectId: $p) { missed events { messageId } } }"
LIVE_TRENDS = """
subscription($p: ID!, $range: DateRangeInput!) {
  liveTrends(projectId: $p, series: [{event: null, math: TOTAL}], interval: DAY, dateRange: $range) { label }
}"""


def _range() -> dict[str, str]:
    now = datetime.now(UTC)
    return {"from": (now - timedelta(days=1)).isoformat(), "to": (now + timedelta(days=1)).isoformat()}


async def _refusal(query_url: str, payload: dict | None, document: str, **variables) -> dict:
    """The one message answering a refused subscription, after which the operation is over."""
    async with graphql_websocket(query_url, payload) as ws:
        await ws.subscribe(document, **variables)
        message = await ws.receive()
        if message["type"] == "next":
            assert (await ws.receive())["type"] == "complete"
        return message


async def _end_of(ws, within: float = 10) -> dict:
    """The error that ends a running subscription, checking that `complete` follows it."""
    async with asyncio.timeout(within):
        while True:
            message = await ws.receive(within)
            if message["type"] == "next" and "errors" not in message["payload"]:
                continue  # a regular push before the end
            assert message["type"] in ("next", "error"), message
            if message["type"] == "next":
                assert (await ws.receive(within))["type"] == "complete"
            return message


async def test_another_tenants_project_is_refused_with_the_code_queries_give(
    query_url, caller, db, live_settings, graphql
):
    other = await create_organization(db, live_settings, "Other tenant")
    theirs = await create_owned_project(db, other.organization_id, "theirs")

    message = await _refusal(query_url, bearer(caller.access_token), FEED, p=str(theirs.project_id))
    query = await execute(graphql, TRENDS, projectId=str(theirs.project_id),
                          series=[{"event": None, "math": "TOTAL"}], interval="DAY", dateRange=_range())

    assert error_codes_of(message) == error_codes(query) == ["NOT_FOUND"]
    assert errors_of(message)[0]["message"] == query["errors"][0]["message"]


@pytest.mark.parametrize("document", [FEED, LIVE_TRENDS], ids=["feed", "trends"])
async def test_a_subscription_without_a_token_is_refused_as_unauthenticated(query_url, project, document):
    message = await _refusal(query_url, None, document, p=str(project.project_id), range=_range())

    assert error_codes_of(message) == ["UNAUTHENTICATED"]


async def test_an_expired_token_is_refused_saying_it_expired(query_url, project, caller, live_settings):
    expired = issue_access_token(live_settings, caller.user_id, caller.organization_id, caller.role,
                                 now=time.time() - live_settings.access_token_ttl_seconds - 5)

    message = await _refusal(query_url, {"token": expired}, FEED, p=str(project.project_id))

    assert error_codes_of(message) == ["UNAUTHENTICATED"]
    assert "expired" in errors_of(message)[0]["message"]


async def test_a_subscription_ends_when_its_token_expires(query_url, project, caller, live_settings):
    # A token with two seconds left.
    token = issue_access_token(live_settings, caller.user_id, caller.organization_id, caller.role,
                               now=time.time() - live_settings.access_token_ttl_seconds + 2)
    async with graphql_websocket(query_url, bearer(token)) as ws:
        await ws.subscribe(FEED, p=str(project.project_id))
        started = time.monotonic()
        message = await _end_of(ws)

    assert error_codes_of(message) == ["UNAUTHENTICATED"]
    assert 1 <= time.monotonic() - started < 5


@pytest.mark.parametrize("document", [FEED, LIVE_TRENDS], ids=["feed", "trends"])
async def test_a_removed_members_subscription_is_closed(query_url, project, caller, db, live_settings, document):
    member = await add_member(db, live_settings, caller.organization_id, "VIEWER")
    async with graphql_websocket(query_url, bearer(member.access_token)) as ws:
        await ws.subscribe(document, p=str(project.project_id), range=_range())
        if document == LIVE_TRENDS:
            await ws.next_data()  # a chart pushes its result at once; the feed waits for events
        assert await ws.silence(0.5) == []

        assert await remove_member(db, caller.organization_id, member.user_id)
        message = await _end_of(ws)

    assert error_codes_of(message) == ["UNAUTHENTICATED"]
    assert "membership" in errors_of(message)[0]["message"]


async def test_a_subscription_ends_when_the_members_role_changes(query_url, project, caller, db, live_settings):
    member = await add_member(db, live_settings, caller.organization_id, "DEVELOPER")
    async with graphql_websocket(query_url, bearer(member.access_token)) as ws:
        await ws.subscribe(LIVE_TRENDS, p=str(project.project_id), range=_range())
        await ws.next_data()

        await set_member_role(db, caller.organization_id, member.user_id, "VIEWER")
        message = await _end_of(ws)

    assert error_codes_of(message) == ["UNAUTHENTICATED"]
    assert "role changed" in errors_of(message)[0]["message"]


async def test_a_subscription_ends_when_its_project_leaves_the_organization(query_url, caller, db):
    project = await create_owned_project(db, caller.organization_id, "leaving")
    async with graphql_websocket(query_url, bearer(caller.access_token)) as ws:
        await ws.subscribe(FEED, p=str(project.project_id))
        await ws.silence(0.3)

        await db.execute("DELETE FROM projects WHERE id = $1", project.project_id)
        message = await _end_of(ws)

    assert error_codes_of(message) == ["NOT_FOUND"]
