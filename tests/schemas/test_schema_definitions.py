"""Defining event schemas through GraphQL: checks on the schema itself, roles, and tenant isolation."""

import httpx
import pytest

from tests.query.graphql_client import error_codes, execute
from tests.query.tenant import add_member, create_organization
from tests.schemas.graphql import (
    DEFINITIONS,
    DELETE,
    PRICE_SCHEMA,
    REJECTED,
    REPLAY,
    SCHEMAS,
    define,
)


async def test_define_list_replace_and_delete(project, client):
    created = await define(client, project.project_id, " purchase ", PRICE_SCHEMA, "REJECT")
    assert created["data"]["defineEventSchema"]["event"] == "purchase"
    assert created["data"]["defineEventSchema"]["jsonSchema"] == PRICE_SCHEMA
    replaced = await define(client, project.project_id, "purchase", {"type": "object"}, "WARN")
    assert replaced["data"]["defineEventSchema"]["mode"] == "WARN"

    listed = await execute(client, SCHEMAS, projectId=str(project.project_id))
    assert listed["data"]["eventSchemas"] == [{"event": "purchase", "jsonSchema": {"type": "object"}, "mode": "WARN"}]

    deleted = await execute(client, DELETE, projectId=str(project.project_id), event="purchase")
    assert deleted["data"]["deleteEventSchema"] is True
    again = await execute(client, DELETE, projectId=str(project.project_id), event="purchase")
    assert error_codes(again) == ["NOT_FOUND"]


@pytest.mark.parametrize(("schema", "problem"), [
    ({"type": "nope"}, "Unknown type"),
    ({"properties": {"code": {"type": "string", "pattern": "("}}}, "missing )"),
    ({"$ref": "https://schemas.example/price.json"}, "remote $ref"),
    ([{"type": "object"}], "must be a JSON object"),
    ({"type": "object", "description": "x" * 70_000}, "larger than"),
])
async def test_an_invalid_schema_is_bad_user_input_naming_the_problem(project, client, schema, problem):
    body = await define(client, project.project_id, "purchase", schema, "REJECT")
    assert error_codes(body) == ["BAD_USER_INPUT"]
    assert problem in body["errors"][0]["message"]
    listed = await execute(client, SCHEMAS, projectId=str(project.project_id))
    assert listed["data"]["eventSchemas"] == []


async def test_an_empty_event_name_is_bad_user_input(project, client):
    assert error_codes(await define(client, project.project_id, "  ", PRICE_SCHEMA, "OFF")) == ["BAD_USER_INPUT"]


async def test_event_names_with_a_nul_are_refused_with_a_code_not_an_unexpected_error(project, client):
    # Found by tests/fuzz: PostgreSQL refused the NUL and the caller got a masked "Unexpected error." (no code).
    projected = str(project.project_id)
    assert error_codes(await define(client, project.project_id, "a\x00", PRICE_SCHEMA, "OFF")) == ["BAD_USER_INPUT"]
    assert error_codes(await execute(client, DELETE, projectId=projected, event="a\x00")) == ["NOT_FOUND"]
    for arguments in ({"event": "a\x00"}, {"code": "\x00"}):
        assert error_codes(await execute(client, REJECTED, projectId=projected, **arguments)) == ["BAD_USER_INPUT"]


async def test_a_viewer_reads_but_cannot_define_delete_or_replay(project, client, db, settings, query_url):
    await define(client, project.project_id, "purchase", PRICE_SCHEMA, "REJECT")
    viewer = await add_member(db, settings, (await _organization(db, project.project_id)), "VIEWER")
    async with httpx.AsyncClient(base_url=query_url, headers=viewer.headers) as as_viewer:
        assert error_codes(await define(as_viewer, project.project_id, "purchase", {}, "OFF")) == ["FORBIDDEN"]
        deleted = await execute(as_viewer, DELETE, projectId=str(project.project_id), event="purchase")
        assert error_codes(deleted) == ["FORBIDDEN"]
        replay = await execute(as_viewer, REPLAY, projectId=str(project.project_id), event="purchase")
        assert error_codes(replay) == ["FORBIDDEN"]
        listed = await execute(as_viewer, SCHEMAS, projectId=str(project.project_id))
        assert [item["mode"] for item in listed["data"]["eventSchemas"]] == ["REJECT"]
        rejected = await execute(as_viewer, REJECTED, projectId=str(project.project_id))
        assert rejected["data"]["rejectedEvents"]["edges"] == []


async def test_a_developer_may_define(project, client, db, settings, query_url):
    developer = await add_member(db, settings, (await _organization(db, project.project_id)), "DEVELOPER")
    async with httpx.AsyncClient(base_url=query_url, headers=developer.headers) as as_developer:
        body = await define(as_developer, project.project_id, "purchase", PRICE_SCHEMA, "WARN")
    assert body["data"]["defineEventSchema"]["mode"] == "WARN"


async def test_another_organization_sees_and_changes_nothing(project, client, db, settings, query_url):
    await define(client, project.project_id, "purchase", PRICE_SCHEMA, "REJECT")
    stranger = await create_organization(db, settings, "Elsewhere")
    async with httpx.AsyncClient(base_url=query_url, headers=stranger.headers) as as_stranger:
        for document, extra in ((SCHEMAS, {}), (REJECTED, {}), (DEFINITIONS, {}),
                                (DELETE, {"event": "purchase"}), (REPLAY, {"event": "purchase"})):
            body = await execute(as_stranger, document, projectId=str(project.project_id), **extra)
            assert error_codes(body) == ["NOT_FOUND"], document
        body = await define(as_stranger, project.project_id, "purchase", {}, "OFF")
        assert error_codes(body) == ["NOT_FOUND"]
    listed = await execute(client, SCHEMAS, projectId=str(project.project_id))
    assert [item["mode"] for item in listed["data"]["eventSchemas"]] == ["REJECT"]


async def test_anonymous_callers_are_unauthenticated(project, query_url):
    async with httpx.AsyncClient(base_url=query_url) as anonymous:
        body = await execute(anonymous, SCHEMAS, projectId=str(project.project_id))
    assert error_codes(body) == ["UNAUTHENTICATED"]


async def _organization(db, project_id):
    return await db.fetchval("SELECT organization_id FROM projects WHERE id = $1", project_id)
