"""The one background event loop the sync clients' senders share.

grpc.aio dispatches every completion through a process-wide poller bound to the
first event loop that used it; a loop that is closed while gRPC still knows it
breaks later calls on other loops. So sync clients never close their loop:
they all run on one long-lived loop in a daemon thread, started on first use
(and again in a forked child, where the parent's thread does not exist).
"""

from __future__ import annotations

import asyncio
import os
import threading


class SharedLoop:
    """Lazily started event loop in a daemon thread named ``trackmint-sender``."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._pid = 0

    def get(self) -> asyncio.AbstractEventLoop:
        """The running shared loop, starting it if needed."""
        with self._lock:
            if self._loop is None or self._pid != os.getpid() or not self._thread_alive():
                loop = asyncio.new_event_loop()
                thread = threading.Thread(target=_run_forever, args=(loop,), name="trackmint-sender", daemon=True)
                thread.start()
                self._loop, self._thread, self._pid = loop, thread, os.getpid()
            return self._loop

    def in_loop_thread(self) -> bool:
        """Whether the caller runs on the shared loop (where blocking on it would deadlock)."""
        return self._thread is threading.current_thread()

    def _thread_alive(self) -> bool:
        return self._thread is not None and self._thread.is_alive()


def _run_forever(loop: asyncio.AbstractEventLoop) -> None:
    asyncio.set_event_loop(loop)
    loop.run_forever()


SHARED_LOOP = SharedLoop()
"""Holds no thread until the first Client is created."""
