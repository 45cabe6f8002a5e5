"""`trackmint up` brings the whole system up from nothing, and the README's quick start works against it."""

import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest

from cli.embedded import free_port
from cli.supervisor import DEVELOPMENT_ORGANIZATION, prepare_database
from trackmint_sdk import Client

TRENDS = """query($p: ID!, $from: DateTime!, $to: DateTime!) {
  trends(projectId: $p, series: [{event: "Signed Up", math: TOTAL}], interval: HOUR,
         dateRange: {from: $from, to: $to}) { label points { bucket value } } }"""


def _trackmint(*arguments: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "cli.main", *arguments], env=env, capture_output=True, text=True,
                          timeout=60)


def _port_open(port: int) -> bool:
    with socket.socket() as probe:
        return probe.connect_ex(("127.0.0.1", port)) == 0


@pytest.fixture
def clean_env() -> dict[str, str]:
    """The environment of a new user: no TRACKMINT_* settings, so `up` starts embedded servers."""
    return {key: value for key, value in os.environ.items() if not key.startswith("TRACKMINT_")}


def test_up_runs_the_quick_start_and_stops_cleanly(tmp_path: Path, clean_env: dict[str, str]):
    data_dir = tmp_path / "data"
    ingest_port, query_port, bridge_port = free_port(), free_port(), free_port()
    up = subprocess.Popen(
        [sys.executable, "-m", "cli.main", "up", "--data-dir", str(data_dir),
         "--ingest-port", str(ingest_port), "--query-port", str(query_port), "--bridge-port", str(bridge_port)],
        env=clean_env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )
    try:
        banner = []
        deadline = time.monotonic() + 90
        while not any("Press Ctrl-C" in line for line in banner):
            line = up.stdout.readline()
            assert line and time.monotonic() < deadline, "".join(banner)
            banner.append(line)
        printed = dict(re.findall(r"^\s+(project id|write key|login email|login password)\s+(\S+)$",
                                  "".join(banner), re.MULTILINE))
        assert printed["project id"] and printed["write key"].startswith("tm_live_")
        assert printed["login email"] == "admin@localhost" and printed["login password"]
        # The web UI's address, served by the query service at its root.
        assert re.search(rf"^\s+web UI\s+http://127\.0\.0\.1:{query_port}/$", "".join(banner), re.MULTILINE)
        while not (_port_open(ingest_port) and _port_open(query_port) and _port_open(bridge_port)):
            assert time.monotonic() < deadline
            time.sleep(0.1)

        # Another command with the same --data-dir reaches the embedded servers: a second project of
        # the development organization, so the printed login may read its analytics.
        created = _trackmint("--data-dir", str(data_dir), "bootstrap", "--email", printed["login email"],
                             "--password", printed["login password"], "--org", DEVELOPMENT_ORGANIZATION,
                             "--project", "My SaaS", env=clean_env)
        assert created.returncode == 0, created.stderr
        project = json.loads(created.stdout)
        assert project["write_key"].startswith("tm_live_") and project["project_id"] != printed["project id"]

        # The printed development login works, and its access token opens the organization's analytics.
        login = httpx.post(f"http://127.0.0.1:{query_port}/graphql", timeout=10, json={
            "query": "mutation($e: String!, $p: String!) {"
                     " login(email: $e, password: $p) { accessToken user { role } } }",
            "variables": {"e": printed["login email"], "p": printed["login password"]}})
        assert login.json()["data"]["login"]["user"]["role"] == "ADMIN"
        authorization = {"authorization": f"Bearer {login.json()['data']['login']['accessToken']}"}

        with Client(project["write_key"], f"127.0.0.1:{ingest_port}", flush_interval=0.05) as client:
            for user in range(100):
                client.track("Signed Up", user_id=f"user-{user}", properties={"plan": "pro"})
            assert client.flush(30)
        # The browser path: the snippet is served, and a Segment-style call through the bridge counts too.
        bridge = f"http://127.0.0.1:{bridge_port}"
        assert "trackmint" in httpx.get(f"{bridge}/sdk/trackmint.js", timeout=10).text
        sent = httpx.post(f"{bridge}/v1/track", auth=(project["write_key"], ""), timeout=10,
                          json={"event": "Signed Up", "userId": "browser-user", "messageId": "from-the-bridge"})
        assert sent.status_code == 200, sent.text

        now = datetime.now(UTC)
        variables = {"p": project["project_id"], "from": (now - timedelta(hours=1)).isoformat(),
                     "to": (now + timedelta(hours=1)).isoformat()}
        total = 0.0
        while total < 101 and time.monotonic() < deadline:
            response = httpx.post(f"http://127.0.0.1:{query_port}/graphql",
                                  json={"query": TRENDS, "variables": variables}, headers=authorization, timeout=10)
            total = sum(point["value"] for point in response.json()["data"]["trends"][0]["points"])
            time.sleep(0.1)
        assert total == 101
    finally:
        up.send_signal(signal.SIGTERM)
        output, _ = up.communicate(timeout=60)
    assert up.returncode == 0, output
    assert "TrackMint stopped." in output
    assert not _port_open(ingest_port) and not _port_open(query_port) and not _port_open(bridge_port)
    assert not (data_dir / "state.json").exists()
    # With `up` gone, commands say what is missing instead of failing obscurely.
    orphan = _trackmint("--data-dir", str(data_dir), "migrate", env=clean_env)
    assert orphan.returncode == 2 and "trackmint up" in orphan.stderr


def test_project_create_refuses_an_unknown_timezone(tmp_path: Path, database_url: str, clean_env: dict[str, str]):
    env = {**clean_env, "TRACKMINT_DATABASE_URL": database_url, "TRACKMINT_NATS_URL": "nats://127.0.0.1:1"}
    refused = _trackmint("project", "create", "Shop", "--timezone", "Mars/Olympus", env=env)
    assert refused.returncode == 2
    assert "unknown timezone 'Mars/Olympus'" in refused.stderr


def test_project_create_refuses_a_rate_limit_that_is_not_positive(database_url: str, clean_env: dict[str, str]):
    env = {**clean_env, "TRACKMINT_DATABASE_URL": database_url, "TRACKMINT_NATS_URL": "nats://127.0.0.1:1"}
    refused = _trackmint("project", "create", "Shop", "--rate-limit", "0", env=env)
    assert refused.returncode == 2
    assert "rate limit must be a positive number of events per second, not 0" in refused.stderr


async def test_second_start_reuses_the_development_login_and_key(tmp_path: Path, database_url: str):
    first = await prepare_database(database_url, tmp_path)
    second = await prepare_database(database_url, tmp_path)

    assert second == first
    assert set(first) == {"project_id", "write_key", "login_email", "login_password"}
    assert (tmp_path / "default-project.json").stat().st_mode & 0o777 == 0o600
