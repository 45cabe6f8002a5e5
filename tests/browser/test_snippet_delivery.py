"""What the snippet sends and when, in real Chromium against the real bridge, processor and PostgreSQL:
retries after a failure (exactly once thanks to messageId dedup, across a reload too), Do Not Track,
opt-out, reset and the 30-minute session rule."""

import asyncpg
from playwright.async_api import BrowserContext, Page

from storage.projects import CreatedProject
from tests.browser.conftest import RequestLog
from tests.browser.pages import QUEUED, shop_page
from tests.browser.servers import FlakyProxy, ProxiedBatch, SiteServer
from tests.browser.stored import named, stored_events, wait_for_events
from tests.polling import eventually

# Short timers keep each test to a few seconds; the defaults are 1 s for both.
FAST = {"flushInterval": 100, "retryDelay": 200}
READY = "window.trackmint && window.trackmint.__trackmint === true"


async def open_shop(context: BrowserContext, site: SiteServer, script_url: str, write_key: str,
                    **init_options: object) -> Page:
    site.pages["/shop"] = shop_page(script_url, write_key, **init_options)
    page = await context.new_page()
    await page.goto(f"{site.url}/shop")
    await page.wait_for_function(READY)
    return page


async def proxied_batches(proxy: FlakyProxy) -> list[ProxiedBatch]:
    return proxy.batches


async def test_batch_answered_503_is_retried_and_stored_exactly_once(
    browser_context: BrowserContext, site: SiteServer, bridge_url: str, proxy: FlakyProxy,
    project: CreatedProject, db: asyncpg.Connection,
) -> None:
    # The first batch reaches the bridge but its answer is lost: a 503 comes back instead.
    proxy.fail_next_batches(1, forward=True)
    # No automatic page view: the tracked event is the only message, whenever the configuration arrives.
    page = await open_shop(browser_context, site, f"{bridge_url}/sdk/trackmint.js", project.write_key,
                           apiHost=proxy.url, autocapture=False, **FAST)
    await page.evaluate("trackmint.track('checkout_started', {cart: 3})")

    batches = await eventually(lambda: proxied_batches(proxy), lambda found: any(b.status == 200 for b in found))
    failed, retried = batches[0], next(batch for batch in batches if batch.status == 200)
    assert (failed.status, failed.forwarded) == (503, True)
    assert failed.message_ids == retried.message_ids  # the same message, under the same id
    assert len(failed.message_ids) == 1

    sent_ids = {message_id for batch in batches for message_id in batch.message_ids}
    events = await wait_for_events(db, project.project_id, lambda found: len(found) >= len(sent_ids))
    assert sorted(event.message_id for event in events) == sorted(sent_ids)
    assert [event.properties for event in named(events, "checkout_started")] == [{"cart": 3}]
    assert await page.evaluate("localStorage.getItem('trackmint_queue')") is None


async def test_unsent_events_survive_a_reload_and_are_sent_once_the_bridge_is_back(
    browser_context: BrowserContext, site: SiteServer, bridge_url: str, proxy: FlakyProxy,
    project: CreatedProject, db: asyncpg.Connection,
) -> None:
    proxy.fail_next_batches(1000)  # the bridge is down (behind its proxy) for now
    page = await open_shop(browser_context, site, f"{bridge_url}/sdk/trackmint.js", project.write_key,
                           apiHost=proxy.url, **FAST)
    await page.evaluate("trackmint.track('added_to_cart')")
    await eventually(lambda: proxied_batches(proxy), lambda found: len(found) >= 1)
    message_id = await page.evaluate(
        f"{QUEUED}.find(m => m.event === 'added_to_cart').messageId")

    await page.reload()  # the page-hide beacon fails too; the event stays stored
    await page.wait_for_function(READY)
    queued = await page.evaluate(f"{QUEUED}.map(m => m.messageId)")
    assert message_id in queued
    proxy.fail_next_batches(0)

    events = await wait_for_events(db, project.project_id, lambda found: bool(named(found, "added_to_cart")))
    assert [event.message_id for event in named(events, "added_to_cart")] == [message_id]
    assert any(message_id in batch.message_ids and batch.status == 200 for batch in proxy.batches)


async def test_do_not_track_sends_nothing_unless_the_site_opts_out_of_respecting_it(
    browser_context: BrowserContext, request_log: RequestLog, site: SiteServer, bridge_url: str,
    project: CreatedProject, db: asyncpg.Connection,
) -> None:
    await browser_context.add_init_script("Object.defineProperty(Navigator.prototype, 'doNotTrack', {get: () => '1'})")
    script_url = f"{bridge_url}/sdk/trackmint.js"
    page = await open_shop(browser_context, site, script_url, project.write_key, **FAST)
    await page.evaluate("trackmint.track('tracked_despite_dnt')")
    await page.close(run_before_unload=True)  # no beacon either

    page = await open_shop(browser_context, site, script_url, project.write_key, respectDNT=False, **FAST)
    await page.evaluate("trackmint.track('site_ignores_dnt')")
    events = await wait_for_events(db, project.project_id, lambda found: bool(named(found, "site_ignores_dnt")))
    assert named(events, "tracked_despite_dnt") == []
    # Only the second page asked for its configuration and sent events.
    assert len(request_log.to("/v1/config")) == 1


async def test_opt_out_sends_nothing_and_is_remembered_until_opt_in(
    browser_context: BrowserContext, site: SiteServer, bridge_url: str, project: CreatedProject,
    db: asyncpg.Connection,
) -> None:
    page = await open_shop(browser_context, site, f"{bridge_url}/sdk/trackmint.js", project.write_key,
                           apiHost=bridge_url, **FAST)
    await wait_for_events(db, project.project_id, lambda found: bool(named(found, "$pageview")))
    await page.evaluate("trackmint.track('queued_then_opted_out'); trackmint.optOut(); trackmint.track('after')")
    await page.reload()
    await page.wait_for_function(READY)
    assert await page.evaluate("trackmint.hasOptedOut()") is True
    await page.evaluate("trackmint.track('after_reload')")
    await page.evaluate("history.pushState({}, '', '/elsewhere')")  # no page view either

    await page.evaluate("trackmint.optIn(); trackmint.track('after_opt_in')")
    events = await wait_for_events(db, project.project_id, lambda found: bool(named(found, "after_opt_in")))
    # The first page view went out before optOut; nothing after it, not even what was still queued.
    assert [(event.event, event.page_path) for event in events] == [("$pageview", "/shop"),
                                                                    ("after_opt_in", "/elsewhere")]


async def test_reset_starts_a_new_anonymous_visitor_that_persists(
    browser_context: BrowserContext, site: SiteServer, bridge_url: str, project: CreatedProject,
    db: asyncpg.Connection,
) -> None:
    page = await open_shop(browser_context, site, f"{bridge_url}/sdk/trackmint.js", project.write_key,
                           apiHost=bridge_url, **FAST)
    await page.evaluate("trackmint.identify('user-7', {plan: 'pro'}); trackmint.track('before_reset')")
    before = await page.evaluate("[trackmint.getAnonymousId(), trackmint.getSessionId(), trackmint.getUserId()]")
    await page.evaluate("trackmint.reset(); trackmint.track('after_reset')")
    after = await page.evaluate("[trackmint.getAnonymousId(), trackmint.getSessionId(), trackmint.getUserId()]")
    assert after[0] != before[0] and after[1] != before[1]
    assert (before[2], after[2]) == ("user-7", None)
    await page.reload()
    await page.wait_for_function(READY)
    assert await page.evaluate("trackmint.getAnonymousId()") == after[0]  # stored, not per page

    events = await wait_for_events(db, project.project_id, lambda found: bool(named(found, "after_reset")))
    (old,) = named(events, "before_reset")
    (new,) = named(events, "after_reset")
    assert (old.anonymous_id, old.user_id, old.session_id) == (before[0], "user-7", before[1])
    assert (new.anonymous_id, new.user_id, new.session_id) == (after[0], None, after[1])


async def test_session_id_changes_after_30_minutes_without_events(
    browser_context: BrowserContext, site: SiteServer, bridge_url: str, project: CreatedProject,
    db: asyncpg.Connection,
) -> None:
    page = await open_shop(browser_context, site, f"{bridge_url}/sdk/trackmint.js", project.write_key,
                           apiHost=bridge_url, **FAST)
    idle = """minutes => {
        const session = JSON.parse(localStorage.getItem('trackmint_session'));
        session.last = Date.now() - minutes * 60 * 1000;
        localStorage.setItem('trackmint_session', JSON.stringify(session));
    }"""
    await page.evaluate("trackmint.track('first')")
    first = await page.evaluate("trackmint.getSessionId()")
    await page.evaluate(idle, 29)
    await page.evaluate("trackmint.track('within_29_minutes')")
    await page.evaluate(idle, 31)
    await page.evaluate("trackmint.track('after_31_minutes')")

    events = await wait_for_events(db, project.project_id, lambda found: bool(named(found, "after_31_minutes")))
    sessions = {event.event: event.session_id for event in await stored_events(db, project.project_id)}
    assert sessions["first"] == sessions["within_29_minutes"] == first
    assert sessions["after_31_minutes"] not in (None, first)
    assert len(events) >= 3


async def test_cookie_persistence_keeps_the_anonymous_id_in_a_first_party_cookie(
    browser_context: BrowserContext, site: SiteServer, bridge_url: str, project: CreatedProject,
    db: asyncpg.Connection,
) -> None:
    page = await open_shop(browser_context, site, f"{bridge_url}/sdk/trackmint.js", project.write_key,
                           apiHost=bridge_url, persistence="cookie", **FAST)
    await page.evaluate("trackmint.track('from_cookie_visitor')")
    anonymous_id = await page.evaluate("trackmint.getAnonymousId()")
    cookies = {cookie["name"]: cookie for cookie in await browser_context.cookies(site.url)}
    assert cookies["trackmint_anonymous_id"]["value"] == anonymous_id
    assert cookies["trackmint_anonymous_id"]["sameSite"] == "Lax"
    assert await page.evaluate("localStorage.getItem('trackmint_anonymous_id')") is None

    events = await wait_for_events(db, project.project_id, lambda found: bool(named(found, "from_cookie_visitor")))
    assert [event.anonymous_id for event in named(events, "from_cookie_visitor")] == [anonymous_id]


async def test_queue_left_by_another_projects_snippet_is_not_sent_with_this_write_key(
    browser_context: BrowserContext, site: SiteServer, bridge_url: str, project: CreatedProject,
    db: asyncpg.Connection,
) -> None:
    site.pages["/blank"] = "<!doctype html><title>Blank</title>"
    page = await browser_context.new_page()
    await page.goto(f"{site.url}/blank")
    await page.evaluate("""() => localStorage.setItem('trackmint_queue', JSON.stringify({
        writeKey: 'another-projects-key',
        messages: [{type: 'track', event: 'foreign', messageId: 'foreign-1', anonymousId: 'a-1',
                    timestamp: new Date().toISOString()}],
    }))""")
    page = await open_shop(browser_context, site, f"{bridge_url}/sdk/trackmint.js", project.write_key,
                           apiHost=bridge_url, **FAST)
    await page.evaluate("trackmint.track('mine')")
    events = await wait_for_events(db, project.project_id, lambda found: bool(named(found, "mine")))
    assert named(events, "foreign") == []


async def test_batch_refused_for_an_unknown_write_key_is_dropped_with_a_console_warning(
    browser_context: BrowserContext, request_log: RequestLog, site: SiteServer, bridge_url: str,
) -> None:
    site.pages["/shop"] = shop_page(f"{bridge_url}/sdk/trackmint.js", "wk_unknown", apiHost=bridge_url, **FAST)
    page = await browser_context.new_page()
    warnings: list[str] = []
    page.on("console", lambda message: warnings.append(message.text) if message.type == "warning" else None)
    await page.goto(f"{site.url}/shop")
    await page.wait_for_function(READY)
    await page.evaluate("trackmint.track('never_stored')")

    await page.wait_for_function(f"{QUEUED}.length === 0")  # given up on, not kept for a retry
    assert "trackmint: batch refused with HTTP 401" in warnings
    assert await page.evaluate("localStorage.getItem('trackmint_retry')") is None  # no backoff scheduled
    assert request_log.to("/v1/batch")


async def test_batch_from_a_site_the_project_does_not_allow_is_dropped_with_a_console_warning(
    browser_context: BrowserContext, request_log: RequestLog, site: SiteServer, bridge_url: str,
    project: CreatedProject, db: asyncpg.Connection,
) -> None:
    await db.execute("UPDATE projects SET allowed_origins = ARRAY['https://shop.example'] WHERE id = $1",
                     project.project_id)
    site.pages["/shop"] = shop_page(f"{bridge_url}/sdk/trackmint.js", project.write_key, apiHost=bridge_url, **FAST)
    page = await browser_context.new_page()
    warnings: list[str] = []
    page.on("console", lambda message: warnings.append(message.text) if message.type == "warning" else None)
    await page.goto(f"{site.url}/shop")
    await page.wait_for_function(READY)
    await page.evaluate("trackmint.track('from_the_wrong_site')")

    # The 403 is readable, so the snippet gives the batch up instead of retrying it for minutes.
    await page.wait_for_function(f"{QUEUED}.length === 0")
    assert "trackmint: batch refused with HTTP 403" in warnings
    assert await page.evaluate("localStorage.getItem('trackmint_retry')") is None
    assert request_log.to("/v1/batch")
    assert await db.fetchval("SELECT count(*) FROM events WHERE project_id = $1", project.project_id) == 0
