"""Destinations over GraphQL on a real query service: CRUD and roles, validation, test sends, dead letters and
their retry against a real target, secret rotation."""

import asyncio
import time
from collections.abc import AsyncIterator

import asyncpg
import httpx
import pytest

from config import Settings
from storage.projects import CreatedProject
from tests.destinations.conftest import Target, person_events, refused_url, wait_for
from tests.destinations.test_delivery import assert_once_in_order
from tests.query.graphql_client import error_codes, execute
from tests.query.servers import start_server, stop_server
from tests.query.tenant import Caller, add_member, create_organization, create_owned_project
from webhooks.signing import verify

FIELDS = """id projectId name url enabled filter { events properties { key operator value } }
  status { state lastSuccessAt lastFailureAt lastError consecutiveFailures deliveredEvents deadLetters pending }"""
CREATE = f"""mutation($p: ID!, $input: DestinationInput!) {{
  createDestination(projectId: $p, input: $input) {{ secret destination {{ {FIELDS} }} }} }}"""
LIST = f"query($p: ID!) {{ destinations(projectId: $p) {{ {FIELDS} }} }}"
GET = f"query($id: ID!) {{ destination(id: $id) {{ {FIELDS} }} }}"
UPDATE = f"""mutation($id: ID!, $name: String, $url: String, $filter: DestinationFilterInput, $enabled: Boolean) {{
  updateDestination(id: $id, name: $name, url: $url, filter: $filter, enabled: $enabled) {{ {FIELDS} }} }}"""
DELETE = "mutation($id: ID!) { deleteDestination(id: $id) }"
ROTATE = "mutation($id: ID!) { rotateDestinationSecret(id: $id) { secret destination { id } } }"
TEST = "mutation($id: ID!) { testDestination(id: $id) { ok statusCode error } }"
DEAD = """query($id: ID!, $first: Int, $after: ID) { destinationDeadLetters(destinationId: $id, first: $first,
  after: $after) { total nextCursor items { id deliveryId events attempts lastError parkedAt } } }"""
RETRY = """mutation($id: ID!, $ids: [ID!]) { retryDeadLetters(destinationId: $id, ids: $ids) {
  delivered failed remaining error } }"""
FAILURES = """query($id: ID!) { destinationFailures(destinationId: $id, limit: 10) {
  attempt statusCode error deliveryId } }"""


@pytest.fixture
async def query_url(dest_settings: Settings) -> AsyncIterator[str]:
    server, task, url = await start_server(dest_settings)
    try:
        yield url
    finally:
        await stop_server(server, task)


@pytest.fixture
async def graphql(query_url: str, caller: Caller) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=query_url, timeout=30, headers=caller.headers) as http:
        yield http


async def create(graphql: httpx.AsyncClient, project: CreatedProject, url: str, **input: object) -> dict:
    body = await execute(graphql, CREATE, p=str(project.project_id), input={"name": "Warehouse", "url": url, **input})
    assert "errors" not in body, body
    return body["data"]["createDestination"]


async def test_create_list_update_and_delete(graphql: httpx.AsyncClient, project: CreatedProject):
    created = await create(graphql, project, "https://example.com/hooks/trackmint-secret-path",
                           filter={"events": ["purchase"], "properties": [
                               {"key": "plan", "operator": "EQ", "value": "pro"}]})
    assert created["secret"].startswith("whsec_") and len(created["secret"]) == 70
    destination = created["destination"]
    assert destination["url"] == "https://example.com/…path"  # masked: the path may be the receiver's secret
    assert destination["status"]["state"] == "WAITING" and destination["enabled"] is True
    assert destination["filter"] == {"events": ["purchase"],
                                     "properties": [{"key": "plan", "operator": "EQ", "value": "pro"}]}
    listed = await execute(graphql, LIST, p=str(project.project_id))
    assert [item["id"] for item in listed["data"]["destinations"]] == [destination["id"]]
    updated = await execute(graphql, UPDATE, id=destination["id"], name="Renamed", enabled=False,
                            filter={"events": [], "properties": []})
    assert updated["data"]["updateDestination"]["name"] == "Renamed"
    assert updated["data"]["updateDestination"]["status"]["state"] == "PAUSED"
    assert updated["data"]["updateDestination"]["filter"]["events"] == []
    assert (await execute(graphql, DELETE, id=destination["id"]))["data"]["deleteDestination"] is True
    missing = await execute(graphql, GET, id=destination["id"])
    assert error_codes(missing) == ["NOT_FOUND"]


@pytest.mark.parametrize(("input", "message"), [
    ({"url": "ftp://example.com/x"}, "http:// or https://"),
    ({"url": "https://"}, "not a URL with a host"),
    ({"url": "https://example.com/" + "x" * 2000}, "at most 2000"),
    ({"name": "  "}, "name must be 1 to 200"),
    ({"filter": {"events": [f"e{i}" for i in range(51)]}}, "at most 50 names"),
    ({"filter": {"events": [""]}}, "each name must be 1 to"),
    ({"filter": {"properties": [{"key": f"k{i}", "operator": "IS_SET"} for i in range(21)]}}, "at most 20"),
    ({"filter": {"properties": [{"key": "total", "operator": "GT", "value": "ten"}]}}, "needs a number"),
    ({"filter": {"properties": [{"key": "plan", "operator": "EQ", "value": "x", "type": "PERSON"}]}},
     "only EVENT properties"),
])
async def test_bad_input_is_refused_with_a_clear_error(graphql: httpx.AsyncClient, project: CreatedProject,
                                                       input: dict, message: str):
    body = await execute(graphql, CREATE, p=str(project.project_id),
                         input={"name": "Hook", "url": "https://example.com/hook", **input})
    assert error_codes(body) == ["BAD_USER_INPUT"], body
    assert message in body["errors"][0]["message"]


async def test_an_unknown_operator_is_refused(graphql: httpx.AsyncClient, project: CreatedProject):
    body = await execute(graphql, CREATE, p=str(project.project_id), input={
        "name": "Hook", "url": "https://example.com/hook",
        "filter": {"properties": [{"key": "plan", "operator": "REGEX", "value": "x"}]}})
    assert error_codes(body) == ["BAD_USER_INPUT"]


async def test_a_project_has_at_most_twenty_destinations(graphql: httpx.AsyncClient, project: CreatedProject):
    for _ in range(20):
        await create(graphql, project, "https://example.com/hook")
    body = await execute(graphql, CREATE, p=str(project.project_id),
                         input={"name": "One too many", "url": "https://example.com/hook"})
    assert error_codes(body) == ["BAD_USER_INPUT"] and "at most 20" in body["errors"][0]["message"]


async def test_a_viewer_may_neither_see_nor_manage_destinations(
    graphql: httpx.AsyncClient, query_url: str, db: asyncpg.Connection, settings: Settings, caller: Caller,
    project: CreatedProject
):
    destination = (await create(graphql, project, "https://example.com/hook"))["destination"]
    viewer = await add_member(db, settings, caller.organization_id, "VIEWER")
    developer = await add_member(db, settings, caller.organization_id, "DEVELOPER")
    async with httpx.AsyncClient(base_url=query_url, timeout=30, headers=viewer.headers) as as_viewer:
        for query, variables in [
            (LIST, {"p": str(project.project_id)}), (GET, {"id": destination["id"]}),
            (CREATE, {"p": str(project.project_id), "input": {"name": "x", "url": "https://example.com/"}}),
            (UPDATE, {"id": destination["id"], "enabled": False}), (DELETE, {"id": destination["id"]}),
            (ROTATE, {"id": destination["id"]}), (TEST, {"id": destination["id"]}),
            (DEAD, {"id": destination["id"]}), (RETRY, {"id": destination["id"]}),
        ]:
            assert error_codes(await execute(as_viewer, query, **variables)) == ["FORBIDDEN"], query
        me = await execute(as_viewer, "{ me { sections } }")
        assert "destinations" not in me["data"]["me"]["sections"]
    async with httpx.AsyncClient(base_url=query_url, timeout=30, headers=developer.headers) as as_developer:
        listed = await execute(as_developer, LIST, p=str(project.project_id))
        assert [item["id"] for item in listed["data"]["destinations"]] == [destination["id"]]
        me = await execute(as_developer, "{ me { sections } }")
        assert "destinations" in me["data"]["me"]["sections"]


async def test_another_organization_gets_not_found(
    graphql: httpx.AsyncClient, query_url: str, db: asyncpg.Connection, settings: Settings, project: CreatedProject
):
    destination = (await create(graphql, project, "https://example.com/hook"))["destination"]
    other = await create_organization(db, settings, "Other")
    await create_owned_project(db, other.organization_id, "theirs")
    async with httpx.AsyncClient(base_url=query_url, timeout=30, headers=other.headers) as as_other:
        for query, variables in [
            (LIST, {"p": str(project.project_id)}), (GET, {"id": destination["id"]}),
            (CREATE, {"p": str(project.project_id), "input": {"name": "x", "url": "https://example.com/"}}),
            (UPDATE, {"id": destination["id"], "enabled": False}), (DELETE, {"id": destination["id"]}),
            (ROTATE, {"id": destination["id"]}), (TEST, {"id": destination["id"]}),
            (DEAD, {"id": destination["id"]}), (RETRY, {"id": destination["id"]}),
        ]:
            assert error_codes(await execute(as_other, query, **variables)) == ["NOT_FOUND"], query
    assert (await execute(graphql, GET, id=destination["id"]))["data"]["destination"]["enabled"] is True


async def test_test_destination_sends_a_signed_sample_and_reports_a_failure(
    graphql: httpx.AsyncClient, project: CreatedProject, target: Target
):
    created = await create(graphql, project, f"{target.url}/hook")
    tested = await execute(graphql, TEST, id=created["destination"]["id"])
    assert tested["data"]["testDestination"] == {"ok": True, "statusCode": 200, "error": None}
    [post] = target.accepted("/hook")
    assert verify(created["secret"], post.headers["x-trackmint-signature"], post.body, int(time.time()))
    assert post.json["test"] is True and post.json["events"][0]["event"] == "TrackMint Test"
    refused = await create(graphql, project, refused_url())
    failed = (await execute(graphql, TEST, id=refused["destination"]["id"]))["data"]["testDestination"]
    assert failed["ok"] is False and "ConnectError" in failed["error"] and failed["statusCode"] is None
    target.mode["/hook"] = "down"
    failed = (await execute(graphql, TEST, id=created["destination"]["id"]))["data"]["testDestination"]
    assert failed == {"ok": False, "statusCode": 503, "error": failed["error"]} and "HTTP 503" in failed["error"]


async def test_dead_letters_are_listed_and_retried_in_their_original_order_once_the_target_is_back(
    graphql: httpx.AsyncClient, project: CreatedProject, target: Target, publish, start_replica
):
    created = await create(graphql, project, f"{target.url}/hook")
    destination_id = created["destination"]["id"]
    target.mode["/hook"] = "down"
    await start_replica()
    sent = person_events(persons=2, per_person=3)

    async def dead_letters() -> dict:
        return (await execute(graphql, DEAD, id=destination_id, first=200))["data"]["destinationDeadLetters"]

    for count, event in enumerate(sent, start=1):  # one at a time, so one batch and one dead letter per event
        await publish(project.project_id, [event])
        await wait_for(lambda count=count: _total_is(dead_letters(), count), within=30)
    status = (await execute(graphql, GET, id=destination_id))["data"]["destination"]["status"]
    assert status["state"] == "FAILING" and status["deadLetters"] == len(sent) and "HTTP 503" in status["lastError"]
    failures = (await execute(graphql, FAILURES, id=destination_id))["data"]["destinationFailures"]
    assert len(failures) == 10 and all(item["statusCode"] == 503 for item in failures)
    # pages, oldest first
    first_page = (await execute(graphql, DEAD, id=destination_id, first=4))["data"]["destinationDeadLetters"]
    second_page = (await execute(graphql, DEAD, id=destination_id, first=4, after=first_page["nextCursor"]))
    rest = second_page["data"]["destinationDeadLetters"]
    assert len(first_page["items"]) == 4 and len(rest["items"]) == 2 and rest["nextCursor"] is None
    ordered = [item["id"] for item in first_page["items"] + rest["items"]]
    assert ordered == sorted(ordered, key=int) and first_page["total"] == len(sent)
    assert all(item["attempts"] == 5 for item in first_page["items"])
    bad = await execute(graphql, DEAD, id=destination_id, first=0)
    assert error_codes(bad) == ["BAD_USER_INPUT"]

    # still down: the retry stops at the first failure and keeps them all
    retried = (await execute(graphql, RETRY, id=destination_id))["data"]["retryDeadLetters"]
    assert retried["delivered"] == 0 and retried["failed"] == 1 and retried["remaining"] == len(sent)
    # back: one chosen first, then the rest in their original order
    target.mode.clear()
    one = (await execute(graphql, RETRY, id=destination_id, ids=[ordered[2]]))["data"]["retryDeadLetters"]
    assert one == {"delivered": 1, "failed": 0, "remaining": len(sent) - 1, "error": None}
    retried = (await execute(graphql, RETRY, id=destination_id))["data"]["retryDeadLetters"]
    assert retried == {"delivered": len(sent) - 1, "failed": 0, "remaining": 0, "error": None}
    received = target.events("/hook")
    assert received[0]["messageId"] == sent[2].message_id
    assert [event["messageId"] for event in received[1:]] == [e.message_id for i, e in enumerate(sent) if i != 2]
    assert_once_in_order(received[1:], [e for i, e in enumerate(sent) if i != 2])
    # each retried letter went with the delivery id it was parked with
    parked_ids = {item["deliveryId"] for item in first_page["items"] + rest["items"]}
    assert {post.json["deliveryId"] for post in target.accepted("/hook")} == parked_ids
    assert (await dead_letters())["total"] == 0
    assert error_codes(await execute(graphql, RETRY, id=destination_id, ids=["x"])) == ["BAD_USER_INPUT"]


async def _total_is(page, expected: int) -> bool:
    return (await page)["total"] == expected


async def test_a_rotated_secret_signs_the_next_deliveries(
    graphql: httpx.AsyncClient, project: CreatedProject, target: Target, publish, start_replica
):
    created = await create(graphql, project, f"{target.url}/hook")
    destination_id = created["destination"]["id"]
    rotated = (await execute(graphql, ROTATE, id=destination_id))["data"]["rotateDestinationSecret"]
    assert rotated["secret"] != created["secret"] and rotated["secret"].startswith("whsec_")
    await start_replica()
    await publish(project.project_id, person_events(persons=1, per_person=1))
    await wait_for(lambda: target.accepted("/hook"))
    [post] = target.accepted("/hook")
    header = post.headers["x-trackmint-signature"]
    assert verify(rotated["secret"], header, post.body, int(time.time()))
    assert not verify(created["secret"], header, post.body, int(time.time()))
    status = (await execute(graphql, GET, id=destination_id))["data"]["destination"]["status"]
    assert status["state"] == "HEALTHY" and status["deliveredEvents"] == 1


async def test_a_destination_deleted_over_graphql_receives_nothing_more(
    graphql: httpx.AsyncClient, project: CreatedProject, target: Target, publish, start_replica
):
    created = await create(graphql, project, f"{target.url}/hook")
    await start_replica()
    await publish(project.project_id, person_events(persons=1, per_person=1))
    await wait_for(lambda: target.accepted("/hook"))
    await execute(graphql, DELETE, id=created["destination"]["id"])
    await asyncio.sleep(0.5)
    await publish(project.project_id, person_events(persons=1, per_person=1))
    await asyncio.sleep(1.0)
    assert len(target.accepted("/hook")) == 1


async def test_list_arguments_out_of_range_are_refused(graphql: httpx.AsyncClient, project: CreatedProject):
    destination_id = (await create(graphql, project, "https://example.com/hook"))["destination"]["id"]
    for query, variables in [
        (DEAD, {"id": destination_id, "first": 201}),
        (DEAD, {"id": destination_id, "after": "not-a-cursor"}),
        (RETRY, {"id": destination_id, "ids": [str(number) for number in range(101)]}),
        (RETRY, {"id": destination_id, "ids": []}),
        ("query($id: ID!) { destinationFailures(destinationId: $id, limit: 101) { at } }", {"id": destination_id}),
        (GET, {"id": "not-a-uuid"}),
    ]:
        assert error_codes(await execute(graphql, query, **variables)) == ["BAD_USER_INPUT"], (query, variables)
