"""Real receivers for alert notices, a movable clock, and alerting replicas over the test database.

- `smtp`: an aiosmtpd server on 127.0.0.1 (in its own thread) keeping every message it receives.
- `receiver`: a uvicorn HTTP server on 127.0.0.1:0 keeping every POST (path, headers, body); a path
  can be told to answer 500 or to hang, to play an unreachable or broken target.
- `clock`: the engine's "now", moved by the test, so minute buckets pass in milliseconds.
"""

import asyncio
import secrets
import socket
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email import message_from_bytes
from email.message import Message
from uuid import UUID

import asyncpg
import pytest
import uvicorn
from aiosmtpd.controller import Controller
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from alerting.service import AlertingService, start_alerting
from config import Settings
from storage.projects import CreatedProject
from tests.query.tenant import Caller, create_organization, create_owned_project


class Clock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> datetime:
        self.now += timedelta(**delta)
        return self.now


@pytest.fixture
def clock() -> Clock:
    # Two days ago, on a whole hour: the test's events fall in ordinary past partitions.
    now = datetime.now(UTC).replace(minute=0, second=0, microsecond=0) - timedelta(days=2)
    return Clock(now)


@dataclass
class SmtpSink:
    host: str
    port: int
    messages: list[Message] = field(default_factory=list)

    async def handle_DATA(self, server: object, session: object, envelope: object) -> str:
        self.messages.append(message_from_bytes(envelope.content))  # type: ignore[attr-defined]
        return "250 OK"


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture
def smtp() -> Iterator[SmtpSink]:
    sink = SmtpSink("127.0.0.1", _free_port())
    controller = Controller(sink, hostname=sink.host, port=sink.port)
    controller.start()
    try:
        yield sink
    finally:
        controller.stop()


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes


@dataclass
class Receiver:
    url: str
    posts: list[Received] = field(default_factory=list)
    # path -> "fail" (HTTP 500) or "hang" (no answer until the behaviour is cleared, then 504)
    behaviour: dict[str, str] = field(default_factory=dict)
    # Requests that hung: the receiver saw them but their sender never learnt it.
    hung: list[Received] = field(default_factory=list)

    def on(self, path: str) -> list[Received]:
        return [post for post in self.posts if post.path == path]


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    state = Receiver("")

    async def receive(request: Request) -> Response:
        body = await request.body()
        behaviour = state.behaviour.get(request.url.path)
        if behaviour == "hang":
            state.hung.append(Received(request.url.path, dict(request.headers), body))
            for _ in range(600):  # at most 30 s
                if state.behaviour.get(request.url.path) != "hang":
                    break
                await asyncio.sleep(0.05)
            return Response("gave up", status_code=504)
        state.posts.append(Received(request.url.path, dict(request.headers), body))
        if behaviour == "fail":
            return JSONResponse({"error": "boom"}, status_code=500)
        return Response("ok")

    app = Starlette(routes=[Route("/{path:path}", receive, methods=["POST"])])
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning", lifespan="off"))
    task = asyncio.create_task(server.serve())
    async with asyncio.timeout(10):
        while not server.started:
            if task.done():
                task.result()  # startup failed: raise its error here
            await asyncio.sleep(0.01)
    state.url = f"http://127.0.0.1:{server.servers[0].sockets[0].getsockname()[1]}"
    try:
        yield state
    finally:
        state.behaviour.clear()
        server.should_exit = True
        server.force_exit = True
        async with asyncio.timeout(10):
            await task


@pytest.fixture
def alert_settings(settings: Settings, smtp: SmtpSink) -> Settings:
    """Fast ticks and retries, the test's SMTP server, and a lock key of the test's own."""
    return settings.model_copy(update={
        "alerting_tick_seconds": 0.1,
        "alerting_leader_retry_seconds": 0.2,
        "alerting_leader_check_seconds": 0.2,
        "alerting_retry_base_seconds": 0.2,
        "alerting_delivery_timeout_seconds": 1.0,
        "alerting_delivery_attempts": 3,
        "alerting_settle_seconds": 0,
        "alerting_lock_key": secrets.randbits(62),
        "smtp_host": smtp.host,
        "smtp_port": smtp.port,
        "smtp_tls": "none",
        "public_url": "https://trackmint.example.com",
    })


@pytest.fixture
async def caller(db: asyncpg.Connection, settings: Settings) -> Caller:
    return await create_organization(db, settings, "Alerting")


@pytest.fixture
async def project(db: asyncpg.Connection, caller: Caller) -> CreatedProject:
    return await create_owned_project(db, caller.organization_id, f"alerts-{secrets.token_hex(3)}")


@pytest.fixture
async def start_replica(alert_settings: Settings, clock: Clock) -> AsyncIterator:
    """Start alerting replicas (stopped at the end of the test)."""
    started: list[AlertingService] = []

    async def start(name: str = "alerting") -> AlertingService:
        service = await start_alerting(alert_settings, clock, name=name)
        started.append(service)
        return service

    yield start
    for service in started:
        await service.stop()


async def wait_for(predicate, within: float = 10.0, every: float = 0.05) -> None:
    """Poll `predicate()` (sync or async) until true."""
    async with asyncio.timeout(within):
        while True:
            result = predicate()
            if asyncio.iscoroutine(result):
                result = await result
            if result:
                return
            await asyncio.sleep(every)


async def deliveries(db: asyncpg.Connection, project_id: UUID) -> list[asyncpg.Record]:
    return await db.fetch(
        "SELECT d.*, e.kind AS event_kind FROM alert_deliveries d JOIN alert_events e ON e.id = d.event_id"
        " WHERE d.project_id = $1 ORDER BY d.created_at, d.channel_kind", project_id,
    )
