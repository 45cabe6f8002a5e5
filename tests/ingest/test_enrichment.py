"""Enrichment steps with real inputs (real user-agent strings, MaxMind's geo test database), and end to end."""

from pathlib import Path

import pytest

from ingest.enrichment import (
    PIPELINE,
    EnrichmentContext,
    EnrichmentStats,
    enrich_batch,
    open_geo_database,
    parse_user_agent,
)
from tests.payloads import auth, batch_of, ingest_stub, track_event
from tests.polling import eventually
from trackmint.v1 import event_pb2

# MaxMind-DB test data (MIT, see LICENSE-MIT beside it), copied from ../shared/data/geo so tests run anywhere.
GEO_DB = Path(__file__).resolve().parents[1] / "data" / "geo" / "GeoLite2-City-Test.mmdb"

CHROME_WINDOWS = ("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
                  "Chrome/124.0.0.0 Safari/537.36")
SAFARI_IPHONE = ("Mozilla/5.0 (iPhone; CPU iPhone OS 17_4_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
                 "Version/17.4.1 Mobile/15E148 Safari/604.1")
SAFARI_IPAD = ("Mozilla/5.0 (iPad; CPU OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
               "Version/17.4 Mobile/15E148 Safari/604.1")
FIREFOX_LINUX = "Mozilla/5.0 (X11; Linux x86_64; rv:125.0) Gecko/20100101 Firefox/125.0"
CHROME_ANDROID_PHONE = ("Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) "
                        "Chrome/124.0.6367.82 Mobile Safari/537.36")
CHROME_ANDROID_TABLET = ("Mozilla/5.0 (Linux; Android 13; SM-X700) AppleWebKit/537.36 (KHTML, like Gecko) "
                         "Chrome/124.0.0.0 Safari/537.36")
CUBOT_PHONE = ("Mozilla/5.0 (Linux; Android 9; CUBOT P30) AppleWebKit/537.36 (KHTML, like Gecko) "
               "Chrome/120.0.0.0 Mobile Safari/537.36")
GOOGLEBOT = "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)"
GOOGLEBOT_SMARTPHONE = ("Mozilla/5.0 (Linux; Android 6.0.1; Nexus 5X Build/MMB29P) AppleWebKit/537.36 (KHTML, like "
                        "Gecko) Chrome/124.0.6367.201 Mobile Safari/537.36 (compatible; Googlebot/2.1; "
                        "+http://www.google.com/bot.html)")
HEADLESS_CHROME = ("Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
                   "HeadlessChrome/124.0.0.0 Safari/537.36")
CURL = "curl/8.5.0"


def event_with(*, user_agent: str = "", ip: str = "", url: str = "", referrer: str = "",
               medium: str = "") -> event_pb2.Event:
    event = track_event("viewed")
    context = event.context
    context.user_agent, context.ip = user_agent, ip
    context.page.url, context.page.referrer = url, referrer
    context.campaign.medium = medium
    return event


def enriched(event: event_pb2.Event, geo=None) -> event_pb2.Enrichment:
    enrich_batch([event], EnrichmentContext(geo=geo), EnrichmentStats())
    return event.enrichment


@pytest.fixture(scope="module")
def geo():
    reader = open_geo_database(GEO_DB)
    yield reader
    reader.close()


@pytest.mark.parametrize(
    ("user_agent", "browser", "browser_version", "os", "os_version", "device_type", "is_bot"),
    [
        (CHROME_WINDOWS, "Chrome", "124.0.0", "Windows", "10", "desktop", False),
        (SAFARI_IPHONE, "Mobile Safari", "17.4.1", "iOS", "17.4.1", "mobile", False),
        (SAFARI_IPAD, "Mobile Safari", "17.4", "iOS", "17.4", "tablet", False),
        (FIREFOX_LINUX, "Firefox", "125.0", "Linux", "", "desktop", False),
        (CHROME_ANDROID_PHONE, "Chrome Mobile", "124.0.6367", "Android", "14", "mobile", False),
        (CHROME_ANDROID_TABLET, "Chrome", "124.0.0", "Android", "13", "tablet", False),
        (CUBOT_PHONE, "Chrome Mobile", "120.0.0", "Android", "9", "mobile", False),
        (GOOGLEBOT, "Googlebot", "2.1", "", "", "bot", True),
        (GOOGLEBOT_SMARTPHONE, "Googlebot", "2.1", "Android", "6.0.1", "bot", True),
        (HEADLESS_CHROME, "HeadlessChrome", "124.0.0", "Linux", "", "bot", True),
        (CURL, "curl", "8.5.0", "", "", "other", False),
    ],
    ids=["chrome-windows", "safari-iphone", "safari-ipad", "firefox-linux", "chrome-android-phone",
         "chrome-android-tablet", "cubot-phone-is-no-bot", "googlebot", "googlebot-smartphone", "headless-chrome",
         "curl"],
)
def test_user_agent_gives_browser_os_device_type_and_bot_flag(
    user_agent, browser, browser_version, os, os_version, device_type, is_bot
):
    enrichment = enriched(event_with(user_agent=user_agent))

    assert (enrichment.browser, enrichment.browser_version, enrichment.os, enrichment.os_version,
            enrichment.device_type, enrichment.is_bot) == (browser, browser_version, os, os_version, device_type,
                                                           is_bot)


def test_parsed_user_agents_are_cached_by_the_whole_string():
    parse_user_agent.cache_clear()
    for _ in range(3):
        enriched(event_with(user_agent=FIREFOX_LINUX))

    info = parse_user_agent.cache_info()
    assert (info.misses, info.hits) == (1, 2)


def test_event_without_user_agent_gets_no_device_fields():
    enrichment = enriched(event_with())

    assert (enrichment.browser, enrichment.device_type, enrichment.is_bot) == ("", "", False)


def test_enrichment_a_client_sent_is_cleared():
    event = event_with(user_agent=FIREFOX_LINUX)
    event.enrichment.country, event.enrichment.is_bot, event.enrichment.channel = "XX", True, "paid"

    enrichment = enriched(event)

    assert (enrichment.country, enrichment.is_bot, enrichment.channel, enrichment.browser) == ("", False, "", "Firefox")


@pytest.mark.parametrize(
    ("ip", "country", "region", "city"),
    [
        ("81.2.69.142", "GB", "ENG", "London"),
        ("2.125.160.218", "GB", "ENG", "Boxford"),
        ("89.160.20.130", "SE", "E", "Linköping"),
        ("175.16.199.10", "CN", "22", "Changchun"),
        ("216.160.83.58", "US", "WA", "Milton"),
        ("67.43.156.10", "BT", "", ""),
        ("127.0.0.1", "", "", ""),
        ("10.0.0.1", "", "", ""),
        ("2001:db8::1", "", "", ""),
        ("not an ip", "", "", ""),
        ("", "", "", ""),
    ],
)
def test_ip_gives_country_region_and_city_from_the_maxmind_database(geo, ip, country, region, city):
    enrichment = enriched(event_with(ip=ip), geo=geo)

    assert (enrichment.country, enrichment.region, enrichment.city) == (country, region, city)


def test_geo_answers_are_cached_by_address(geo):
    geo.locate.cache_clear()
    for _ in range(3):
        enriched(event_with(ip="81.2.69.142"), geo=geo)

    info = geo.locate.cache_info()
    assert (info.misses, info.hits) == (1, 2)


def test_without_a_geo_database_geo_fields_stay_empty():
    enrichment = enriched(event_with(ip="81.2.69.142"))

    assert (enrichment.country, enrichment.city) == ("", "")


PAGE = "https://shop.example/pricing"


@pytest.mark.parametrize(
    ("referrer", "url", "medium", "domain", "channel"),
    [
        ("", PAGE, "", "", "direct"),
        ("https://shop.example/", PAGE, "", "shop.example", "direct"),
        ("https://www.shop.example/cart", "https://shop.example/pay", "", "shop.example", "direct"),
        ("https://www.google.com/", PAGE, "", "google.com", "search"),
        ("https://www.google.co.uk/search?q=shoes", PAGE, "", "google.co.uk", "search"),
        ("https://www.bing.com/search?q=x", PAGE, "", "bing.com", "search"),
        ("https://duckduckgo.com/", PAGE, "", "duckduckgo.com", "search"),
        ("https://search.yahoo.com/", PAGE, "", "search.yahoo.com", "search"),
        ("https://www.baidu.com/", PAGE, "", "baidu.com", "search"),
        ("https://yandex.ru/search/", PAGE, "", "yandex.ru", "search"),
        ("https://www.ecosia.org/", PAGE, "", "ecosia.org", "search"),
        ("https://search.brave.com/search?q=x", PAGE, "", "search.brave.com", "search"),
        ("https://m.facebook.com/", PAGE, "", "m.facebook.com", "social"),
        ("https://t.co/abc123", PAGE, "", "t.co", "social"),
        ("https://x.com/someone/status/1", PAGE, "", "x.com", "social"),
        ("https://twitter.com/", PAGE, "", "twitter.com", "social"),
        ("https://www.linkedin.com/feed/", PAGE, "", "linkedin.com", "social"),
        ("https://old.reddit.com/r/python", PAGE, "", "old.reddit.com", "social"),
        ("https://l.instagram.com/", PAGE, "", "l.instagram.com", "social"),
        ("https://www.youtube.com/watch?v=1", PAGE, "", "youtube.com", "social"),
        ("https://www.tiktok.com/", PAGE, "", "tiktok.com", "social"),
        ("https://www.pinterest.com/", PAGE, "", "pinterest.com", "social"),
        ("https://mail.google.com/mail/u/0/", PAGE, "", "mail.google.com", "email"),
        ("https://outlook.live.com/mail/0/", PAGE, "", "outlook.live.com", "email"),
        ("", PAGE + "?utm_medium=email", "email", "", "email"),
        ("https://www.google.com/", PAGE, "cpc", "google.com", "paid"),
        ("", PAGE + "?gclid=abc", "", "", "paid"),
        ("https://l.facebook.com/", PAGE + "?fbclid=xyz", "", "l.facebook.com", "paid"),
        ("https://news.example.org/story", PAGE, "", "news.example.org", "referral"),
        ("HTTPS://WWW.Blog.Example:8443/post", PAGE, "", "blog.example", "referral"),
    ],
)
def test_referrer_gives_domain_and_channel(referrer, url, medium, domain, channel):
    enrichment = enriched(event_with(referrer=referrer, url=url, medium=medium))

    assert (enrichment.referrer_domain, enrichment.channel) == (domain, channel)


def test_event_without_page_or_campaign_gets_no_channel():
    assert enriched(event_with()).channel == ""


def test_utm_parameters_of_the_page_url_fill_empty_campaign_fields():
    event = event_with(url="https://shop.example/?utm_source=newsletter&utm_medium=email&utm_campaign=spring%20sale"
                           "&utm_term=running+shoes&utm_content=hero&other=1#top")
    event.context.campaign.source = "sent-by-sdk"

    enrichment = enriched(event)

    campaign = event.context.campaign
    assert (campaign.source, campaign.medium, campaign.name, campaign.term, campaign.content) == (
        "sent-by-sdk", "email", "spring sale", "running shoes", "hero"
    )
    assert enrichment.channel == "email"


def test_utm_parameters_come_from_page_search_when_the_url_has_no_query():
    event = event_with(url="https://shop.example/")
    event.context.page.search = "?utm_source=ads&utm_medium=cpc"

    enrichment = enriched(event)

    assert (event.context.campaign.source, event.context.campaign.medium, enrichment.channel) == ("ads", "cpc", "paid")


def test_percent_encoded_nul_in_utm_values_is_dropped():
    event = event_with(url="https://shop.example/?utm_source=a%00b")

    enriched(event)

    assert event.context.campaign.source == "ab"


def test_every_step_is_timed_and_every_event_counted(geo):
    events = [event_with(user_agent=ua, ip="81.2.69.142", url=PAGE + "?utm_source=x&utm_medium=social",
                         referrer="https://www.google.com/")
              for ua in (CHROME_WINDOWS, SAFARI_IPHONE, FIREFOX_LINUX) * 300]
    stats = EnrichmentStats()
    enrich_batch(events[:3], EnrichmentContext(geo=geo), stats)  # warm the caches
    stats = EnrichmentStats()

    enrich_batch(events, EnrichmentContext(geo=geo), stats)

    # Costs are measured by the benchmark, not asserted here; the cache is pinned by its hit counts above.
    assert set(stats.step_seconds) == {name for name, _ in PIPELINE}
    assert all(seconds > 0 for seconds in stats.step_seconds.values())
    assert stats.events == len(events)


async def test_enrichment_is_stored_end_to_end_and_the_ip_is_not(
    settings, start_ingest_with, processor, project, db
):
    server = await start_ingest_with(settings.model_copy(update={"geoip_database_path": GEO_DB}))
    event = event_with(user_agent=SAFARI_IPHONE, ip="89.160.20.130",
                       url="https://shop.example/pricing?utm_source=newsletter&utm_medium=email&utm_campaign=spring",
                       referrer="https://mail.google.com/mail/u/0/")
    event.enrichment.is_bot = True  # a client cannot set enrichment

    channel, stub = ingest_stub(server.port)
    async with channel:
        ack = await stub.Send(batch_of([event]), metadata=auth(project.write_key))
    assert ack.accepted == 1

    async def stored():
        return await db.fetchrow("SELECT * FROM events WHERE project_id = $1", project.project_id)

    row = await eventually(stored, lambda found: found is not None)
    assert row is not None
    assert {column: row[column] for column in (
        "browser", "browser_version", "os", "os_version", "device_type", "country", "region", "city",
        "referrer_domain", "referrer_channel", "is_bot", "utm_source", "utm_medium", "utm_campaign",
    )} == {
        "browser": "Mobile Safari", "browser_version": "17.4.1", "os": "iOS", "os_version": "17.4.1",
        "device_type": "mobile", "country": "SE", "region": "E", "city": "Linköping",
        "referrer_domain": "mail.google.com", "referrer_channel": "email", "is_bot": False,
        "utm_source": "newsletter", "utm_medium": "email", "utm_campaign": "spring",
    }
    assert not any("89.160.20.130" in str(value) for value in dict(row).values())
    assert server.service.pipeline.stats.enrichment.events == 1
