"""Streamed exports hold a pooled connection each: at most half the pool at once per replica, and a client
that leaves mid-way gives its slot and connection back."""

import asyncio
from contextlib import AsyncExitStack
from datetime import UTC, datetime

import asyncpg
import httpx

from config import Settings
from tests.query.servers import start_server, stop_server
from tests.query.tenant import Caller, create_owned_project

EVENTS = 30_000
"""With 1 kB each, far more than the sockets buffer: a stream whose client stops reading stays open."""

START = datetime(2026, 2, 2, tzinfo=UTC)
RANGE = {"from": "2026-02-01T00:00:00Z", "to": "2026-03-01T00:00:00Z"}


async def _insert_events(connection: asyncpg.Connection, project_id: object) -> None:
    await connection.execute("SELECT ensure_events_partition($1::date)", START.date().replace(day=1))
    await connection.execute(
        """
        INSERT INTO events (project_id, event_time, message_id, type, event, name, anonymous_id, distinct_id,
                            properties, received_at)
        SELECT $1, $2::timestamptz + n * interval '1 second', 's' || lpad(n::text, 6, '0'), 1, 'Signed Up', '',
               'anon-' || (n % 100), 'anon-' || (n % 100), jsonb_build_object('note', repeat('x', 1000)),
               $2::timestamptz
        FROM generate_series(0, $3 - 1) AS n
        """,
        project_id, START, EVENTS,
    )


async def _open_and_read_one_chunk(stack: AsyncExitStack, http: httpx.AsyncClient, params: dict,
                                   within: float = 10) -> None:
    """Take a slot, waiting `within` seconds at most for one that an earlier client left to come back (the
    server returns it when it notices the disconnect, a moment after the client closed)."""
    async with asyncio.timeout(within):
        while True:
            response = await stack.enter_async_context(http.stream("GET", "/export/events.csv", params=params))
            if response.status_code == 200:
                break
            assert response.status_code == 429
            await response.aclose()
            await asyncio.sleep(0.1)
    # Kept referenced: a collected iterator would be finalized, and close the response.
    chunks = response.aiter_bytes()
    stack.push_async_callback(chunks.aclose)
    assert await anext(chunks)


async def test_exports_past_half_the_pool_wait_and_clients_leaving_give_their_slot_back(
    module_db: asyncpg.Connection, caller: Caller, query_settings: Settings
) -> None:
    project = await create_owned_project(module_db, caller.organization_id, "export-slots")
    await _insert_events(module_db, project.project_id)
    params = {"projectId": str(project.project_id), **RANGE}
    slots = query_settings.database_pool_size // 2
    assert slots == 2, "the suite's query service has a pool of 4"
    server, task, url = await start_server(query_settings)
    try:
        async with httpx.AsyncClient(base_url=url, headers=caller.headers, timeout=30) as http:
            for _ in range(3):
                # Every slot taken by a client that read one chunk and then sits there...
                async with AsyncExitStack() as stack:
                    for _ in range(slots):
                        await _open_and_read_one_chunk(stack, http, params)
                    busy = await http.get("/export/events.csv", params=params)
                    assert busy.status_code == 429 and busy.headers["retry-after"]
                    assert busy.json()["code"] == "RATE_LIMITED"
                    # ...and GraphQL still answers from the other half of the pool.
                    answer = await http.post("/graphql", json={"query": "{ projects { id } }"})
                    assert "errors" not in answer.json()
                # ...then leaves mid-way: the slots come back (the next round would find them gone otherwise).

            async with asyncio.timeout(10):
                while True:
                    complete = await http.get("/export/events.csv", params=params)
                    if complete.status_code != 429:
                        break
                    await asyncio.sleep(0.1)
        assert complete.status_code == 200
        assert len(complete.text.splitlines()) == EVENTS + 1
    finally:
        await stop_server(server, task)
    # No transaction of an abandoned export is left open on the server's connections.
    idle = await module_db.fetchval(
        "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()"
        " AND state = 'idle in transaction' AND pid <> pg_backend_pid()"
    )
    assert idle == 0

