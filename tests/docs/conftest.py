"""One running system for every example in docs/: ingest (gRPC and the HTTP bridge), a processor and the
query service on the test database, an organization with a real login, a project with data in it.

The examples are written for `make run` (ports 8000, 8080, 50051) with placeholders such as
`<write key>` (docs/README.md, "Placeholders"); `DocsSystem.substitute` turns one into something this
system runs.
"""

import asyncio
import secrets
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path

import asyncpg
import httpx
import pytest

from config import Settings, load_settings
from ingest.server import IngestServer, start_ingest
from processor.service import ProcessorService, start_processor
from tests.alerting.conftest import receiver  # noqa: F401 (a webhook receiver, for the verifier tests)
from tests.conftest import delete_namespace_streams
from tests.polling import eventually
from tests.query.servers import start_server, stop_server
from trackmint_sdk import Client

PASSWORD = "correct horse battery staple"


@dataclass
class DocsSystem:
    settings: Settings
    ingest: IngestServer
    query_url: str
    email: str
    access_token: str
    project_id: str
    write_key: str
    ids: dict[str, str] = field(default_factory=dict)
    """Further placeholder values made while seeding (`<person id>`, `<alert rule id>`, ...)."""

    @property
    def ingest_endpoint(self) -> str:
        return f"127.0.0.1:{self.ingest.port}"

    @property
    def bridge_url(self) -> str:
        return f"http://127.0.0.1:{self.ingest.bridge_port}"

    async def graphql(self, query: str, variables: dict | None = None, token: str | None = None) -> dict:
        async with httpx.AsyncClient(timeout=30) as http:
            response = await http.post(
                f"{self.query_url}/graphql", json={"query": query, "variables": variables or {}},
                headers={"authorization": f"Bearer {token or self.access_token}"},
            )
        return response.json()

    async def login(self) -> dict:
        """A fresh token pair (refresh tokens are single use, so each example gets its own)."""
        result = await self.graphql(
            "mutation($e: String!, $p: String!) { login(email: $e, password: $p) { accessToken refreshToken } }",
            {"e": self.email, "p": PASSWORD},
        )
        assert "errors" not in result, result
        return result["data"]["login"]

    async def placeholder_values(self, text: str) -> dict[str, str]:
        """The value of every placeholder `text` uses; dynamic ones are made here, once per example."""
        values: dict[str, str | Callable] = {
            "<write key>": self.write_key,
            "<access token>": self.access_token,
            "<project id>": self.project_id,
            "<login email>": self.email,
            "<login password>": PASSWORD,
            **self.ids,
        }
        if "<refresh token>" in text:
            values["<refresh token>"] = (await self.login())["refreshToken"]
        if "<key id>" in text:
            created = await self.graphql(
                "mutation($p: ID!) { createApiKey(projectId: $p, label: \"docs\") { apiKey { id } } }",
                {"p": self.project_id},
            )
            values["<key id>"] = created["data"]["createApiKey"]["apiKey"]["id"]
        if "<scratch destination id>" in text:
            created = await self.graphql(
                "mutation($p: ID!) { createDestination(projectId: $p, input: {name: \"scratch\", url: "
                "\"https://example.com/scratch\"}) { destination { id } } }", {"p": self.project_id},
            )
            values["<scratch destination id>"] = created["data"]["createDestination"]["destination"]["id"]
        if "<scratch project id>" in text:
            created = await self.graphql("mutation { createProject(name: \"scratch\", timezone: \"UTC\") { id } }")
            values["<scratch project id>"] = created["data"]["createProject"]["id"]
        return {key: value for key, value in values.items() if key in text}

    async def substitute(self, text: str) -> str:
        """The example as it runs here: placeholders filled in, `make run`'s addresses made this system's."""
        for placeholder, value in (await self.placeholder_values(text)).items():
            text = text.replace(placeholder, value)
        query_port = self.query_url.rsplit(":", 1)[1]
        return (
            text.replace("127.0.0.1:8000", f"127.0.0.1:{query_port}")
            .replace("127.0.0.1:8080", f"127.0.0.1:{self.ingest.bridge_port}")
            .replace("127.0.0.1:50051", self.ingest_endpoint)
        )

    async def stored_events(self, **where: str) -> list[asyncpg.Record]:
        connection = await asyncpg.connect(self.settings.database_url)
        try:
            conditions = " ".join(f"AND {column} = ${i}" for i, column in enumerate(where, start=2))
            return await connection.fetch(
                f"SELECT event, user_id, anonymous_id FROM events WHERE project_id = $1 {conditions}",
                self.project_id, *where.values(),
            )
        finally:
            await connection.close()

    async def wait_for_events(self, count: int, within: float = 15, **where: str) -> list[asyncpg.Record]:
        rows = await eventually(lambda: self.stored_events(**where), lambda rows: len(rows) >= count, within)
        assert len(rows) >= count, f"{len(rows)} of {count} events {where} stored within {within} s"
        return rows


def _send_seed_events(endpoint: str, write_key: str) -> None:
    client = Client(write_key, endpoint)
    try:
        client.page("Pricing", anonymous_id="anon-1", url="https://shop.example/pricing?utm_source=newsletter",
                    referrer="https://www.google.com/", title="Pricing")
        client.identify("ada", anonymous_id="anon-1", traits={"email": "ada@example.com", "plan": "pro"})
        for user in ("ada", "grace", "linus"):
            client.track("Signed Up", user_id=user, properties={"plan": "pro"})
        client.track("Order Completed", user_id="ada", properties={"revenue": 99.9})
        # Erased by docs/privacy.md: nobody else's example reads this person.
        client.track("Account Deleted", user_id="forget-me")
        assert client.flush(timeout=10) is not False
    finally:
        client.close()


@pytest.fixture(scope="session")
async def docs_system(
    database_url: str, nats_url: str, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[DocsSystem]:
    namespace = f"t{secrets.token_hex(4)}_"
    settings = load_settings(
        database_url=database_url, nats_url=nats_url, nats_namespace=namespace,
        data_dir=tmp_path_factory.mktemp("docs-system"), stream_storage="memory",
        stream_max_bytes=64 * 1024 * 1024, ingest_port=0, query_port=0, bridge_port=0,
    )
    ingest = await start_ingest(settings)
    processor: ProcessorService = await start_processor(settings)
    server, task, query_url = await start_server(settings)
    try:
        system = await _seed(settings, ingest, query_url)
        yield system
    finally:
        await stop_server(server, task)
        await processor.stop(grace=5)
        await ingest.stop(grace=1)
        await delete_namespace_streams(nats_url, namespace)


async def _seed(settings: Settings, ingest: IngestServer, query_url: str) -> DocsSystem:
    email = f"docs-{secrets.token_hex(4)}@example.com"
    async with httpx.AsyncClient(timeout=30) as http:
        registered = (await http.post(f"{query_url}/graphql", json={
            "query": "mutation($i: RegisterInput!) { register(input: $i) { accessToken } }",
            "variables": {"i": {"orgName": "Docs", "email": email, "password": PASSWORD, "name": "Ada"}},
        })).json()
    assert "errors" not in registered, registered
    system = DocsSystem(settings, ingest, query_url, email, registered["data"]["register"]["accessToken"], "", "")
    project = await system.graphql("mutation { createProject(name: \"My SaaS\", timezone: \"UTC\") { id } }")
    system.project_id = project["data"]["createProject"]["id"]
    key = await system.graphql(
        "mutation($p: ID!) { createApiKey(projectId: $p, label: \"docs\") { key } }", {"p": system.project_id}
    )
    system.write_key = key["data"]["createApiKey"]["key"]

    await asyncio.to_thread(_send_seed_events, system.ingest_endpoint, system.write_key)
    await system.wait_for_events(7)
    persons = await system.graphql(
        "query($p: ID!) { persons(projectId: $p, search: \"ada\") { edges { node { id } } } }", {"p": system.project_id}
    )
    system.ids["<person id>"] = persons["data"]["persons"]["edges"][0]["node"]["id"]
    erasable = await system.graphql(
        "query($p: ID!) { persons(projectId: $p, search: \"forget-me\") { edges { node { id } } } }",
        {"p": system.project_id},
    )
    system.ids["<erasable person id>"] = erasable["data"]["persons"]["edges"][0]["node"]["id"]
    alerting = await system.graphql(
        """mutation($p: ID!) {
          createAlertChannel(kind: WEBHOOK, name: "Hook", projectId: $p, url: "https://example.com/hook") {
            channel { id } }
          createAlertRule(projectId: $p, rule: {name: "Signups", interval: HOUR,
            series: {event: "Signed Up", math: TOTAL},
            detector: {kind: THRESHOLD, direction: UP, threshold: 100}}) { id }
        }""",
        {"p": system.project_id},
    )
    assert "errors" not in alerting, alerting
    system.ids["<alert channel id>"] = alerting["data"]["createAlertChannel"]["channel"]["id"]
    system.ids["<alert rule id>"] = alerting["data"]["createAlertRule"]["id"]
    reports = await system.graphql(
        """mutation($p: ID!) {
          createAlertChannel(kind: EMAIL, name: "Team", projectId: $p, emails: ["team@example.com"]) { channel { id } }
        }""", {"p": system.project_id},
    )
    assert "errors" not in reports, reports
    system.ids["<email channel id>"] = reports["data"]["createAlertChannel"]["channel"]["id"]
    system.ids["<user id>"] = (await system.graphql("{ me { id } }"))["data"]["me"]["id"]
    # Port 9 (discard) refuses at once: `testDestination` in the examples fails fast, without the network.
    destination = await system.graphql(
        "mutation($p: ID!) { createDestination(projectId: $p, input: {name: \"Warehouse\", url: "
        "\"http://127.0.0.1:9/hook\"}) { destination { id } } }", {"p": system.project_id},
    )
    assert "errors" not in destination, destination
    system.ids["<destination id>"] = destination["data"]["createDestination"]["destination"]["id"]
    return system


@pytest.fixture(scope="session")
def node_modules() -> Path:
    """The web UI's node_modules (graphql-ws lives there), for the JavaScript examples."""
    path = Path(__file__).resolve().parents[2] / "webui" / "node_modules"
    assert (path / "graphql-ws").is_dir(), "run `make webui` (npm ci) first: the JS examples import graphql-ws"
    return path
