"""Who may export what, download tokens, and refused input: JSON bodies with the status of their code."""

import time
from datetime import UTC, datetime

import asyncpg
import httpx
import jwt
import pytest

from config import Settings
from query.auth.tokens import issue_access_token
from query.exports.downloads import DOWNLOAD_TOKEN_TYPE
from storage.projects import CreatedProject
from tests.query.tenant import Caller, add_member, create_organization, create_owned_project

RANGE = {"from": "2026-01-01T00:00:00Z", "to": "2026-02-01T00:00:00Z"}


def _refused(response: httpx.Response, status: int, code: str, says: str = "") -> None:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/json"
    body = response.json()
    assert body["code"] == code and says in body["message"], body


async def test_every_export_needs_a_valid_access_token(query_url: str, project: CreatedProject, caller: Caller,
                                                       query_settings: Settings):
    params = {"projectId": str(project.project_id), **RANGE}
    expired = issue_access_token(query_settings, caller.user_id, caller.organization_id, "ADMIN",
                                 now=time.time() - 3600)
    async with httpx.AsyncClient(base_url=query_url) as anonymous:
        _refused(await anonymous.get("/export/events.csv", params=params), 401, "UNAUTHENTICATED", "authentication")
        _refused(await anonymous.get("/export/persons.csv", params=params,
                                     headers={"authorization": f"Bearer {expired}"}), 401, "UNAUTHENTICATED", "expired")
        _refused(await anonymous.post("/export/trends.csv", json={"projectId": str(project.project_id)},
                                      headers={"authorization": "Basic abc"}), 401, "UNAUTHENTICATED", "Bearer")
        # An access token is not a download token.
        _refused(await anonymous.get("/export/events.csv", params={**params, "token": caller.access_token}),
                 401, "UNAUTHENTICATED", "download token invalid")


async def test_another_organizations_project_is_not_found(client: httpx.AsyncClient, db: asyncpg.Connection,
                                                          query_settings: Settings):
    other = await create_organization(db, query_settings, "Other tenant")
    theirs = await create_owned_project(db, other.organization_id, "theirs")
    params = {"projectId": str(theirs.project_id), **RANGE}
    _refused(await client.get("/export/events.csv", params=params), 404, "NOT_FOUND", "no project")
    _refused(await client.get("/export/persons.csv", params=params), 404, "NOT_FOUND", "no project")
    _refused(await client.post("/export/download-token", json={"projectId": str(theirs.project_id),
                                                               "export": "events"}), 404, "NOT_FOUND")
    _refused(await client.post("/export/trends.csv", json={
        "projectId": str(theirs.project_id), "series": [{"math": "TOTAL"}], "interval": "DAY",
        "dateRange": RANGE}), 404, "NOT_FOUND", "no project")
    # Their own caller reads it.
    async with httpx.AsyncClient(base_url=str(client.base_url), headers=other.headers) as owner:
        assert (await owner.get("/export/events.csv", params=params)).status_code == 200


async def test_a_viewer_may_export(client: httpx.AsyncClient, db: asyncpg.Connection, caller: Caller,
                                   project: CreatedProject, query_settings: Settings):
    viewer = await add_member(db, query_settings, caller.organization_id, "VIEWER")
    response = await client.get("/export/events.csv", headers=viewer.headers,
                                params={"projectId": str(project.project_id), **RANGE})
    assert response.status_code == 200 and response.text.startswith("messageId,timestamp,")
    response = await client.post("/export/activeUsers.csv", headers=viewer.headers,
                                 json={"projectId": str(project.project_id), "dateRange": RANGE})
    assert response.status_code == 200 and len(response.text.splitlines()) == 32


async def test_a_download_token_opens_one_export_of_one_project_briefly(
    client: httpx.AsyncClient, db: asyncpg.Connection, caller: Caller, project: CreatedProject,
    query_settings: Settings,
):
    other = await create_owned_project(db, caller.organization_id, "other")
    answer = await client.post("/export/download-token", json={"projectId": str(project.project_id),
                                                               "export": "persons"})
    assert answer.status_code == 200 and answer.json()["expiresInSeconds"] == 60
    token = answer.json()["token"]
    async with httpx.AsyncClient(base_url=str(client.base_url)) as browser:
        link = await browser.get("/export/persons.csv", params={"projectId": str(project.project_id), "token": token})
        assert link.status_code == 200 and link.text.startswith("id,distinctIds,traits,")
        _refused(await browser.get("/export/persons.csv", params={"projectId": str(other.project_id),
                                                                  "token": token}), 401, "UNAUTHENTICATED")
        _refused(await browser.get("/export/events.csv", params={"projectId": str(project.project_id),
                                                                 "token": token, **RANGE}), 401, "UNAUTHENTICATED")
        # It is no access token: GraphQL refuses it.
        refused = await browser.post("/graphql", json={"query": "{ projects { id } }"},
                                     headers={"authorization": f"Bearer {token}"})
        assert refused.json()["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
        # Analytics exports are POSTs sent with the Authorization header; a token in the URL does not open them.
        _refused(await browser.post(f"/export/trends.csv?token={token}", json={
            "projectId": str(project.project_id)}), 401, "UNAUTHENTICATED")
        now = int(time.time())
        expired = jwt.encode({"sub": str(caller.user_id), "org": str(caller.organization_id), "role": "ADMIN",
                              "prj": str(project.project_id), "exp_kind": "persons", "iat": now - 120,
                              "exp": now - 60, "typ": DOWNLOAD_TOKEN_TYPE}, query_settings.secret_key)
        _refused(await browser.get("/export/persons.csv", params={"projectId": str(project.project_id),
                                                                  "token": expired}), 401, "UNAUTHENTICATED", "expired")
    _refused(await client.post("/export/download-token", json={"projectId": str(project.project_id),
                                                               "export": "trends"}), 400, "BAD_USER_INPUT")


@pytest.mark.parametrize(("params", "says"), [
    ({"from": "yesterday", "to": RANGE["to"]}, "not an ISO 8601 time"),
    ({"from": "2026-01-01T00:00:00", "to": RANGE["to"]}, "UTC offset"),
    ({"to": RANGE["to"]}, "from is required"),
    ({"from": RANGE["to"], "to": RANGE["from"]}, "must be after"),
    ({"from": "2020-01-01T00:00:00Z", "to": "2026-01-01T00:00:00Z"}, "at most 732 days"),
    ({**RANGE, "includeBots": "maybe"}, "includeBots"),
    ({"from": "0001-01-01T00:00:00+01:00", "to": RANGE["to"]}, "out of range"),
    ({**RANGE, "event": "sign\x00up"}, "event may not contain NUL"),
])
async def test_bad_event_export_arguments_are_400(client: httpx.AsyncClient, project: CreatedProject,
                                                  params: dict, says: str):
    response = await client.get("/export/events.csv", params={"projectId": str(project.project_id), **params})
    _refused(response, 400, "BAD_USER_INPUT", says)


async def test_bad_analytics_export_requests_are_refused(client: httpx.AsyncClient, project: CreatedProject):
    project_id = str(project.project_id)
    trends = {"projectId": project_id, "series": [{"math": "TOTAL"}], "interval": "DAY", "dateRange": RANGE}
    _refused(await client.post("/export/trends.csv", json={**trends, "interval": "FORTNIGHT"}), 400,
             "BAD_USER_INPUT", "FORTNIGHT")
    _refused(await client.post("/export/trends.csv", json={**trends, "colour": "red"}), 400, "BAD_USER_INPUT",
             "unknown variables for trends: colour")
    _refused(await client.post("/export/trends.csv", json={**trends, "dateRange": {"from": RANGE["to"],
                                                                                   "to": RANGE["from"]}}),
             400, "BAD_USER_INPUT", "must be after")
    _refused(await client.post("/export/trends.csv", content=b"[1, 2"), 400, "BAD_USER_INPUT", "JSON object")
    _refused(await client.post("/export/trends.csv", json={"series": []}), 400, "BAD_USER_INPUT", "projectId")
    _refused(await client.post("/export/cohorts.csv", json=trends), 404, "NOT_FOUND", "no export cohorts.csv")
    _refused(await client.get("/export/nothing-here"), 404, "NOT_FOUND")
    _refused(await client.get("/export/persons.csv", params={"projectId": "not-a-uuid"}), 400, "BAD_USER_INPUT")
    _refused(await client.get("/export/persons.csv", params={"projectId": project_id, "search": "x" * 201}), 400,
             "BAD_USER_INPUT", "search")
    _refused(await client.get("/export/persons.csv", params={"projectId": project_id, "search": "a\x00b"}), 400,
             "BAD_USER_INPUT", "search may not contain NUL")
    _refused(await client.post("/export/download-token", json={"projectId": project_id, "export": ["events"]}), 400,
             "BAD_USER_INPUT", "export must be one of")
    ok = await client.post("/export/trends.csv", json=trends)
    assert ok.status_code == 200
    assert ok.text.splitlines()[0] == "series,label,breakdownValue,isOther,compare,bucket,value"
    assert len(ok.text.splitlines()) == 32
    assert datetime.fromisoformat(ok.text.splitlines()[1].split(",")[5]) == datetime(2026, 1, 1, tzinfo=UTC)
