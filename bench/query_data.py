"""A month of a SaaS product's traffic for the query benchmark, written through the processor's real write path.

Every person first visits anonymously; repeat visits follow a Zipf law over
persons (a few heavy users, a long tail of one-visit ones). A share of persons
sign up on one of their visits (an identify that links the anonymous id to the
user, a person merge) and use their user id after. A visit is a session of
page views and track calls a minute or two apart (40 event names, Zipf over
names), some of them walking the shop funnel product_viewed -> add_to_cart ->
checkout_started -> order_completed with drop-offs. A person keeps one
browser, OS, device and country; a visit's first page view carries its
referrer and utm source.

Events are generated visit by visit in start-time order and written in batches
by `EventWriter`, the processor's own writer (events, rollups, persons,
sessions, daily active persons), from `--writers` concurrent connections, so
the stored rows are the ones production would hold.
"""

import asyncio
import bisect
import itertools
import json
import random
import time
import uuid
from array import array
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import asyncpg

from processor.transform import rows_from_batch
from processor.writer import WRITER_SESSION_SETTINGS, EventWriter, prepare_connection
from storage.database import create_pool
from trackmint.v1 import batch_pb2, event_pb2

FUNNEL = ("product_viewed", "add_to_cart", "checkout_started", "order_completed")
OTHER_EVENTS = tuple(f"feature_{name}" for name in (
    "search", "filter", "share", "export", "invite", "comment", "like", "bookmark", "upload", "download",
    "settings_saved", "theme_changed", "notification_opened", "help_opened", "video_played", "video_paused",
    "report_viewed", "dashboard_viewed", "api_key_created", "integration_added", "plan_viewed",
    "coupon_applied", "review_written", "wishlist_added", "login", "logout", "password_reset",
    "profile_updated", "onboarding_step", "tour_completed", "feedback_sent", "chat_opened", "bulk_edit",
))
"""Track events outside the funnel: with $pageview, signup, the funnel's four and $identify, 40 names in all."""
PAGES = ("/", "/pricing", "/docs", "/blog", "/blog/launch", "/products", "/products/widget", "/cart", "/checkout",
         "/account", "/signup", "/about", "/careers", "/changelog", "/docs/api", "/docs/sdk")
BROWSERS = (("Chrome", "Windows", "desktop"), ("Chrome", "Android", "mobile"), ("Safari", "iOS", "mobile"),
            ("Safari", "Mac OS X", "desktop"), ("Firefox", "Linux", "desktop"), ("Edge", "Windows", "desktop"),
            ("Safari", "iOS", "tablet"))
COUNTRIES = ("US", "DE", "GB", "FR", "IN", "BR", "JP", "CA", "ES", "NL", "SE", "AU")
REFERRERS = (("", "", "direct"), ("https://www.google.com/", "google.com", "search"),
             ("https://news.ycombinator.com/", "news.ycombinator.com", "referral"),
             ("https://t.co/x", "t.co", "social"), ("https://www.bing.com/", "bing.com", "search"))
UTM_SOURCES = ("", "", "", "newsletter", "twitter", "adwords")


@dataclass(frozen=True)
class Shape:
    events: int
    persons: int
    start: datetime
    days: int = 30
    events_per_visit: float = 8.0
    signup_share: float = 0.4
    zipf_exponent: float = 1.1
    seed: int = 2026


def zipf_cumulative_weights(count: int, exponent: float) -> list[float]:
    return list(itertools.accumulate(1.0 / (rank + 1) ** exponent for rank in range(count)))


def plan_visits(shape: Shape, rng: random.Random) -> tuple[array, array]:
    """(start second, person) of every visit, sorted by start: one first visit each, the rest Zipf-distributed."""
    # A visit holds int(Exp(mean)) + 1 events (about mean + 0.5), and a signup visit one more (the identify):
    # enough visits that the events run out near the end of the month, not days before it.
    visits = max(shape.persons, round(shape.events / (shape.events_per_visit + 0.5 + shape.signup_share / 2.5)))
    seconds = shape.days * 86_400
    weights = zipf_cumulative_weights(shape.persons, shape.zipf_exponent)
    persons = list(range(shape.persons)) + rng.choices(range(shape.persons), cum_weights=weights,
                                                       k=visits - shape.persons)
    starts = [rng.randrange(seconds - 3_600) for _ in persons]
    order = sorted(range(visits), key=starts.__getitem__)
    return array("l", (starts[i] for i in order)), array("l", (persons[i] for i in order))


def _event(kind: int, name: str, moment_ns: int, anonymous_id: str, user_id: str, person: int,
           page: str = "", referrer: tuple[str, str, str] = ("", "", "direct"), utm: str = "",
           properties: dict | None = None) -> event_pb2.Event:
    event = event_pb2.Event(message_id=str(uuid.uuid4()), type=kind, name=name, anonymous_id=anonymous_id,
                            user_id=user_id, properties_json=json.dumps(properties) if properties else "")
    event.timestamp.FromNanoseconds(moment_ns)
    if page:
        event.context.page.path = page
        event.context.page.url = f"https://shop.example{page}" + (f"?utm_source={utm}" if utm else "")
        event.context.page.referrer = referrer[0]
    if utm:
        event.context.campaign.source = utm
    browser, os_name, device = BROWSERS[person % len(BROWSERS)]
    enrichment = event.enrichment
    enrichment.browser, enrichment.os, enrichment.device_type = browser, os_name, device
    enrichment.country = COUNTRIES[(person * 7) % len(COUNTRIES)]
    enrichment.referrer_domain, enrichment.channel = referrer[1], referrer[2]
    return event


class VisitGenerator:
    def __init__(self, shape: Shape) -> None:
        self.shape = shape
        self.rng = random.Random(shape.seed)
        self.starts, self.persons = plan_visits(shape, self.rng)
        visits_of = [0] * shape.persons
        for person in self.persons:
            visits_of[person] += 1
        # The visit (0-based, in time order) on which a person signs up; -1 for never.
        self.signup_visit = array("l", (self.rng.randrange(count) if self.rng.random() < shape.signup_share else -1
                                        for count in visits_of))
        self.seen = array("l", bytes(8 * shape.persons))
        self.name_weights = list(itertools.accumulate(1.0 / (rank + 1) for rank in range(len(OTHER_EVENTS))))
        self.start_ns = int(shape.start.timestamp()) * 1_000_000_000

    def events(self) -> Iterator[event_pb2.Event]:
        """The visits' events, visit by visit in start order, stopping at `shape.events`."""
        rng, sent = self.rng, 0
        for start, person in zip(self.starts, self.persons, strict=True):
            visit = self.seen[person]
            self.seen[person] += 1
            signup_at = self.signup_visit[person]
            anonymous_id = f"a{person}"
            user_id = f"u{person}" if 0 <= signup_at < visit else ""
            moment = self.start_ns + start * 1_000_000_000
            length = min(60, max(1, int(rng.expovariate(1 / self.shape.events_per_visit)) + 1))
            referrer = rng.choice(REFERRERS)
            utm = rng.choice(UTM_SOURCES)
            funnel_step = 0 if rng.random() < 0.3 else -1
            for index in range(length):
                moment += rng.randint(5, 180) * 1_000_000_000
                if index == 0:
                    page = rng.choice(PAGES)
                    yield _event(event_pb2.EVENT_TYPE_PAGE, page, moment, anonymous_id, user_id, person, page=page,
                                 referrer=referrer, utm=utm)
                elif visit == signup_at and index == 1:
                    user_id = f"u{person}"
                    yield _event(event_pb2.EVENT_TYPE_TRACK, "signup", moment, anonymous_id, user_id, person,
                                 properties={"plan": rng.choice(("free", "pro", "team"))})
                    moment += 1_000_000_000
                    identify = _event(event_pb2.EVENT_TYPE_IDENTIFY, "", moment, anonymous_id, user_id, person)
                    identify.traits_json = json.dumps({"email": f"person{person}@example.com",
                                                       "plan": rng.choice(("free", "pro"))})
                    yield identify
                    sent += 1
                elif funnel_step >= 0 and rng.random() < 0.5:
                    yield _event(event_pb2.EVENT_TYPE_TRACK, FUNNEL[funnel_step], moment, anonymous_id, user_id,
                                 person, properties={"amount": round(rng.uniform(5, 500), 2), "items": index})
                    funnel_step = funnel_step + 1 if funnel_step < 3 and rng.random() < 0.6 else -1
                elif rng.random() < 0.5:
                    page = rng.choice(PAGES)
                    yield _event(event_pb2.EVENT_TYPE_PAGE, page, moment, anonymous_id, user_id, person, page=page)
                else:
                    name = OTHER_EVENTS[bisect.bisect(self.name_weights, rng.random() * self.name_weights[-1])]
                    yield _event(event_pb2.EVENT_TYPE_TRACK, name, moment, anonymous_id, user_id, person,
                                 properties={"plan": ("free", "pro", "team")[person % 3], "count": index})
                sent += 1
                if sent >= self.shape.events:
                    return


async def load(database_url: str, project_id: str, shape: Shape, *, writers: int = 2, batch_size: int = 2000,
               progress: bool = True) -> dict:
    """Write the data set into the project; figures of the load."""
    pool = await create_pool(database_url, size=writers, init=prepare_connection,
                             server_settings=WRITER_SESSION_SETTINGS)
    queue: asyncio.Queue = asyncio.Queue(maxsize=writers * 2)
    stored = 0

    async def write_batches() -> None:
        nonlocal stored
        writer = EventWriter(pool)
        while (rows := await queue.get()) is not None:
            written = await writer.write(rows)
            stored += written

    began = time.monotonic()
    tasks = [asyncio.create_task(write_batches()) for _ in range(writers)]
    generator = VisitGenerator(shape)
    batch: list[event_pb2.Event] = []
    generated = 0
    for event in generator.events():
        batch.append(event)
        if len(batch) == batch_size:
            await queue.put(rows_from_batch(_batch(project_id, batch)))
            generated += len(batch)
            batch = []
            if progress and generated % (batch_size * 250) == 0:
                rate = generated / (time.monotonic() - began)
                print(f"  {generated:,} events written or queued ({rate:,.0f}/s)", flush=True)
    if batch:
        await queue.put(rows_from_batch(_batch(project_id, batch)))
        generated += len(batch)
    for _ in tasks:
        await queue.put(None)
    await asyncio.gather(*tasks)
    await pool.close()
    seconds = time.monotonic() - began
    return {"events_generated": generated, "events_stored": stored, "seconds": round(seconds, 1),
            "events_per_second": round(stored / seconds)}


def _batch(project_id: str, events: list[event_pb2.Event]) -> batch_pb2.IngestedBatch:
    batch = batch_pb2.IngestedBatch(project_id=project_id, events=events)
    batch.received_at.FromDatetime(datetime.now(UTC))
    return batch


async def summary(connection: asyncpg.Connection, project_id: str) -> dict:
    """What the data set holds, as counted from the stored tables."""
    row = await connection.fetchrow(
        """
        SELECT (SELECT count(*) FROM events WHERE project_id = $1) AS events,
               (SELECT count(*) FROM persons WHERE project_id = $1 AND merged_into IS NULL) AS persons,
               (SELECT count(*) FROM persons WHERE project_id = $1 AND merged_into IS NOT NULL) AS merged_persons,
               (SELECT count(*) FROM sessions WHERE project_id = $1) AS sessions,
               (SELECT count(DISTINCT event) FROM event_counts WHERE project_id = $1) AS event_names,
               (SELECT count(*) FROM person_days WHERE project_id = $1) AS person_days,
               pg_size_pretty(pg_database_size(current_database())) AS database_size
        """,
        uuid.UUID(project_id),
    )
    return dict(row)


def month_start(days: int) -> datetime:
    """Midnight UTC `days` days before today's: the data set ends where today begins."""
    today = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    return today - timedelta(days=days)
