"""Per-event enrichment of accepted events as an ordered list of named steps.

Enrichment runs after validation and never rejects: each step reads the
event's context and fills `event.enrichment` (or empty campaign fields). The
first step clears whatever a client put in `enrichment`, so only ingest sets it.
Steps run over the whole batch one after another and are timed per batch,
like the validation steps.

Hot-path costs: user agents repeat a lot, so parsed user agents are cached by
the whole string; referrer hosts are classified through a cache as well; the
geo reader is opened once at server start and shared.
"""

import logging
import re
import time
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from urllib.parse import parse_qsl, urlsplit

import maxminddb
import ua_parser

from trackmint.v1 import event_pb2

logger = logging.getLogger(__name__)

DESKTOP, MOBILE, TABLET, BOT, OTHER = "desktop", "mobile", "tablet", "bot", "other"
"""Device types."""

DIRECT, SEARCH, SOCIAL, EMAIL, PAID, REFERRAL = "direct", "search", "social", "email", "paid", "referral"
"""Referrer channels."""

_BOT_PATTERN = re.compile(r"bot|crawl|spider|slurp|headless|facebookexternalhit|lighthouse", re.IGNORECASE)
_TABLET_PATTERN = re.compile(r"ipad|tablet|kindle|silk/|playbook|nexus (?:7|9|10)\b", re.IGNORECASE)
_MOBILE_OS = frozenset({"iOS", "Android", "Windows Phone", "BlackBerry OS", "KaiOS", "Firefox OS", "Symbian OS",
                        "HarmonyOS", "Tizen"})
_DESKTOP_OS = frozenset({"Windows", "Mac OS X", "macOS", "Linux", "Ubuntu", "Fedora", "Debian", "Chrome OS",
                         "ChromeOS", "FreeBSD", "OpenBSD", "NetBSD", "Mint", "Arch Linux", "Gentoo", "SUSE",
                         "Red Hat", "Solaris"})

# A referrer host is matched by one of its dot-separated labels (google.co.uk, www.bing.com)
# or, for hosts whose name is too short or generic to match by label, by the host and its parents.
_SEARCH_LABELS = frozenset({"google", "bing", "duckduckgo", "yahoo", "baidu", "yandex", "ecosia", "qwant",
                            "startpage", "naver", "seznam", "sogou"})
_SEARCH_HOSTS = frozenset({"search.brave.com", "search.aol.com", "ask.com", "kagi.com"})
_SOCIAL_LABELS = frozenset({"facebook", "twitter", "linkedin", "reddit", "instagram", "youtube", "tiktok",
                            "pinterest", "tumblr", "quora", "snapchat", "whatsapp", "telegram", "discord",
                            "mastodon", "vk"})
_SOCIAL_HOSTS = frozenset({"x.com", "t.co", "fb.com", "fb.me", "lnkd.in", "youtu.be", "threads.net", "bsky.app",
                           "news.ycombinator.com", "t.me"})
_EMAIL_HOSTS = frozenset({"outlook.live.com", "outlook.office.com", "outlook.office365.com"})
_PAID_MEDIUMS = frozenset({"cpc", "ppc", "paid", "paidsearch", "paid_search", "paid-search", "paid_social",
                           "paid-social", "paidsocial", "display", "cpm", "cpv", "banner"})
_EMAIL_MEDIUMS = frozenset({"email", "e-mail", "e_mail", "newsletter"})
_SOCIAL_MEDIUMS = frozenset({"social", "social-network", "social_network", "social-media", "sm"})
_CLICK_IDS = ("gclid=", "fbclid=", "msclkid=", "dclid=", "wbraid=", "gbraid=")

# utm_* parameter → Campaign field.
_UTM_FIELDS = {"utm_source": "source", "utm_medium": "medium", "utm_campaign": "name", "utm_term": "term",
               "utm_content": "content"}
_MAX_UTM_LENGTH = 500


@dataclass(frozen=True)
class UserAgent:
    browser: str = ""
    browser_version: str = ""
    os: str = ""
    os_version: str = ""
    device_type: str = OTHER
    is_bot: bool = False


def _version(*parts: str | None) -> str:
    return ".".join(part for part in parts if part)


def _device_type(user_agent: str, os: str, device_family: str, is_bot: bool) -> str:
    if is_bot:
        return BOT
    if _TABLET_PATTERN.search(user_agent) or (os == "Android" and "Mobile" not in user_agent):
        return TABLET
    if os in _MOBILE_OS or device_family == "iPhone" or "Mobi" in user_agent:
        return MOBILE
    if os in _DESKTOP_OS:
        return DESKTOP
    return OTHER


@lru_cache(maxsize=16_384)
def parse_user_agent(user_agent: str) -> UserAgent:
    """Browser, OS and device type of a user agent string; cached because the same strings recur."""
    result = ua_parser.parse(user_agent)
    agent, os, device = result.user_agent, result.os, result.device
    browser = agent.family if agent and agent.family != "Other" else ""
    os_name = os.family if os and os.family != "Other" else ""
    device_family = device.family if device else ""
    # A recognised device brand (a phone maker called "Cubot", say) outweighs a "bot" inside its name.
    is_bot = device_family == "Spider" or (
        not (device and device.brand and device.brand != "Spider") and _BOT_PATTERN.search(user_agent) is not None
    )
    return UserAgent(
        browser=browser,
        browser_version=_version(agent.major, agent.minor, agent.patch) if browser else "",
        os=os_name,
        os_version=_version(os.major, os.minor, os.patch) if os_name else "",
        device_type=_device_type(user_agent, os_name, device_family, is_bot),
        is_bot=is_bot,
    )


def normalize_host(host: str | None) -> str:
    """Lower-case host without a leading `www.`."""
    if not host:
        return ""
    host = host.lower().rstrip(".")
    return host.removeprefix("www.")


@lru_cache(maxsize=16_384)
def url_host(url: str) -> str:
    """The normalized host of a URL, or of a bare `host/path` text; empty when there is none."""
    if not url:
        return ""
    try:
        parts = urlsplit(url if "//" in url else "//" + url)
        return normalize_host(parts.hostname)
    except ValueError:  # malformed, e.g. an invalid IPv6 literal or port
        return ""


def _matches(host: str, labels: frozenset[str], hosts: frozenset[str]) -> bool:
    if not labels.isdisjoint(host.split(".")):
        return True
    while host:
        if host in hosts:
            return True
        _, _, host = host.partition(".")
    return False


@lru_cache(maxsize=8192)
def host_channel(host: str) -> str:
    """The channel a referring host implies on its own: search, social, email or referral."""
    if host.startswith(("mail.", "webmail.")) or _matches(host, frozenset(), _EMAIL_HOSTS):
        return EMAIL
    if _matches(host, _SEARCH_LABELS, _SEARCH_HOSTS):
        return SEARCH
    if _matches(host, _SOCIAL_LABELS, _SOCIAL_HOSTS):
        return SOCIAL
    return REFERRAL


def referrer_channel(referrer_host: str, page_url: str, page_host: str, medium: str) -> str:
    """Campaign tags and click ids first (email links carry no referrer), then the referring host."""
    medium = medium.lower()
    if medium in _PAID_MEDIUMS or any(click_id in page_url for click_id in _CLICK_IDS):
        return PAID
    if medium in _EMAIL_MEDIUMS:
        return EMAIL
    if not referrer_host or referrer_host == page_host:
        return SOCIAL if medium in _SOCIAL_MEDIUMS else DIRECT
    channel = host_channel(referrer_host)
    if channel == REFERRAL and medium in _SOCIAL_MEDIUMS:
        return SOCIAL
    return channel


Location = tuple[str, str, str]  # (country ISO code, first subdivision ISO code, English city name)
_NOWHERE: Location = ("", "", "")


class GeoLocator:
    """Country, region and city of IP addresses from a MaxMind City database, with recent answers cached.

    Decoding a record (names in every language) costs several microseconds, and a visitor's
    address recurs across their events, so answers are cached by address.
    """

    def __init__(self, reader: maxminddb.Reader, cache_size: int = 65_536) -> None:
        self._reader = reader
        self.locate: Callable[[str], Location] = lru_cache(maxsize=cache_size)(self._locate)

    def _locate(self, address: str) -> Location:
        try:
            record = self._reader.get(address)
        except ValueError:  # not an IP address
            return _NOWHERE
        if not isinstance(record, dict):
            return _NOWHERE
        subdivisions = record.get("subdivisions")
        return (
            (record.get("country") or {}).get("iso_code", ""),
            subdivisions[0].get("iso_code", "") if subdivisions else "",
            ((record.get("city") or {}).get("names") or {}).get("en", ""),
        )

    def close(self) -> None:
        self._reader.close()


def open_geo_database(path: Path | None) -> GeoLocator | None:
    """Open the MaxMind City database once (at server start); None when no path is configured."""
    if path is None:
        return None
    reader = maxminddb.open_database(str(path))
    logger.info("geo enrichment from %s (%s)", path, reader.metadata().database_type)
    return GeoLocator(reader)


@dataclass(frozen=True)
class EnrichmentContext:
    """What the steps share: the geo locator, None when geo enrichment is off."""

    geo: GeoLocator | None = None


def clear_enrichment(event: event_pb2.Event, context: EnrichmentContext) -> None:
    event.ClearField("enrichment")


def enrich_user_agent(event: event_pb2.Event, context: EnrichmentContext) -> None:
    text = event.context.user_agent
    if not text:
        return
    agent = parse_user_agent(text)
    enrichment = event.enrichment
    enrichment.browser = agent.browser
    enrichment.browser_version = agent.browser_version
    enrichment.os = agent.os
    enrichment.os_version = agent.os_version
    enrichment.device_type = agent.device_type
    enrichment.is_bot = agent.is_bot


def enrich_geo(event: event_pb2.Event, context: EnrichmentContext) -> None:
    geo, address = context.geo, event.context.ip
    if geo is None or not address:
        return
    country, region, city = geo.locate(address)
    if country:
        enrichment = event.enrichment
        enrichment.country, enrichment.region, enrichment.city = country, region, city


def _query_of(page: event_pb2.Page) -> str:
    url = page.url
    if "?" in url:
        return url.partition("?")[2].partition("#")[0]
    return page.search.removeprefix("?")


def enrich_campaign(event: event_pb2.Event, context: EnrichmentContext) -> None:
    """utm_* parameters of the page URL fill the campaign fields the client left empty."""
    page = event.context.page
    query = _query_of(page)
    if "utm_" not in query:
        return
    campaign = event.context.campaign
    for name, value in _utm_parameters(query):
        if not getattr(campaign, name):
            setattr(campaign, name, value)


@lru_cache(maxsize=16_384)
def _utm_parameters(query: str) -> tuple[tuple[str, str], ...]:
    """(campaign field, value) pairs of a query string; cached, as a site's tagged links recur."""
    return tuple(
        # A percent-encoded NUL would be unstorable in PostgreSQL text.
        (_UTM_FIELDS[key], value.replace("\x00", "")[:_MAX_UTM_LENGTH])
        for key, value in parse_qsl(query) if key in _UTM_FIELDS and value
    )


def enrich_referrer(event: event_pb2.Event, context: EnrichmentContext) -> None:
    """Referrer domain and channel; no channel for events without a page or campaign to judge by."""
    page, medium = event.context.page, event.context.campaign.medium
    if not (page.url or page.referrer or medium):
        return
    enrichment = event.enrichment
    enrichment.referrer_domain, enrichment.channel = _referral(page.referrer, page.url, medium)


@lru_cache(maxsize=16_384)
def _referral(referrer: str, page_url: str, medium: str) -> tuple[str, str]:
    """(referrer domain, channel); cached, as the same referrer/page/medium triples recur."""
    referrer_host = url_host(referrer)
    page_host = url_host(page_url) if referrer_host else ""
    return referrer_host, referrer_channel(referrer_host, page_url, page_host, medium)


Step = Callable[[event_pb2.Event, EnrichmentContext], None]

PIPELINE: tuple[tuple[str, Step], ...] = (
    ("clear", clear_enrichment),
    ("user_agent", enrich_user_agent),
    ("geo", enrich_geo),
    ("campaign", enrich_campaign),
    ("referrer", enrich_referrer),
)
"""In order: campaign runs before referrer because the channel depends on utm_medium."""


@dataclass
class EnrichmentStats:
    """Running totals since start: time spent per step and events enriched."""

    step_seconds: Counter = field(default_factory=Counter)
    events: int = 0


def enrich_batch(events: Iterable[event_pb2.Event], context: EnrichmentContext, stats: EnrichmentStats) -> None:
    """Run every step over the events, in place."""
    events = list(events)
    for name, step in PIPELINE:
        started = time.perf_counter()
        for event in events:
            step(event, context)
        stats.step_seconds[name] += time.perf_counter() - started
    stats.events += len(events)
