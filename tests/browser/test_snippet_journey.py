"""A visitor's journey on a customer's site, in real Chromium: the snippet, loaded cross-origin from the
bridge, records page views (a single-page app's navigation and back button included), a click and a
form submit, and hands its queue to sendBeacon when the page closes; the events end up in PostgreSQL
as one visitor, one session and one person."""

import asyncpg
from playwright.async_api import BrowserContext

from storage.projects import CreatedProject
from tests.browser.conftest import RequestLog
from tests.browser.pages import QUEUED, shop_page
from tests.browser.servers import SiteServer
from tests.browser.stored import named, wait_for_events
from tests.polling import eventually
from trackmint.v1 import event_pb2


async def test_visit_is_stored_as_one_visitor_session_and_person(
    browser_context: BrowserContext, request_log: RequestLog, site: SiteServer, bridge_url: str,
    browser_project: CreatedProject, db: asyncpg.Connection,
) -> None:
    await db.execute("UPDATE projects SET allowed_origins = ARRAY[$2] WHERE id = $1",
                     browser_project.project_id, site.url)
    # Sending only happens at page close: nothing is due before (60 s interval, 100-event threshold).
    site.pages["/blank"] = "<!doctype html><title>Blank</title>"
    site.pages["/shop"] = shop_page(f"{bridge_url}/sdk/trackmint.js", browser_project.write_key,
                                    apiHost=bridge_url, flushInterval=60_000, flushAt=100)
    page = await browser_context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))

    await page.goto(f"{site.url}/shop?utm_source=newsletter&utm_campaign=launch")
    # The first page view waits for the project's configuration from /v1/config.
    await page.wait_for_function(f"{QUEUED}.some(m => m.type === 'page')")
    await page.evaluate("history.pushState({}, '', '/cart')")
    await page.evaluate("history.replaceState({step: 2}, '', '/cart')")  # same path: no new page view
    await page.wait_for_function(f"{QUEUED}.filter(m => m.type === 'page').length === 2")
    await page.click("#buy")
    await page.click("#private")  # inside data-trackmint-ignore
    await page.click("#signup-submit")
    await page.evaluate("history.back()")  # popstate, back on /shop
    await page.wait_for_function(f"{QUEUED}.filter(m => m.type === 'page').length === 3")
    anonymous_id = await page.evaluate("trackmint.getAnonymousId()")
    session_id = await page.evaluate("trackmint.getSessionId()")
    assert await page.evaluate(f"{QUEUED}.length") == 6, "events were sent before the page closed"
    assert request_log.to("/v1/batch") == []

    await page.close(run_before_unload=True)

    events = await wait_for_events(db, browser_project.project_id, lambda found: len(found) >= 6)
    # Sorted: the submit button's click and the form submit may share a millisecond.
    assert sorted((event.type, event.event) for event in events) == sorted([
        (event_pb2.EVENT_TYPE_PAGE, "$pageview"),
        (event_pb2.EVENT_TYPE_PAGE, "$pageview"),
        (event_pb2.EVENT_TYPE_PAGE, "$pageview"),
        (event_pb2.EVENT_TYPE_TRACK, "$autocapture"),
        (event_pb2.EVENT_TYPE_TRACK, "$autocapture"),
        (event_pb2.EVENT_TYPE_TRACK, "form_submit"),
    ])
    assert errors == []
    assert {event.anonymous_id for event in events} == {anonymous_id}
    assert {event.session_id for event in events} == {session_id}
    assert session_id
    assert [event.page_path for event in events] == ["/shop", "/cart", "/cart", "/cart", "/cart", "/shop"]
    assert events[0].utm_source == "newsletter"
    assert {event.library_name for event in events} == {"trackmint.js"}
    # The queue drained through sendBeacon at page close: the snippet keeps nothing for a retry.
    later = await browser_context.new_page()
    await later.goto(f"{site.url}/blank")
    assert await later.evaluate("localStorage.getItem('trackmint_queue')") is None

    buy, submit = sorted(named(events, "$autocapture"), key=lambda event: event.properties["id"] != "buy")
    assert buy.properties == {
        "$event_type": "click", "tag": "button", "text": "Buy now", "id": "buy", "classes": ["btn", "primary"],
        "selector": "button#buy",
    }
    assert (submit.properties["id"], submit.properties["text"]) == ("signup-submit", "Sign up")
    (form,) = named(events, "form_submit")
    # Values by field name, without the password, card number, CVC, token and hidden fields.
    assert form.properties == {
        "email": "ada@example.com", "plan": "pro", "form_id": "signup", "form_name": "signup",
        "form_action": f"{site.url}/thanks", "form_method": "post",
    }

    # The processor's identity and session tracking: one person owning the anonymous id, one session.
    async def people_and_sessions() -> tuple[list, list]:
        persons = await db.fetch(
            "SELECT p.id FROM persons p JOIN person_distinct_ids d ON d.person_id = p.id"
            " WHERE d.project_id = $1 AND d.distinct_id = $2", browser_project.project_id, anonymous_id)
        sessions = await db.fetch("SELECT session_key, event_count, pageview_count, entry_page, exit_page"
                                  " FROM sessions WHERE project_id = $1", browser_project.project_id)
        return persons, sessions

    persons, sessions = await eventually(people_and_sessions, lambda found: bool(found[0] and found[1]))
    assert len(persons) == 1
    assert [(s["session_key"], s["event_count"], s["pageview_count"], s["entry_page"], s["exit_page"])
            for s in sessions] == [(session_id, 6, 3, "/shop", "/shop")]
