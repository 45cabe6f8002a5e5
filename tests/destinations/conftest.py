"""A real HTTP target, destinations replicas, and events published the way ingest publishes them.

- `target`: a uvicorn server on 127.0.0.1:0 keeping every POST it answered 2xx (and every one it refused);
  a path can be told to fail its next N requests, to fail for good, or to hang, to play a broken target.
- `start_replica`: destinations replicas with fast retries over the test's database and NATS namespace.
- `publish`: events onto the test's events stream through ingest's own publisher.
"""

import asyncio
import secrets
import socket
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from uuid import UUID

import asyncpg
import orjson
import pytest
import uvicorn
from nats.js import JetStreamContext
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from config import Settings
from destinations.delivery import destination_secret
from destinations.service import DestinationsService, start_destinations
from ingest.publisher import EventPublisher
from messaging.names import Names
from storage import destinations
from storage.projects import CreatedProject
from tests.payloads import track_event
from tests.query.tenant import Caller, create_organization, create_owned_project
from webhooks.signing import new_nonce


@dataclass
class Post:
    path: str
    headers: dict[str, str]
    body: bytes
    status: int

    @property
    def json(self) -> dict:
        return orjson.loads(self.body)


@dataclass
class Target:
    url: str
    posts: list[Post] = field(default_factory=list)
    fail_next: dict[str, int] = field(default_factory=dict)
    # path -> "down" (HTTP 503 on every request) or "hang" (no answer until cleared)
    mode: dict[str, str] = field(default_factory=dict)

    def accepted(self, path: str) -> list[Post]:
        return [post for post in self.posts if post.path == path and post.status < 300]

    def refused(self, path: str) -> list[Post]:
        return [post for post in self.posts if post.path == path and post.status >= 300]

    def events(self, path: str) -> list[dict]:
        """Every event the path accepted, in the order it accepted them."""
        return [event for post in self.accepted(path) for event in post.json["events"]]


@pytest.fixture
async def target() -> AsyncIterator[Target]:
    state = Target("")

    async def receive(request: Request) -> Response:
        body = await request.body()
        path = request.url.path
        if state.mode.get(path) == "hang":
            for _ in range(600):
                if state.mode.get(path) != "hang":
                    break
                await asyncio.sleep(0.05)
            return Response("gave up", status_code=504)
        if state.mode.get(path) == "down" or state.fail_next.get(path, 0) > 0:
            if state.fail_next.get(path, 0) > 0:
                state.fail_next[path] -= 1
            state.posts.append(Post(path, dict(request.headers), body, 503))
            return JSONResponse({"error": "unavailable"}, status_code=503)
        state.posts.append(Post(path, dict(request.headers), body, 200))
        return Response("ok")

    app = Starlette(routes=[Route("/{path:path}", receive, methods=["POST"])])
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning", lifespan="off"))
    task = asyncio.create_task(server.serve())
    async with asyncio.timeout(10):
        while not server.started:
            if task.done():
                task.result()
            await asyncio.sleep(0.01)
    state.url = f"http://127.0.0.1:{server.servers[0].sockets[0].getsockname()[1]}"
    try:
        yield state
    finally:
        state.mode.clear()
        server.should_exit = True
        server.force_exit = True
        async with asyncio.timeout(10):
            await task


def refused_url() -> str:
    """A URL nothing listens on: connection refused."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return f"http://127.0.0.1:{port}/hook"


@pytest.fixture
def dest_settings(settings: Settings) -> Settings:
    """Fast retries and refreshes, and a lock key of the test's own."""
    return settings.model_copy(update={
        "destinations_lock_key": secrets.randbits(62),
        "destinations_leader_retry_seconds": 0.2,
        "destinations_leader_check_seconds": 0.2,
        "destinations_refresh_seconds": 0.1,
        "destinations_fetch_timeout_seconds": 0.2,
        "destinations_retry_base_seconds": 0.05,
        "destinations_retry_max_seconds": 0.2,
        "destinations_max_attempts": 5,
        "destinations_delivery_timeout_seconds": 1.0,
        "destinations_ack_wait_seconds": 2.0,
    })


@pytest.fixture
async def caller(db: asyncpg.Connection, settings: Settings) -> Caller:
    return await create_organization(db, settings, "Destinations")


@pytest.fixture
async def project(db: asyncpg.Connection, caller: Caller) -> AsyncIterator[CreatedProject]:
    created = await create_owned_project(db, caller.organization_id, f"dest-{secrets.token_hex(3)}")
    yield created
    # Replicas run every destination of the database: leave none behind for the next test's.
    await db.execute("DELETE FROM destinations WHERE project_id = $1", created.project_id)


@pytest.fixture
async def start_replica(dest_settings: Settings) -> AsyncIterator:
    started: list[DestinationsService] = []

    async def start(name: str = "destinations") -> DestinationsService:
        service = await start_destinations(dest_settings, name=name)
        started.append(service)
        return service

    yield start
    for service in started:
        await service.stop()


@dataclass
class Created:
    id: UUID
    secret: str


async def add_destination(db: asyncpg.Connection, settings: Settings, project_id: UUID, url: str,
                          filter: dict | None = None, enabled: bool = True) -> Created:
    nonce = new_nonce()
    destination_id = await destinations.insert_destination(
        db, project_id, name="hook", url=url, filter=filter or {"events": [], "properties": []}, enabled=enabled,
        secret_nonce=nonce, created_by=None)
    return Created(destination_id, destination_secret(settings.secret_key, nonce))


@pytest.fixture
async def publish(jetstream: JetStreamContext, settings: Settings):
    """Publish events (tests.payloads.track_event) for a project, as ingest does: one stream message per call."""
    nc = jetstream._nc  # the fixture's connection
    publisher = EventPublisher(nc, jetstream, Names(settings.nats_namespace))

    async def send(project_id: UUID, events: list) -> None:
        await publisher.publish(str(project_id), events, time.time_ns())

    return send


def person_events(persons: int, per_person: int, name: str = "signup") -> list:
    """Events of several persons interleaved, each person's numbered 0.. in `properties.n`."""
    return [track_event(name, user_id=f"user-{person}", properties={"n": n})
            for n in range(per_person) for person in range(persons)]


async def wait_for(predicate, within: float = 15.0, every: float = 0.05) -> None:
    async with asyncio.timeout(within):
        while True:
            result = predicate()
            if asyncio.iscoroutine(result):
                result = await result
            if result:
                return
            await asyncio.sleep(every)
