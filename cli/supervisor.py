"""`trackmint up`: the whole system from one command.

Starts embedded PostgreSQL and NATS under the data directory (unless URLs are
configured), applies migrations, makes sure a development login (ADMIN
`admin@localhost` with a random password) and project exist, then
runs ingest, processor, query, alerting and destinations as child processes (`trackmint serve ...`) so
they use separate cores, as in production. Ctrl-C or SIGTERM stops the
children gracefully, then the embedded servers.
"""

import asyncio
import logging
import os
import secrets
import signal
import subprocess
import sys
import time
from pathlib import Path

import asyncpg

from cli.bootstrap import BootstrapError, bootstrap
from cli.embedded import EmbeddedNats, EmbeddedPostgres
from cli.state import RunState, clear_state, load_default_project, save_default_project, write_state
from config import Settings
from storage.api_keys import find_project_for_key
from storage.migrations import migrate
from storage.projects import create_project

logger = logging.getLogger(__name__)

DATABASE_NAME = "trackmint"
SERVICES = ("ingest", "processor", "query", "alerting", "destinations")
DEVELOPMENT_EMAIL = "admin@localhost"
DEVELOPMENT_ORGANIZATION = "Development"
DEVELOPMENT_PROJECT = "Default project"


async def ensure_database(server_url: str, name: str = DATABASE_NAME) -> str:
    """Create the application database on an embedded server if missing; returns its URL."""
    connection = await asyncpg.connect(server_url)
    try:
        if not await connection.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", name):
            await connection.execute(f'CREATE DATABASE "{name}"')
    finally:
        await connection.close()
    return server_url.rsplit("/", 1)[0] + f"/{name}"


async def prepare_database(database_url: str, data_dir: Path) -> dict[str, str]:
    """Migrate, and return the development login and project (created on first start)."""
    connection = await asyncpg.connect(database_url)
    try:
        await migrate(connection)
        saved = load_default_project(data_dir) or {}
        if saved.get("login_password") and await find_project_for_key(connection, saved.get("write_key", "")):
            return saved
        password = saved.get("login_password") or secrets.token_urlsafe(12)
        try:
            done = await bootstrap(
                connection, email=DEVELOPMENT_EMAIL, password=password, org_name=DEVELOPMENT_ORGANIZATION,
                project_name=DEVELOPMENT_PROJECT,
            )
        except BootstrapError as error:
            # The login exists but its password was not saved here (the file was lost); keep going with a
            # project of no organization rather than refuse to start.
            logger.warning("cannot prepare the development login: %s", error)
            created = await create_project(connection, DEVELOPMENT_PROJECT)
            project = {"project_id": str(created.project_id), "write_key": created.write_key,
                       "login_email": DEVELOPMENT_EMAIL, "login_password": "(unknown: set before, not saved here)"}
        else:
            project = {"project_id": done.project_id, "write_key": done.write_key,
                       "login_email": DEVELOPMENT_EMAIL, "login_password": password}
    finally:
        await connection.close()
    save_default_project(data_dir, project)
    return project


def _spawn(service: str, env: dict[str, str]) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "cli.main", "serve", service], env=env)


def _stop_children(children: dict[str, subprocess.Popen], grace: float) -> None:
    for child in children.values():
        if child.poll() is None:
            child.send_signal(signal.SIGTERM)
    for name, child in children.items():
        try:
            child.wait(grace)
        except subprocess.TimeoutExpired:
            logger.warning("%s did not stop within %ss; killing it", name, grace)
            child.kill()
            child.wait()


def run_up(settings: Settings) -> int:
    data_dir = settings.data_dir.resolve()
    data_dir.mkdir(parents=True, exist_ok=True)
    embedded: list[EmbeddedPostgres | EmbeddedNats] = []
    children: dict[str, subprocess.Popen] = {}
    stopping = False

    def request_stop(signum: int, frame: object) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGINT, request_stop)
    signal.signal(signal.SIGTERM, request_stop)
    try:
        database_url = settings.database_url
        if not database_url:
            postgres = EmbeddedPostgres(data_dir).start()
            embedded.append(postgres)
            database_url = asyncio.run(ensure_database(postgres.url))
        nats_url = settings.nats_url
        if not nats_url:
            nats_server = EmbeddedNats(data_dir).start()
            embedded.append(nats_server)
            nats_url = nats_server.url
        project = asyncio.run(prepare_database(database_url, data_dir))
        write_state(data_dir, RunState(database_url=database_url, nats_url=nats_url, pid=os.getpid()))

        env = {
            **os.environ,
            "TRACKMINT_DATABASE_URL": database_url,
            "TRACKMINT_NATS_URL": nats_url,
            "TRACKMINT_DATA_DIR": str(data_dir),
            "TRACKMINT_INGEST_PORT": str(settings.ingest_port),
            "TRACKMINT_QUERY_PORT": str(settings.query_port),
            "TRACKMINT_BRIDGE_PORT": str(settings.bridge_port),
        }
        for service in SERVICES:
            children[service] = _spawn(service, env)
        sys.stdout.write(
            "\nTrackMint is running.\n"
            f"  ingest (gRPC)   {settings.ingest_host}:{settings.ingest_port}\n"
            f"  HTTP bridge     http://{settings.bridge_host}:{settings.bridge_port}  (Segment-compatible /v1/batch)\n"
            f"  web UI          http://{settings.query_host}:{settings.query_port}/\n"
            f"  GraphQL         http://{settings.query_host}:{settings.query_port}/graphql\n"
            f"  PostgreSQL      {database_url}\n"
            f"  NATS            {nats_url}\n"
            f"  project id      {project['project_id']}\n"
            f"  write key       {project['write_key']}\n"
            f"  login email     {project['login_email']}\n"
            f"  login password  {project['login_password']}\n"
            "Press Ctrl-C to stop.\n\n"
        )
        sys.stdout.flush()
        exit_code = 0
        while not stopping:
            for name, child in children.items():
                if child.poll() is not None:
                    logger.error("%s exited with %s; stopping everything", name, child.returncode)
                    stopping, exit_code = True, 1
            time.sleep(0.2)
        return exit_code
    finally:
        _stop_children(children, settings.shutdown_grace_seconds + 5)
        clear_state(data_dir)
        for server in reversed(embedded):
            server.stop()
        sys.stdout.write("TrackMint stopped.\n")
