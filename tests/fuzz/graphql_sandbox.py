"""A throwaway tenant for fuzzing GraphQL, and the query service in a thread of its own.

The tenant is an organization of its own in the session's test database, with
an ADMIN caller and a project holding generated events and persons, so the
resolvers the fuzzer reaches do real work, and whatever its mutations change
belongs to nobody else. The server runs in its own thread and event loop:
schemathesis calls it synchronously (requests), which would block the tests'
loop and a server living there.
"""

import asyncio
import random
import threading
from dataclasses import dataclass
from datetime import UTC, datetime
from uuid import UUID
from zoneinfo import ZoneInfo

import asyncpg
import uvicorn

from config import Settings
from query.server import create_server
from tests.query.event_data import insert_events, insert_persons, random_persons, random_rich_events
from tests.query.tenant import Caller, create_organization, create_owned_project

_STARTUP_TIMEOUT_SECONDS = 15.0


@dataclass(frozen=True)
class Sandbox:
    caller: Caller
    project_id: UUID
    person_ids: tuple[UUID, ...]

    @property
    def known_ids(self) -> list[str]:
        """Ids that exist, so generated arguments sometimes name a real project, organization, user or person."""
        return [str(self.project_id), str(self.caller.organization_id), str(self.caller.user_id),
                *(str(person) for person in self.person_ids[:3])]


async def create_sandbox(connection: asyncpg.Connection, settings: Settings) -> Sandbox:
    caller = await create_organization(connection, settings, "Fuzz sandbox")
    project = await create_owned_project(connection, caller.organization_id, "fuzzed")
    rng = random.Random(7)
    persons = random_persons(rng, 20)
    center = datetime.now(UTC).replace(microsecond=0)
    await insert_events(connection, project.project_id,
                        random_rich_events(rng, center, 300, persons, ZoneInfo("UTC")))
    await insert_persons(connection, project.project_id, persons)
    return Sandbox(caller, project.project_id, tuple(person.id for person in persons))


class ThreadedServer:
    """uvicorn serving the query application from a thread with its own event loop."""

    def __init__(self, settings: Settings) -> None:
        self._server: uvicorn.Server = create_server(settings)
        self._thread = threading.Thread(target=lambda: asyncio.run(self._server.serve()), daemon=True,
                                        name="fuzzed-query-service")

    def start(self) -> str:
        self._thread.start()
        deadline = threading.Event()
        for _ in range(int(_STARTUP_TIMEOUT_SECONDS / 0.02)):
            if self._server.started:
                port = self._server.servers[0].sockets[0].getsockname()[1]
                return f"http://127.0.0.1:{port}"
            if not self._thread.is_alive():
                break
            deadline.wait(0.02)
        raise RuntimeError("the query service did not start")

    def stop(self) -> None:
        self._server.should_exit = True
        self._thread.join(_STARTUP_TIMEOUT_SECONDS)
