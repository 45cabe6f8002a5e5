"""Bringing up a private TrackMint for a benchmark: servers, a fresh database, services as processes."""

import asyncio
import os
import secrets
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import asyncpg
import psutil

from cli.embedded import EmbeddedNats, EmbeddedPostgres, free_port
from storage.migrations import migrate
from storage.projects import create_project

_ROOT = Path(__file__).resolve().parent.parent


@dataclass
class BenchSystem:
    """Servers and services of one benchmark run; `stop()` leaves nothing behind."""

    processors: int = 1
    work_dir: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="trackmint-bench-")))
    database_url: str = ""
    server_url: str = ""
    nats_url: str = ""
    namespace: str = field(default_factory=lambda: f"bench{secrets.token_hex(3)}_")
    ingest_port: int = 0
    services: dict[str, subprocess.Popen] = field(default_factory=dict)
    _embedded: list = field(default_factory=list)
    _database: str = ""

    def start(self) -> "BenchSystem":
        self.server_url = os.environ.get("TRACKMINT_DATABASE_URL", "")
        if not self.server_url:
            postgres = EmbeddedPostgres(self.work_dir).start()
            self._embedded.append(postgres)
            self.server_url = postgres.url
        self.nats_url = os.environ.get("TRACKMINT_NATS_URL", "")
        if not self.nats_url:
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
        self.services["ingest"] = self._spawn("ingest", env)
        for index in range(self.processors):
            self.services[f"processor-{index + 1}"] = self._spawn("processor", env)
        self._wait_for_ingest()
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

    def _spawn(self, service: str, env: dict[str, str]) -> subprocess.Popen:
        return subprocess.Popen([sys.executable, "-m", "cli.main", "serve", service], env=env)

    def _wait_for_ingest(self, timeout: float = 30) -> None:
        import socket

        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", self.ingest_port), timeout=0.2):
                    time.sleep(0.5)  # the processors subscribe meanwhile
                    return
            except OSError:
                time.sleep(0.1)
        raise RuntimeError("ingest did not start")

    @property
    def endpoint(self) -> str:
        return f"127.0.0.1:{self.ingest_port}"

    def service_pids(self) -> dict[str, int]:
        pids = {name: process.pid for name, process in self.services.items()}
        for server in self._embedded:
            if server.process is not None:
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
        if not self._embedded or not isinstance(self._embedded[0], EmbeddedPostgres):
            asyncio.run(self._drop_database())
        for server in reversed(self._embedded):
            server.stop()

    async def _drop_database(self) -> None:
        admin = await asyncpg.connect(self.server_url)
        try:
            await admin.execute(f'DROP DATABASE IF EXISTS "{self._database}" WITH (FORCE)')
        finally:
            await admin.close()


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
