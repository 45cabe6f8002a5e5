"""Bringing up a private TrackMint for a benchmark: servers, a fresh database, services as processes."""

import asyncio
import contextlib
import os
import secrets
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import asyncpg
import nats
import nats.js.errors
import psutil

from cli.embedded import EmbeddedNats, EmbeddedNatsCluster, EmbeddedPostgres, free_port
from config import load_settings
from messaging.names import Names
from messaging.streams import nats_servers
from query.auth.tokens import issue_access_token
from storage import accounts
from storage.migrations import migrate
from storage.projects import create_project

_ROOT = Path(__file__).resolve().parent.parent


@dataclass
class BenchSystem:
    """Servers and services of one benchmark run; `stop()` leaves nothing behind.

    `also` names services started after ingest and the processors (`query`, `alerting`,
    `destinations`); with `ops_ports` each service serves /healthz, /readyz and /metrics on a free
    port of its own (the query service on its own port), listed in `metrics_urls`. `ingests` > 1 starts
    more ingest replicas (`endpoints`, the first is `endpoint`). With `nats_cluster`
    = N the run starts its own N-node JetStream cluster (whatever TRACKMINT_NATS_URL says), gives the
    services every node's URL and replicates the streams on min(N, 3) nodes.
    """

    processors: int = 1
    ingests: int = 1
    also: tuple[str, ...] = ()
    ops_ports: bool = False
    nats_cluster: int = 0
    work_dir: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="trackmint-bench-")))
    database_url: str = ""
    server_url: str = ""
    nats_url: str = ""
    namespace: str = field(default_factory=lambda: f"bench{secrets.token_hex(3)}_")
    ingest_port: int = 0
    ingest_ports: list[int] = field(default_factory=list)
    query_port: int = 0
    services: dict[str, subprocess.Popen] = field(default_factory=dict)
    metrics_urls: dict[str, str] = field(default_factory=dict)
    _embedded: list = field(default_factory=list)
    _database: str = ""

    def start(self) -> "BenchSystem":
        self.server_url = os.environ.get("TRACKMINT_DATABASE_URL", "")
        if not self.server_url:
            postgres = EmbeddedPostgres(self.work_dir).start()
            self._embedded.append(postgres)
            self.server_url = postgres.url
        self.nats_url = "" if self.nats_cluster else os.environ.get("TRACKMINT_NATS_URL", "")
        if self.nats_cluster:
            cluster = EmbeddedNatsCluster(self.work_dir, self.nats_cluster).start()
            self._embedded.append(cluster)
            self.nats_url = cluster.url
        elif not self.nats_url:
            nats_server = EmbeddedNats(self.work_dir).start()
            self._embedded.append(nats_server)
            self.nats_url = nats_server.url
        self._database = f"trackmint_bench_{secrets.token_hex(4)}"
        self.database_url = asyncio.run(self._create_database())
        self.ingest_port = free_port()
        env = {
            **os.environ,
            "TRACKMINT_DATABASE_URL": self.database_url,
            "TRACKMINT_NATS_URL": self.nats_url,
            "TRACKMINT_NATS_NAMESPACE": self.namespace,
            "TRACKMINT_INGEST_PORT": str(self.ingest_port),
            "TRACKMINT_BRIDGE_PORT": os.environ.get("TRACKMINT_BRIDGE_PORT", str(free_port())),
            # Geo enrichment on, from the MaxMind-format test database, as a production setup would have it.
            "TRACKMINT_GEOIP_DATABASE_PATH": os.environ.get(
                "TRACKMINT_GEOIP_DATABASE_PATH", str(_ROOT / "tests/data/geo/GeoLite2-City-Test.mmdb")),
            "TRACKMINT_LOG_LEVEL": os.environ.get("TRACKMINT_LOG_LEVEL", "WARNING"),
        }
        if self.nats_cluster:
            env["TRACKMINT_STREAM_REPLICAS"] = str(self.stream_replicas)
        if "query" in self.also:
            self.query_port = free_port()
            env["TRACKMINT_QUERY_PORT"] = str(self.query_port)
        self._spawn("ingest", "ingest", env)
        self.ingest_ports = [self.ingest_port]
        for index in range(2, self.ingests + 1):
            self.ingest_ports.append(free_port())
            self._spawn(f"ingest-{index}", "ingest", {**env, "TRACKMINT_INGEST_PORT": str(self.ingest_ports[-1]),
                                                      "TRACKMINT_BRIDGE_PORT": str(free_port())})
        for index in range(self.processors):
            self._spawn(f"processor-{index + 1}", "processor", env)
        self._wait_for_ingest()
        for service in self.also:
            self._spawn(service, service, env)
        return self

    async def _create_database(self) -> str:
        admin = await asyncpg.connect(self.server_url)
        try:
            await admin.execute(f'CREATE DATABASE "{self._database}"')
        finally:
            await admin.close()
        url = self.server_url.rsplit("/", 1)[0] + f"/{self._database}"
        connection = await asyncpg.connect(url)
        try:
            await migrate(connection)
        finally:
            await connection.close()
        return url

    async def create_project(self) -> tuple[str, str]:
        connection = await asyncpg.connect(self.database_url)
        try:
            # Well above any offered rate: this measures the pipeline, not the per-key limit.
            created = await create_project(connection, "bench", rate_limit=10_000_000)
        finally:
            await connection.close()
        return str(created.project_id), created.write_key

    def _spawn(self, name: str, service: str, env: dict[str, str]) -> None:
        if service == "query":
            self.metrics_urls[name] = f"http://127.0.0.1:{self.query_port}/metrics"
        elif self.ops_ports:
            port = free_port()
            env = {**env, f"TRACKMINT_{service.upper()}_OPS_PORT": str(port)}
            self.metrics_urls[name] = f"http://127.0.0.1:{port}/metrics"
        self.services[name] = subprocess.Popen([sys.executable, "-m", "cli.main", "serve", service], env=env)

    def wait_ready(self, timeout: float = 60) -> None:
        """Until every service with an HTTP endpoint answers /readyz with 200."""
        import httpx

        deadline = time.monotonic() + timeout
        waiting = dict(self.metrics_urls)
        while waiting and time.monotonic() < deadline:
            for name, url in list(waiting.items()):
                with contextlib.suppress(httpx.HTTPError):
                    if httpx.get(url.removesuffix("/metrics") + "/readyz", timeout=2).status_code == 200:
                        del waiting[name]
            time.sleep(0.2)
        if waiting:
            raise RuntimeError(f"not ready after {timeout} s: {', '.join(sorted(waiting))}")

    def _wait_for_ingest(self, timeout: float = 30) -> None:
        import socket

        deadline = time.monotonic() + timeout
        waiting = list(self.ingest_ports)
        while waiting and time.monotonic() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", waiting[0]), timeout=0.2):
                    waiting.pop(0)
            except OSError:
                time.sleep(0.1)
        if waiting:
            raise RuntimeError("ingest did not start")
        time.sleep(0.5)  # the processors subscribe meanwhile

    @property
    def endpoint(self) -> str:
        return f"127.0.0.1:{self.ingest_port}"

    @property
    def endpoints(self) -> list[str]:
        """Every ingest replica's address (the first is `endpoint`)."""
        return [f"127.0.0.1:{port}" for port in self.ingest_ports]

    @property
    def stream_replicas(self) -> int:
        return min(self.nats_cluster, 3) if self.nats_cluster else 1

    def service_pids(self) -> dict[str, int]:
        pids = {name: process.pid for name, process in self.services.items()}
        for server in self._embedded:
            if isinstance(server, EmbeddedNatsCluster):
                pids.update(server.pids())
            elif server.process is not None:
                pids["postgres" if isinstance(server, EmbeddedPostgres) else "nats"] = server.process.pid
        return pids

    def stop(self) -> None:
        for process in self.services.values():
            if process.poll() is None:
                process.terminate()
        for process in self.services.values():
            try:
                process.wait(20)
            except subprocess.TimeoutExpired:
                process.kill()
        if self._database and (not self._embedded or not isinstance(self._embedded[0], EmbeddedPostgres)):
            asyncio.run(self._drop_database())
        for server in reversed(self._embedded):
            server.stop()

    async def _drop_database(self) -> None:
        admin = await asyncpg.connect(self.server_url)
        try:
            await admin.execute(f'DROP DATABASE IF EXISTS "{self._database}" WITH (FORCE)')
        finally:
            await admin.close()


async def create_tenant(database_url: str, name: str = "bench") -> tuple[str, str, str]:
    """A project owned by a new organization, its write key, and the organization's ADMIN access token."""
    connection = await asyncpg.connect(database_url)
    try:
        organization, user = await accounts.create_organization_with_admin(
            connection, "Bench", email=f"bench-{secrets.token_hex(4)}@example.com", name="Bench",
            password_hash="not-a-password-hash",
        )
        created = await create_project(connection, name, rate_limit=10_000_000)
        await accounts.assign_project(connection, created.project_id, organization.id)
    finally:
        await connection.close()
    token = issue_access_token(load_settings(), user.id, organization.id, user.role)
    return str(created.project_id), created.write_key, token


async def delete_namespace_streams(nats_url: str, namespace: str) -> None:
    """Leave nothing on the NATS server: the run's streams (and their consumers) go with its namespace."""
    names = Names(namespace)
    connection = await nats.connect(nats_servers(nats_url), connect_timeout=5, max_reconnect_attempts=0)
    try:
        for stream in (names.events_stream, names.dead_letter_stream):
            with contextlib.suppress(nats.js.errors.NotFoundError):
                await connection.jetstream().delete_stream(stream)
    finally:
        await connection.close()


def tree_cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process and its children so far."""
    try:
        process = psutil.Process(pid)
        processes = [process, *process.children(recursive=True)]
        return sum(sum(each.cpu_times()[:2]) for each in processes)
    except psutil.Error:
        return 0.0


def tree_rss(pid: int) -> int:
    """Resident memory of a process and its children (PostgreSQL forks a backend per connection)."""
    try:
        process = psutil.Process(pid)
        return process.memory_info().rss + sum(
            child.memory_info().rss for child in process.children(recursive=True)
        )
    except psutil.Error:
        return 0


@dataclass
class RunningSystem:
    """A TrackMint that is already running (`trackmint up`, compose, ...): measured, never changed.

    Events go to a project of the caller's choosing (its write key); the raw-limit
    measurements use a temporary table and a JetStream stream of their own.
    """

    endpoint: str
    write_key: str
    database_url: str
    nats_url: str
    namespace: str = field(default_factory=lambda: f"bench{secrets.token_hex(3)}_")
    processors: int = 0

    async def create_project(self) -> tuple[str, str]:
        from storage.api_keys import find_project_for_key

        connection = await asyncpg.connect(self.database_url)
        try:
            project_id = await find_project_for_key(connection, self.write_key)
        finally:
            await connection.close()
        if project_id is None:
            raise SystemExit("the write key is unknown to this database")
        return str(project_id), self.write_key

    def service_pids(self) -> dict[str, int]:
        """TrackMint services on this machine, found by their command lines."""
        pids: dict[str, int] = {}
        for process in psutil.process_iter(["pid", "cmdline"]):
            command = " ".join(process.info["cmdline"] or [])
            for service in ("ingest", "processor", "query"):
                if f"serve {service}" in command:
                    count = sum(name.startswith(service) for name in pids)
                    pids[f"{service}-{count + 1}"] = process.info["pid"]
            if "nats-server" in command:
                pids.setdefault("nats", process.info["pid"])
            if "bin/postgres" in command and " -D " in command:  # the postmaster; its backends are children
                pids.setdefault("postgres", process.info["pid"])
        return pids

    def stop(self) -> None:
        """Nothing to stop: the system belongs to someone else."""


class ThreadedHttpServer:
    """A Starlette app served by uvicorn on a free loopback port, in a thread of its own (benches' local
    HTTP targets: webhook and destination receivers)."""

    def __init__(self, routes: list) -> None:
        import threading

        import uvicorn
        from starlette.applications import Starlette

        self.port = free_port()
        self.server = uvicorn.Server(uvicorn.Config(Starlette(routes=routes), host="127.0.0.1", port=self.port,
                                                    log_level="warning", lifespan="off"))
        self._thread = threading.Thread(target=self.server.run, daemon=True)

    def start(self) -> None:
        self._thread.start()
        while not self.server.started:
            time.sleep(0.01)

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}/{path.lstrip('/')}"

    def stop(self) -> None:
        self.server.should_exit = True
        self._thread.join(10)
