"""The six Segment calls on both clients: the same signatures, Segment's alias order, page shortcuts, session ids."""

import asyncio
import inspect
import json

import pytest

from tests.polling import wait_for_stored
from tests.sdk.stored import stored_events
from trackmint.v1 import event_pb2
from trackmint_sdk import AsyncClient, Client
from trackmint_sdk.events import alias_event, page_context, page_event

CALLS = ("track", "page", "screen", "identify", "group", "alias")


@pytest.mark.parametrize("call", CALLS)
def test_both_clients_offer_the_call_with_a_session_id(call):
    sync_signature = inspect.signature(getattr(Client, call))
    async_signature = inspect.signature(getattr(AsyncClient, call))

    assert sync_signature == async_signature
    assert "session_id" in sync_signature.parameters
    assert not inspect.iscoroutinefunction(getattr(AsyncClient, call))  # enqueueing never awaits


def test_calls_take_segments_leading_arguments():
    def leading(call: str, count: int) -> list[str]:
        return list(inspect.signature(getattr(Client, call)).parameters)[1:count + 1]

    assert leading("alias", 2) == ["previous_id", "user_id"]
    assert leading("group", 1) == ["group_id"]
    assert leading("identify", 1) == ["user_id"]
    assert leading("track", 1) == ["event"]
    assert {"url", "path", "referrer", "title", "search", "properties"} <= set(
        inspect.signature(Client.page).parameters
    )


def test_alias_takes_the_previous_id_first_and_a_session_id():
    alias = alias_event("anon-7", "user-42", session_id="s-1")

    assert (alias.type, alias.previous_id, alias.user_id, alias.session_id) == (
        event_pb2.EVENT_TYPE_ALIAS, "anon-7", "user-42", "s-1",
    )


def test_page_shortcuts_fill_the_context_page_and_derive_path_and_search_from_the_url():
    page = page_event("Pricing", anonymous_id="a1", url="https://shop.example/pricing?plan=pro#faq",
                      referrer="https://www.google.com/", title="Pricing - Shop")

    assert (page.context.page.url, page.context.page.path, page.context.page.search) == (
        "https://shop.example/pricing?plan=pro#faq", "/pricing", "?plan=pro",
    )
    assert (page.context.page.referrer, page.context.page.title) == ("https://www.google.com/", "Pricing - Shop")


def test_page_shortcuts_win_over_the_same_context_keys_and_keep_the_others():
    context = {"page": {"url": "https://old.example/", "title": "Old", "hash": "#top"}, "locale": "pt-PT"}

    merged = page_context(context, url="https://new.example/a", path="/custom")

    assert merged == {"page": {"url": "https://new.example/a", "title": "Old", "hash": "#top", "path": "/custom"},
                      "locale": "pt-PT"}
    assert context["page"]["url"] == "https://old.example/"  # the caller's dict is not changed
    assert page_context(context) is context


@pytest.mark.parametrize(
    "call",
    [
        lambda: page_event(anonymous_id="a1", url=42),
        lambda: page_event(anonymous_id="a1", title=["x"]),
        lambda: page_event(anonymous_id="a1", url="https://x.example/", context={"page": "/x"}),
        lambda: page_event(anonymous_id="a1", url="https://x.example/", context=["page"]),
    ],
)
def test_page_shortcut_type_errors_raise_at_the_call(call):
    with pytest.raises(TypeError):
        call()


async def test_page_shortcuts_and_alias_reach_storage(ingest_server, processor, project, db):
    client = Client(project.write_key, f"127.0.0.1:{ingest_server.port}", flush_interval=0.05)
    try:
        page_id = client.page("Pricing", anonymous_id="anon-7", url="https://shop.example/pricing?plan=pro",
                              referrer="https://news.example/", title="Pricing", session_id="s-1")
        alias_id = client.alias("anon-7", "user-42", session_id="s-1")
        assert await asyncio.to_thread(client.flush, 10)
    finally:
        await asyncio.to_thread(client.close)

    assert await wait_for_stored(db, project.project_id, 2) == 2
    rows = await stored_events(db, project.project_id)
    page = rows[page_id]
    assert (page["page_url"], page["page_path"], page["page_search"], page["page_referrer"], page["page_title"]) == (
        "https://shop.example/pricing?plan=pro", "/pricing", "?plan=pro", "https://news.example/", "Pricing",
    )
    assert (page["anonymous_id"], page["session_id"], page["name"]) == ("anon-7", "s-1", "Pricing")
    alias = rows[alias_id]
    assert (alias["previous_id"], alias["user_id"], alias["session_id"]) == ("anon-7", "user-42", "s-1")
    assert json.loads(alias["properties"]) == {}
