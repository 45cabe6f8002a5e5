"""Run a private PostgreSQL (cli/embedded.py) until SIGTERM or stdin closes.

`python -m tests.resilience.postgres_keeper DIR PORT` prints "ready" once it accepts connections.

Drills stop and start PostgreSQL while the SDK's gRPC threads run in the test process. Started as root,
EmbeddedPostgres forks to switch user, and a fork of a process with live gRPC threads can crash the
child before it execs (seen as postgres "exited with -11"); this keeper has no gRPC, so it forks safely.
"""

import signal
import sys
import threading
from pathlib import Path

from cli.embedded import EmbeddedPostgres


def main() -> None:
    data_dir, port = Path(sys.argv[1]), int(sys.argv[2])
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda signum, frame: stop.set())
    # Stdin closes when the test process ends, however it ends: never leave an orphan PostgreSQL behind.
    threading.Thread(target=lambda: (sys.stdin.read(), stop.set()), daemon=True).start()
    server = EmbeddedPostgres(data_dir, port).start()
    try:
        sys.stdout.write("ready\n")
        sys.stdout.flush()
        stop.wait()
    finally:
        server.stop()


if __name__ == "__main__":
    main()
