"""Analytics query speed on a month of realistic traffic; prints JSON.

    python -m bench.query                       # 10M events, 500k persons: about half an hour to load
    python -m bench.query --events 200000 --persons 10000
    python -m bench.query --keep                # keep the database; its URL is printed
    python -m bench.query --database-url URL    # time the queries on a database kept before

The data set (bench/query_data.py) is written through the processor's own
writer into a fresh database on the server TRACKMINT_DATABASE_URL names (or a
private embedded PostgreSQL), then VACUUM ANALYZE'd as autovacuum would leave
it. Each query runs as the GraphQL resolvers run it (the same functions, on
one connection): once cold (a new connection, nothing cached in the backend:
plans, catalog) and then `--repeat` times warm; the report gives the cold time
and the warm median and maximum, in milliseconds, beside the target.
"""

import argparse
import asyncio
import json
import os
import platform
import statistics
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from pathlib import Path

import asyncpg

from bench.query_data import FUNNEL, Shape, load, month_start, summary
from cli.embedded import EmbeddedPostgres
from query.analytics.filters import PropertyRef
from query.analytics.get_active_users import get_active_users
from query.analytics.get_funnel import FunnelSpec, FunnelStepSpec, get_funnel
from query.analytics.get_journey import get_person_journey
from query.analytics.get_paths import PathDirection, get_paths
from query.analytics.get_realtime import get_realtime
from query.analytics.get_retention import EventSpec, RetentionMode, RetentionPeriod, get_retention
from query.analytics.get_sessions import SessionDimension, SummaryPart, get_sessions
from query.analytics.get_top_values import TopDimension, get_top_values
from query.analytics.get_trends import Math, SeriesSpec, get_trends
from query.analytics.intervals import Interval
from query.errors import QueryError
from storage.migrations import migrate

Query = Callable[[asyncpg.Connection], Awaitable[object]]


def queries(project_id: uuid.UUID, start: datetime, end: datetime, heavy_person: uuid.UUID,
            typical_person: uuid.UUID) -> dict[str, tuple[float, Query]]:
    """Name -> (target in ms, the query)."""
    month = {"date_from": start, "date_to": end}
    common = {"project_id": project_id, "timezone": "UTC", **month}

    def trends(series: list[SeriesSpec], **options) -> Query:
        return lambda c: get_trends(c, series=series, interval=options.pop("interval", Interval.DAY), **common,
                                    **options)

    funnel = FunnelSpec(project_id=project_id, steps=tuple(FunnelStepSpec(name) for name in FUNNEL), **month,
                        window=timedelta(days=1))
    return {
        "trends_total_day": (150, trends([SeriesSpec("$pageview", Math.TOTAL)])),
        "trends_all_events_hour": (150, trends([SeriesSpec(None, Math.TOTAL)], interval=Interval.HOUR)),
        "trends_unique_persons_day": (150, trends([SeriesSpec("$pageview", Math.UNIQUE_PERSONS)])),
        "trends_sum_amount_day": (150, trends([SeriesSpec("order_completed", Math.SUM, "amount")])),
        "trends_breakdown_browser": (150, trends([SeriesSpec("product_viewed", Math.TOTAL)],
                                                 breakdown=PropertyRef("$browser"))),
        "funnel_4_steps": (2000, lambda c: get_funnel(c, funnel)),
        "retention_8_weeks": (2000, lambda c: get_retention(
            c, start=EventSpec("$pageview"), returning=EventSpec("$pageview"), period=RetentionPeriod.WEEK,
            periods=8, mode=RetentionMode.FIRST_TIME, **common)),
        "retention_8_weeks_signup_to_order": (2000, lambda c: get_retention(
            c, start=EventSpec("signup"), returning=EventSpec("order_completed"), period=RetentionPeriod.WEEK,
            periods=8, mode=RetentionMode.FIRST_TIME, **common)),
        "active_users_dau_wau_mau": (300, lambda c: get_active_users(c, **common)),
        "active_users_of_pageviews": (300, lambda c: get_active_users(c, event="$pageview", **common)),
        # As the dashboard asks: counts, averages and rates (the hourly rollup), and with distinct persons and
        # medians too (every session of the month).
        "sessions_summary": (1000, lambda c: get_sessions(c, **common, interval=Interval.DAY, distribution=())),
        "sessions_by_channel": (1000, lambda c: get_sessions(c, **common, distribution=(),
                                                             breakdown=SessionDimension.REFERRER_CHANNEL)),
        "sessions_totals_with_persons_and_median": (1000, lambda c: get_sessions(
            c, **common, interval=Interval.DAY, distribution={SummaryPart.TOTALS})),
        "sessions_every_part_with_persons_and_medians": (1000, lambda c: get_sessions(c, **common,
                                                                                       interval=Interval.DAY)),
        "top_pages": (1000, lambda c: get_top_values(c, project_id=project_id, **month,
                                                     dimension=TopDimension.PAGE)),
        "top_countries": (1000, lambda c: get_top_values(c, project_id=project_id, **month,
                                                         dimension=TopDimension.COUNTRY)),
        "paths_after_signup": (2000, lambda c: get_paths(c, project_id=project_id, **month, start_event="signup",
                                                         direction=PathDirection.NEXT, depth=3)),
        "journey_heaviest_person": (50, lambda c: get_person_journey(c, project_id=project_id,
                                                                     person_id=heavy_person)),
        "journey_typical_person": (50, lambda c: get_person_journey(c, project_id=project_id,
                                                                    person_id=typical_person)),
        "realtime": (150, lambda c: get_realtime(c, project_id=project_id, now=end)),
    }


async def time_queries(database_url: str, named: dict[str, tuple[float, Query]], repeat: int) -> dict:
    results = {}
    for name, (target, run) in named.items():
        connection = await asyncpg.connect(database_url)
        try:
            began = time.perf_counter()
            await run(connection)
            cold = (time.perf_counter() - began) * 1000
            warm = []
            for _ in range(repeat):
                began = time.perf_counter()
                await run(connection)
                warm.append((time.perf_counter() - began) * 1000)
        except QueryError as error:  # the statement timeout, say: reported, and the other queries still run
            results[name] = {"target_ms": target, "error": error.message}
            print(f"  {name}: {error.message}", flush=True)
            continue
        finally:
            await connection.close()
        median = statistics.median(warm)
        results[name] = {"target_ms": target, "cold_ms": round(cold, 1), "warm_median_ms": round(median, 1),
                         "warm_max_ms": round(max(warm), 1), "meets_target": median <= target}
        print(f"  {name}: cold {cold:.0f} ms, warm median {median:.0f} ms (target {target:.0f})", flush=True)
    return results


async def people_to_follow(connection: asyncpg.Connection, project_id: uuid.UUID) -> tuple[uuid.UUID, uuid.UUID]:
    """The person with the most sessions, and one with the median number."""
    rows = await connection.fetch(
        "SELECT person_id, count(*) AS sessions FROM sessions WHERE project_id = $1 GROUP BY person_id"
        " ORDER BY sessions DESC", project_id)
    return rows[0]["person_id"], rows[len(rows) // 2]["person_id"]


async def create_database(server_url: str) -> str:
    name = f"trackmint_bench_query_{uuid.uuid4().hex[:8]}"
    admin = await asyncpg.connect(server_url)
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()
    return server_url.rsplit("/", 1)[0] + f"/{name}"


async def drop_database(database_url: str) -> None:
    server_url, name = database_url.rsplit("/", 1)
    admin = await asyncpg.connect(f"{server_url}/postgres")
    try:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await admin.close()


async def prepare(arguments: argparse.Namespace, database_url: str) -> tuple[uuid.UUID, dict]:
    """A project holding the data set: loaded now, or found in a database kept earlier."""
    connection = await asyncpg.connect(database_url)
    try:
        await migrate(connection)
        project_id = await connection.fetchval("SELECT id FROM projects WHERE name = 'bench-query'")
        if project_id is not None:
            return project_id, {"reused": True}
        project_id = await connection.fetchval("INSERT INTO projects (name) VALUES ('bench-query') RETURNING id")
    finally:
        await connection.close()
    shape = Shape(events=arguments.events, persons=arguments.persons, start=month_start(arguments.days),
                  days=arguments.days)
    print(f"loading {shape.events:,} events of {shape.persons:,} persons", flush=True)
    figures = await load(database_url, str(project_id), shape, writers=arguments.writers)
    connection = await asyncpg.connect(database_url)
    try:
        began = time.monotonic()
        await connection.execute("VACUUM ANALYZE")
        figures["vacuum_analyze_seconds"] = round(time.monotonic() - began, 1)
    finally:
        await connection.close()
    return project_id, figures


async def run(arguments: argparse.Namespace, database_url: str, embedded: bool) -> dict:
    project_id, load_figures = await prepare(arguments, database_url)
    connection = await asyncpg.connect(database_url)
    try:
        data = await summary(connection, str(project_id))
        first, last = await connection.fetchrow(
            "SELECT min(minute), max(minute) FROM event_counts WHERE project_id = $1", project_id)
        heavy, typical = await people_to_follow(connection, project_id)
        server = await connection.fetchval("SHOW server_version")
        settings = {name: await connection.fetchval(f"SHOW {name}")
                    for name in ("shared_buffers", "work_mem", "max_parallel_workers_per_gather")}
    finally:
        await connection.close()
    start = first.replace(hour=0, minute=0, second=0, microsecond=0)
    end = last.replace(hour=0, minute=0, second=0, microsecond=0) + timedelta(days=1)
    print(f"timing queries over {start:%Y-%m-%d} .. {end:%Y-%m-%d}", flush=True)
    named = queries(project_id, start, end, heavy, typical)
    if arguments.only:
        named = {name: named[name] for name in arguments.only}
    results = await time_queries(database_url, named, arguments.repeat)
    return {
        "benchmark": "query",
        "conditions": {
            "machine": f"{os.cpu_count()} cores, {platform.machine()}, {platform.python_version()}",
            "postgresql": server + (" (embedded)" if embedded else ""),
            "settings": settings,
            "range": [start.isoformat(), end.isoformat()],
            "repeat": arguments.repeat,
        },
        "load": load_figures,
        "data": data,
        "queries": results,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=10_000_000)
    parser.add_argument("--persons", type=int, default=500_000)
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--writers", type=int, default=2, help="concurrent writer connections while loading")
    parser.add_argument("--repeat", type=int, default=5, help="warm runs per query")
    parser.add_argument("--database-url", help="a database loaded by an earlier --keep run")
    parser.add_argument("--only", nargs="*", help="time only these queries (names as in the report)")
    parser.add_argument("--keep", action="store_true", help="keep the loaded database for later runs")
    arguments = parser.parse_args()

    embedded_server = None
    database_url = arguments.database_url
    if database_url is None:
        server_url = os.environ.get("TRACKMINT_DATABASE_URL")
        if not server_url:
            embedded_server = EmbeddedPostgres(Path(tempfile.mkdtemp(prefix="trackmint-bench-query-"))).start()
            server_url = embedded_server.url
        database_url = asyncio.run(create_database(server_url))
    try:
        report = asyncio.run(run(arguments, database_url, embedded_server is not None))
        if arguments.keep:
            report["database_url"] = database_url
        print(json.dumps(report, indent=2, default=str))
    finally:
        if arguments.database_url is None and not arguments.keep:
            asyncio.run(drop_database(database_url))
        if embedded_server is not None and not arguments.keep:
            embedded_server.stop()


if __name__ == "__main__":
    main()
