"""The persons connection and one person: keyset pages, search, merges, sessions, tenancy and limits."""

import base64
import json
import random
import uuid
from datetime import timedelta

import asyncpg
import httpx

from config import Settings
from storage.projects import CreatedProject
from tests.persons.person_data import (
    BASE_TIME,
    PERSON,
    PERSONS,
    insert_person,
    insert_session,
    merge_person,
)
from tests.query.graphql_client import error_codes, execute
from tests.query.tenant import Caller, add_member, create_organization, create_owned_project


async def walk_pages(client: httpx.AsyncClient, project_id: str, first: int, search: str | None = None) -> list[dict]:
    nodes: list[dict] = []
    after = None
    while True:
        body = await execute(client, PERSONS, projectId=project_id, first=first, after=after, search=search)
        assert "errors" not in body, body["errors"]
        connection = body["data"]["persons"]
        assert len(connection["edges"]) <= first
        nodes.extend(edge["node"] for edge in connection["edges"])
        page_info = connection["pageInfo"]
        if not page_info["hasNextPage"]:
            assert page_info["endCursor"] == (connection["edges"][-1]["cursor"] if connection["edges"] else None)
            return nodes
        assert page_info["endCursor"] == connection["edges"][-1]["cursor"]
        after = page_info["endCursor"]


async def ids_found(client: httpx.AsyncClient, project: CreatedProject, search: str) -> set[str]:
    return {node["id"] for node in await walk_pages(client, str(project.project_id), 200, search)}


async def test_walking_all_pages_returns_every_surviving_person_once_newest_first(
    client: httpx.AsyncClient, db: asyncpg.Connection, project: CreatedProject
) -> None:
    rng = random.Random(11)
    created = {}
    # Few distinct creation times, so the id has to break ties between pages.
    for index in range(157):
        created_at = BASE_TIME + timedelta(seconds=rng.randint(0, 20))
        person_id = await insert_person(db, project.project_id, [f"anon-{index}"], created_at=created_at)
        created[person_id] = created_at
    merged = [person_id for person_id in list(created)[:12]]
    survivor = list(created)[-1]
    for person_id in merged:
        await merge_person(db, project.project_id, person_id, survivor)
        del created[person_id]
    expected = [str(person_id) for person_id, _ in sorted(created.items(), key=lambda item: (item[1], item[0]),
                                                         reverse=True)]

    for first in (7, 50, 200):
        nodes = await walk_pages(client, str(project.project_id), first)

        assert [node["id"] for node in nodes] == expected


async def test_a_page_shows_the_persons_fields(
    client: httpx.AsyncClient, db: asyncpg.Connection, project: CreatedProject
) -> None:
    person_id = await insert_person(
        db, project.project_id, ["user-7", "anon-b", "anon-a"], {"email": "ada@example.com", "plan": "pro"},
        first_seen=BASE_TIME - timedelta(days=3), last_seen=BASE_TIME + timedelta(hours=2), is_identified=True,
    )

    body = await execute(client, PERSONS, projectId=str(project.project_id))

    connection = body["data"]["persons"]
    assert connection["pageInfo"] == {"hasNextPage": False, "endCursor": connection["edges"][0]["cursor"]}
    assert connection["edges"][0]["node"] == {
        "id": str(person_id),
        "distinctIds": ["anon-a", "anon-b", "user-7"],
        "traits": {"email": "ada@example.com", "plan": "pro"},
        "firstSeen": (BASE_TIME - timedelta(days=3)).isoformat(),
        "lastSeen": (BASE_TIME + timedelta(hours=2)).isoformat(),
        "isIdentified": True,
        "createdAt": BASE_TIME.isoformat(),
    }


async def test_search_matches_distinct_ids_by_substring_ignoring_case(
    client: httpx.AsyncClient, db: asyncpg.Connection, project: CreatedProject
) -> None:
    ada = await insert_person(db, project.project_id, ["User-ADA-42", "anon-1f3e"])
    bob = await insert_person(db, project.project_id, ["user-bob-7"])
    await insert_person(db, project.project_id, ["someone-else"])

    assert await ids_found(client, project, "user-ada") == {str(ada)}
    assert await ids_found(client, project, "ADA-4") == {str(ada)}
    assert await ids_found(client, project, "1F3E") == {str(ada)}
    assert await ids_found(client, project, "user-") == {str(ada), str(bob)}
    assert await ids_found(client, project, "nobody") == set()


async def test_search_matches_trait_values_in_any_case_and_script(
    client: httpx.AsyncClient, db: asyncpg.Connection, project: CreatedProject
) -> None:
    zoe = await insert_person(db, project.project_id, ["p1"], {"firstName": "Zoë", "city": "ÆRØSKØBING"})
    jose = await insert_person(db, project.project_id, ["p2"], {"name": "José Müller", "age": 41})
    li = await insert_person(db, project.project_id, ["p3"], {"name": "李小龍", "tags": ["vip", "beta"]})
    await insert_person(db, project.project_id, ["p4"], {"name": "Jose Muller"})

    assert await ids_found(client, project, "ZOË") == {str(zoe)}
    assert await ids_found(client, project, "ærøsk") == {str(zoe)}
    assert await ids_found(client, project, "josé müller") == {str(jose)}
    assert await ids_found(client, project, "小龍") == {str(li)}
    assert await ids_found(client, project, "41") == {str(jose)}  # numbers as text
    assert await ids_found(client, project, "VIP") == {str(li)}  # lists as text


async def test_search_text_is_literal_not_a_pattern(
    client: httpx.AsyncClient, db: asyncpg.Connection, project: CreatedProject
) -> None:
    dotted = await insert_person(db, project.project_id, ["a.b"], {"discount": "50%", "code": "x_(1)+[y]*"})
    await insert_person(db, project.project_id, ["axb"], {"discount": "500", "code": "x1y"})

    assert await ids_found(client, project, "a.b") == {str(dotted)}
    assert await ids_found(client, project, "50%") == {str(dotted)}
    assert await ids_found(client, project, "x_(1)+[y]*") == {str(dotted)}
    assert await ids_found(client, project, "\\") == set()


async def test_search_finds_quotes_and_backslashes_that_json_escapes(
    client: httpx.AsyncClient, db: asyncpg.Connection, project: CreatedProject
) -> None:
    quoted = await insert_person(db, project.project_id, ["p1"], {"company": 'The "Best" Café'})
    path = await insert_person(db, project.project_id, ["p2"], {"home": "C:\\Users\\Zoë"})

    assert await ids_found(client, project, '"best"') == {str(quoted)}
    assert await ids_found(client, project, '"BEST" CAFÉ') == {str(quoted)}
    assert await ids_found(client, project, "c:\\users") == {str(path)}
    assert await ids_found(client, project, "\\zoË") == {str(path)}


async def test_search_ignores_keys_of_nested_trait_objects(
    client: httpx.AsyncClient, db: asyncpg.Connection, project: CreatedProject
) -> None:
    await insert_person(db, project.project_id, ["p1"], {"consent": {"email": True}})
    with_email = await insert_person(db, project.project_id, ["p2"], {"email": "x@example.com"})

    assert await ids_found(client, project, "email") == set()
    assert await ids_found(client, project, "example") == {str(with_email)}


async def test_search_finds_the_survivor_by_a_merged_persons_distinct_id(
    client: httpx.AsyncClient, db: asyncpg.Connection, project: CreatedProject
) -> None:
    survivor = await insert_person(db, project.project_id, ["user-1"])
    anonymous = await insert_person(db, project.project_id, ["anon-old"], {"note": "anonymous traits"})
    await merge_person(db, project.project_id, anonymous, survivor)

    assert await ids_found(client, project, "ANON-OLD") == {str(survivor)}
    # The merged person's own row is not listed, even when its stale traits match.
    assert await ids_found(client, project, "anonymous traits") == set()


async def test_a_blank_search_lists_everyone_and_a_long_one_is_refused(
    client: httpx.AsyncClient, db: asyncpg.Connection, project: CreatedProject
) -> None:
    await insert_person(db, project.project_id, ["p1"])
    await insert_person(db, project.project_id, ["p2"])

    assert len(await ids_found(client, project, "   ")) == 2
    body = await execute(client, PERSONS, projectId=str(project.project_id), search="x" * 201)
    assert error_codes(body) == ["BAD_USER_INPUT"]
    assert "200" in body["errors"][0]["message"]
    body = await execute(client, PERSONS, projectId=str(project.project_id), search="a\u0000b")
    assert error_codes(body) == ["BAD_USER_INPUT"]
    assert "NUL" in body["errors"][0]["message"]
    body = await execute(client, PERSONS, projectId=str(project.project_id), search="x" * 200)
    assert "errors" not in body


async def test_page_size_is_bounded(client: httpx.AsyncClient, db: asyncpg.Connection, project: CreatedProject) -> None:
    for index in range(3):
        await insert_person(db, project.project_id, [f"p{index}"], created_at=BASE_TIME + timedelta(seconds=index))

    for first in (0, -1, 201):
        body = await execute(client, PERSONS, projectId=str(project.project_id), first=first)
        assert error_codes(body) == ["BAD_USER_INPUT"], first
        assert "between 1 and 200" in body["errors"][0]["message"]
    body = await execute(client, PERSONS, projectId=str(project.project_id), first=None)
    assert len(body["data"]["persons"]["edges"]) == 3
    body = await execute(client, PERSONS, projectId=str(project.project_id), first=2)
    assert body["data"]["persons"]["pageInfo"]["hasNextPage"] is True


def _b64(payload: object) -> str:
    return base64.urlsafe_b64encode(json.dumps(payload).encode()).decode()


async def test_a_malformed_cursor_is_bad_user_input(client: httpx.AsyncClient, project: CreatedProject) -> None:
    for cursor in ("not-a-cursor", "!!!", _b64(["2026-03-01T12:00:00+00:00"]), _b64(["2026-03-01T12:00:00", str(
            uuid.uuid4())]), _b64(["2026-03-01T12:00:00+00:00", "not-a-uuid"]), _b64({"a": 1}), _b64([1, 2])):
        body = await execute(client, PERSONS, projectId=str(project.project_id), after=cursor)
        assert error_codes(body) == ["BAD_USER_INPUT"], cursor
        assert body["errors"][0]["message"] == "malformed cursor"


async def test_a_merged_persons_id_answers_with_the_survivor_and_all_its_ids(
    client: httpx.AsyncClient, db: asyncpg.Connection, project: CreatedProject
) -> None:
    first = await insert_person(db, project.project_id, ["anon-1"])
    second = await insert_person(db, project.project_id, ["anon-2"])
    survivor = await insert_person(db, project.project_id, ["user-1"], {"plan": "pro"}, is_identified=True)
    await merge_person(db, project.project_id, first, second)
    await merge_person(db, project.project_id, second, survivor)

    for asked in (first, second, survivor):
        body = await execute(client, PERSON, projectId=str(project.project_id), id=str(asked))
        person = body["data"]["person"]
        assert person["id"] == str(survivor), asked
        assert person["distinctIds"] == ["anon-1", "anon-2", "user-1"]
        assert person["traits"] == {"plan": "pro"}
    nodes = await walk_pages(client, str(project.project_id), 50)
    assert [node["id"] for node in nodes] == [str(survivor)]
    assert nodes[0]["distinctIds"] == ["anon-1", "anon-2", "user-1"]


async def test_a_chain_of_merges_resolves_to_its_end(
    client: httpx.AsyncClient, db: asyncpg.Connection, project: CreatedProject
) -> None:
    first = await insert_person(db, project.project_id, [])
    second = await insert_person(db, project.project_id, [])
    survivor = await insert_person(db, project.project_id, ["user-1"])
    # The processor flattens chains; a chain written otherwise still resolves.
    await db.execute("UPDATE persons SET merged_into = $2 WHERE id = $1", first, second)
    await db.execute("UPDATE persons SET merged_into = $2 WHERE id = $1", second, survivor)

    body = await execute(client, PERSON, projectId=str(project.project_id), id=str(first))

    assert body["data"]["person"]["id"] == str(survivor)


async def test_an_unknown_or_malformed_person_id_is_refused(
    client: httpx.AsyncClient, db: asyncpg.Connection, project: CreatedProject
) -> None:
    body = await execute(client, PERSON, projectId=str(project.project_id), id=str(uuid.uuid4()))
    assert error_codes(body) == ["NOT_FOUND"]
    assert body["data"] is None
    body = await execute(client, PERSON, projectId=str(project.project_id), id="person-1")
    assert error_codes(body) == ["BAD_USER_INPUT"]


async def test_a_merge_cycle_is_not_followed_forever(
    client: httpx.AsyncClient, db: asyncpg.Connection, project: CreatedProject
) -> None:
    one = await insert_person(db, project.project_id, ["c1"])
    two = await insert_person(db, project.project_id, ["c2"])
    # Never written by the processor; a corrupt row must not hang the query.
    await db.execute("UPDATE persons SET merged_into = $2 WHERE id = $1", one, two)
    await db.execute("UPDATE persons SET merged_into = $2 WHERE id = $1", two, one)

    body = await execute(client, PERSON, projectId=str(project.project_id), id=str(one))

    assert error_codes(body) == ["NOT_FOUND"]


async def test_person_sessions_newest_first_with_their_fields(
    client: httpx.AsyncClient, db: asyncpg.Connection, project: CreatedProject
) -> None:
    person = await insert_person(db, project.project_id, ["user-1"])
    merged = await insert_person(db, project.project_id, ["anon-1"])
    other = await insert_person(db, project.project_id, ["user-2"])
    oldest = await insert_session(db, project.project_id, merged, BASE_TIME - timedelta(days=2))
    await insert_session(db, project.project_id, other, BASE_TIME)
    newest = await insert_session(
        db, project.project_id, person, BASE_TIME, seconds=754.5, event_count=9, pageview_count=4,
        session_key="sdk-s1", entry_page="/pricing", entry_at=BASE_TIME, exit_page="/signup",
        exit_at=BASE_TIME + timedelta(seconds=754.5), entry_url="https://shop.example/pricing?utm_source=news",
        referrer="https://www.google.com/", referrer_domain="www.google.com", referrer_channel="search",
        utm_source="news", utm_medium="email", utm_campaign="spring", utm_term="shoes", utm_content="hero",
        device_type="mobile", browser="Mobile Safari", os="iOS", country="PT", region="Lisbon", city="Lisboa",
    )
    await merge_person(db, project.project_id, merged, person)  # its session moves to the survivor

    body = await execute(client, PERSON, projectId=str(project.project_id), id=str(person))

    sessions = body["data"]["person"]["sessions"]
    assert [session["id"] for session in sessions] == [str(newest), str(oldest)]
    assert sessions[0] == {
        "id": str(newest), "sessionKey": "sdk-s1", "startedAt": BASE_TIME.isoformat(),
        "endedAt": (BASE_TIME + timedelta(seconds=754.5)).isoformat(), "durationSeconds": 754.5, "eventCount": 9,
        "pageviewCount": 4, "isBounce": False, "entryPage": "/pricing", "exitPage": "/signup",
        "entryUrl": "https://shop.example/pricing?utm_source=news", "referrer": "https://www.google.com/",
        "referrerDomain": "www.google.com", "referrerChannel": "search", "utmSource": "news", "utmMedium": "email",
        "utmCampaign": "spring", "utmTerm": "shoes", "utmContent": "hero", "deviceType": "mobile",
        "browser": "Mobile Safari", "os": "iOS", "country": "PT", "region": "Lisbon", "city": "Lisboa",
    }
    assert (sessions[1]["isBounce"], sessions[1]["durationSeconds"], sessions[1]["entryPage"]) == (True, 0.0, None)


async def test_person_sessions_count_is_bounded(
    client: httpx.AsyncClient, db: asyncpg.Connection, project: CreatedProject
) -> None:
    person = await insert_person(db, project.project_id, ["user-1"])
    for hours in range(3):
        await insert_session(db, project.project_id, person, BASE_TIME + timedelta(hours=hours))

    body = await execute(client, PERSON, projectId=str(project.project_id), id=str(person), sessions=2)
    started = [session["startedAt"] for session in body["data"]["person"]["sessions"]]
    assert started == [(BASE_TIME + timedelta(hours=2)).isoformat(), (BASE_TIME + timedelta(hours=1)).isoformat()]
    for first in (0, 201):
        body = await execute(client, PERSON, projectId=str(project.project_id), id=str(person), sessions=first)
        assert error_codes(body) == ["BAD_USER_INPUT"], first


async def test_another_organization_sees_nothing(
    query_url: str, query_settings: Settings, db: asyncpg.Connection, project: CreatedProject
) -> None:
    person = await insert_person(db, project.project_id, ["user-1"], {"email": "secret@example.com"})
    stranger = await create_organization(db, query_settings, "Stranger")
    own = await create_owned_project(db, stranger.organization_id, "stranger's")

    async with httpx.AsyncClient(base_url=query_url, headers=stranger.headers) as http:
        listed = await execute(http, PERSONS, projectId=str(project.project_id))
        found = await execute(http, PERSON, projectId=str(project.project_id), id=str(person))
        # Through a project of their own, another project's person does not exist either.
        crossed = await execute(http, PERSON, projectId=str(own.project_id), id=str(person))
        searched = await execute(http, PERSONS, projectId=str(own.project_id), search="secret")

    assert error_codes(listed) == error_codes(found) == error_codes(crossed) == ["NOT_FOUND"]
    assert listed["errors"][0]["message"] == f"no project {project.project_id}"
    assert searched["data"]["persons"]["edges"] == []


async def test_a_viewer_reads_persons(
    query_url: str, query_settings: Settings, db: asyncpg.Connection, caller: Caller, project: CreatedProject
) -> None:
    person = await insert_person(db, project.project_id, ["user-1"])
    viewer = await add_member(db, query_settings, caller.organization_id, "VIEWER")

    async with httpx.AsyncClient(base_url=query_url, headers=viewer.headers) as http:
        listed = await execute(http, PERSONS, projectId=str(project.project_id))
        found = await execute(http, PERSON, projectId=str(project.project_id), id=str(person))

    assert [edge["node"]["id"] for edge in listed["data"]["persons"]["edges"]] == [str(person)]
    assert found["data"]["person"]["id"] == str(person)


async def test_persons_need_authentication(query_url: str, project: CreatedProject) -> None:
    async with httpx.AsyncClient(base_url=query_url) as http:
        body = await execute(http, PERSONS, projectId=str(project.project_id))

    assert error_codes(body) == ["UNAUTHENTICATED"]
