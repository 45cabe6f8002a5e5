"""Trait mappings: set, replace, list and delete through GraphQL; limits, roles, tenancy; the processor's read."""

import asyncpg
import httpx
import pytest

from config import Settings
from storage.persons import MAX_TRAIT_MAPPINGS, trait_mappings_for_projects
from storage.projects import CreatedProject
from tests.persons.person_data import DELETE_TRAIT_MAPPING, SET_TRAIT_MAPPING, TRAIT_MAPPINGS
from tests.query.graphql_client import error_codes, execute
from tests.query.tenant import Caller, add_member, create_organization, create_owned_project


async def mappings(client: httpx.AsyncClient, project: CreatedProject) -> list[tuple[str, str, str]]:
    body = await execute(client, TRAIT_MAPPINGS, projectId=str(project.project_id))
    assert "errors" not in body, body["errors"]
    return [(item["event"], item["property"], item["trait"]) for item in body["data"]["traitMappings"]]


async def set_mapping(client: httpx.AsyncClient, project: CreatedProject, event: str, property: str,
                      trait: str) -> dict:
    return await execute(client, SET_TRAIT_MAPPING, projectId=str(project.project_id), event=event,
                         property=property, trait=trait)


async def test_set_replace_list_and_delete(client: httpx.AsyncClient, project: CreatedProject) -> None:
    body = await set_mapping(client, project, " form_submit ", "form.email ", "email")
    assert body["data"]["setTraitMapping"] == {"event": "form_submit", "property": "form.email", "trait": "email"}
    await set_mapping(client, project, "Order Completed", "customer.phone", "phone")
    await set_mapping(client, project, "form_submit", "form.newsletter", "consent.email")
    # Same event and property: the trait is replaced, not added.
    await set_mapping(client, project, "form_submit", "form.email", "work_email")

    assert await mappings(client, project) == [
        ("Order Completed", "customer.phone", "phone"),
        ("form_submit", "form.email", "work_email"),
        ("form_submit", "form.newsletter", "consent.email"),
    ]

    body = await execute(client, DELETE_TRAIT_MAPPING, projectId=str(project.project_id), event="form_submit",
                         property="form.email")
    assert body["data"]["deleteTraitMapping"] is True
    assert [item[1] for item in await mappings(client, project)] == ["customer.phone", "form.newsletter"]

    body = await execute(client, DELETE_TRAIT_MAPPING, projectId=str(project.project_id), event="form_submit",
                         property="form.email")
    assert error_codes(body) == ["NOT_FOUND"]
    assert "form.email" in body["errors"][0]["message"]


@pytest.mark.parametrize(
    ("event", "property", "trait", "message"),
    [
        ("", "form.email", "email", "event must not be empty"),
        ("form_submit", "   ", "email", "property must not be empty"),
        ("form_submit", "form.email", "", "trait must not be empty"),
        ("e" * 201, "form.email", "email", "event must be at most 200 characters"),
        ("form_submit", "p" * 201, "email", "property must be at most 200 characters"),
        ("form_submit", "form.email", "t" * 201, "trait must be at most 200 characters"),
        ("form_submit", "form..email", "email", "a step is empty"),
        ("form_submit", ".email", "email", "a step is empty"),
        ("form_submit", "form.", "email", "a step is empty"),
        ("form\nsubmit", "form.email", "email", "event must not contain control characters"),
        ("form_submit", "form.email", "e\x00mail", "trait must not contain control characters"),
    ],
)
async def test_bad_mappings_are_refused_with_a_reason(
    client: httpx.AsyncClient, project: CreatedProject, event: str, property: str, trait: str, message: str
) -> None:
    body = await set_mapping(client, project, event, property, trait)

    assert error_codes(body) == ["BAD_USER_INPUT"]
    assert message in body["errors"][0]["message"]
    assert await mappings(client, project) == []


async def test_a_project_holds_a_bounded_number_of_mappings(
    client: httpx.AsyncClient, db: asyncpg.Connection, project: CreatedProject
) -> None:
    await db.executemany(
        "INSERT INTO trait_mappings (project_id, event, property, trait) VALUES ($1, 'e', $2, 't')",
        [(project.project_id, f"p{index:03d}") for index in range(MAX_TRAIT_MAPPINGS - 1)],
    )
    assert "errors" not in await set_mapping(client, project, "e", "last", "t")

    body = await set_mapping(client, project, "e", "one-too-many", "t")

    assert error_codes(body) == ["BAD_USER_INPUT"]
    assert f"at most {MAX_TRAIT_MAPPINGS}" in body["errors"][0]["message"]
    # Replacing the trait of an existing mapping adds nothing, so it still works at the limit.
    assert (await set_mapping(client, project, "e", "last", "t2"))["data"]["setTraitMapping"]["trait"] == "t2"


@pytest.mark.parametrize(("role", "may_manage"), [("VIEWER", False), ("DEVELOPER", True), ("ADMIN", True)])
async def test_every_role_reads_mappings_and_only_admins_and_developers_change_them(
    query_url: str, query_settings: Settings, db: asyncpg.Connection, caller: Caller, client: httpx.AsyncClient,
    project: CreatedProject, role: str, may_manage: bool,
) -> None:
    await set_mapping(client, project, "signup", "email", "email")
    member = await add_member(db, query_settings, caller.organization_id, role)

    async with httpx.AsyncClient(base_url=query_url, headers=member.headers) as http:
        listed = await mappings(http, project)
        set_body = await set_mapping(http, project, "signup", "plan", "plan")
        delete_body = await execute(http, DELETE_TRAIT_MAPPING, projectId=str(project.project_id), event="signup",
                                    property="email")

    assert listed == [("signup", "email", "email")]
    if may_manage:
        assert "errors" not in set_body and "errors" not in delete_body
        assert await mappings(client, project) == [("signup", "plan", "plan")]
    else:
        assert error_codes(set_body) == error_codes(delete_body) == ["FORBIDDEN"]
        assert await mappings(client, project) == [("signup", "email", "email")]


async def test_another_organizations_mappings_do_not_exist_for_the_caller(
    query_url: str, query_settings: Settings, db: asyncpg.Connection, client: httpx.AsyncClient,
    project: CreatedProject,
) -> None:
    await set_mapping(client, project, "signup", "email", "email")
    stranger = await create_organization(db, query_settings, "Stranger")

    async with httpx.AsyncClient(base_url=query_url, headers=stranger.headers) as http:
        listed = await execute(http, TRAIT_MAPPINGS, projectId=str(project.project_id))
        set_body = await set_mapping(http, project, "signup", "plan", "plan")
        delete_body = await execute(http, DELETE_TRAIT_MAPPING, projectId=str(project.project_id), event="signup",
                                    property="email")

    assert error_codes(listed) == error_codes(set_body) == error_codes(delete_body) == ["NOT_FOUND"]
    assert await mappings(client, project) == [("signup", "email", "email")]


async def test_mappings_need_authentication(query_url: str, project: CreatedProject) -> None:
    async with httpx.AsyncClient(base_url=query_url) as http:
        listed = await execute(http, TRAIT_MAPPINGS, projectId=str(project.project_id))
        set_body = await set_mapping(http, project, "signup", "email", "email")

    assert error_codes(listed) == error_codes(set_body) == ["UNAUTHENTICATED"]


async def test_the_processor_reads_mappings_by_project_and_event(
    client: httpx.AsyncClient, db: asyncpg.Connection, caller: Caller, project: CreatedProject
) -> None:
    other = await create_owned_project(db, caller.organization_id, "other")
    without = await create_owned_project(db, caller.organization_id, "without mappings")
    await set_mapping(client, project, "form_submit", "form.phone", "phone")
    await set_mapping(client, project, "form_submit", "form.email", "email")
    await set_mapping(client, project, "Order Completed", "customer.email", "email")
    await set_mapping(client, other, "signup", "plan", "plan")

    found = await trait_mappings_for_projects(db, [project.project_id, other.project_id, without.project_id,
                                                   project.project_id])

    assert found == {
        project.project_id: {
            "Order Completed": [("customer.email", "email")],
            "form_submit": [("form.email", "email"), ("form.phone", "phone")],
        },
        other.project_id: {"signup": [("plan", "plan")]},
    }
    assert await trait_mappings_for_projects(db, []) == {}
