"""The thread-based client for ordinary (synchronous) Python services.

The sender runs on the SDK's shared asyncio event loop in a daemon thread; the calls
(track, page, ...) only append to a thread-safe bounded queue, so they never
wait for the network. close() runs at interpreter exit if you do not call it.
"""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import logging
import threading
import weakref
from collections.abc import Callable, Sequence

from trackmint_sdk._buffer import Buffer
from trackmint_sdk._loop import SHARED_LOOP
from trackmint_sdk._options import Options
from trackmint_sdk._sender import Sender
from trackmint_sdk._tracking import TrackingMethods
from trackmint_sdk.errors import TrackMintError
from trackmint_sdk.stats import DroppedByReason, Stats

logger = logging.getLogger(__name__)

DEFAULT_CLOSE_TIMEOUT = 10.0
"""How long close() (and the exit hook) waits for unsent events before dropping them."""


class Client(TrackingMethods):
    """Sends analytics events to TrackMint ingest over one long-lived gRPC stream.

    ``write_key`` is the project's write key; ``endpoint`` the ingest address as
    ``"host:port"``, or a list of them (ingest replicas): the client streams to
    one and fails over to the next when it is unreachable, killed or draining,
    resending what was not acknowledged. Options:

    - ``batch_size`` (500) / ``max_batch_bytes`` (512 KiB): a batch is sent when
      it has this many events or bytes, or
    - ``flush_interval`` (0.5 s): after its oldest event waited this long.
    - ``max_queue_size`` (100 000): events waiting to be sent; beyond it new
      events are dropped (``stats.dropped_by_reason.queue_full``).
    - ``max_in_flight`` (8): batches sent and not yet acknowledged.
    - ``max_retry_delay`` (30 s) / ``initial_retry_delay`` (0.1 s): exponential
      backoff with full jitter between reconnects.
    - ``max_event_bytes`` (32 KiB): larger events raise ValueError at the call.
    - ``ack_timeout`` (30 s): a stream whose oldest batch waits longer for its
      ack is considered dead and replaced.
    - ``secure`` (False) and ``root_certificates``: TLS for the channel.
    - ``on_error``: called (on the sender thread) with a ``TrackMintError`` when
      events are dropped or rejected, or the stream breaks. It must not block.

    Thread-safe. Delivery is at-least-once on the wire; the server stores each
    ``message_id`` once.
    """

    def __init__(
        self,
        write_key: str,
        endpoint: str | Sequence[str] = "localhost:50051",
        *,
        batch_size: int = 500,
        max_batch_bytes: int = 512 * 1024,
        flush_interval: float = 0.5,
        max_queue_size: int = 100_000,
        max_in_flight: int = 8,
        max_retry_delay: float = 30.0,
        initial_retry_delay: float = 0.1,
        max_event_bytes: int = 32 * 1024,
        ack_timeout: float = 30.0,
        secure: bool = False,
        root_certificates: bytes | None = None,
        on_error: Callable[[TrackMintError], None] | None = None,
    ) -> None:
        self._options = Options(
            write_key=write_key,
            endpoint=endpoint,
            batch_size=batch_size,
            max_batch_bytes=max_batch_bytes,
            flush_interval=flush_interval,
            max_queue_size=max_queue_size,
            max_in_flight=max_in_flight,
            max_retry_delay=max_retry_delay,
            initial_retry_delay=initial_retry_delay,
            max_event_bytes=max_event_bytes,
            ack_timeout=ack_timeout,
            secure=secure,
            root_certificates=root_certificates,
            on_error=on_error,
        )
        self._buffer = Buffer(
            max_size=max_queue_size, batch_size=batch_size, max_batch_bytes=max_batch_bytes
        )
        self._close_lock = threading.Lock()
        self._closed = False
        self._loop = SHARED_LOOP.get()
        self._sender: Sender = asyncio.run_coroutine_threadsafe(self._start(), self._loop).result()
        self._exit_hook = _exit_hook(weakref.ref(self))
        atexit.register(self._exit_hook)

    def __repr__(self) -> str:
        return f"<trackmint_sdk.Client endpoint={self._options.endpoint!r} key={self._options.key_hint!r}>"

    @property
    def stats(self) -> Stats:
        """A snapshot of the delivery counters (enqueued, acked, rejected, dropped, ...)."""
        sender = getattr(self, "_sender", None)
        if sender is None:
            return Stats(0, 0, 0, 0, DroppedByReason(), 0, 0, 0)
        return sender.snapshot()

    def flush(self, timeout: float | None = None) -> bool:
        """Block until every event enqueued so far is acked or dropped.

        Returns True when that happened, False when ``timeout`` seconds passed
        first (the events stay queued and keep being retried). With no timeout it
        waits as long as the server is unreachable.
        """
        if self._closed:
            return self._buffer.inserted == self._buffer.taken
        self._refuse_on_sender_thread("flush")
        future = asyncio.run_coroutine_threadsafe(self._sender.flush(timeout), self._loop)
        return future.result()

    def close(self, timeout: float | None = DEFAULT_CLOSE_TIMEOUT) -> bool:
        """Flush for up to ``timeout`` seconds, then stop this client's sender. Idempotent.

        Events still unsent after the timeout, or enqueued after close(), are
        dropped and counted as ``closed``. Returns whether the flush completed.
        """
        self._refuse_on_sender_thread("close")
        with self._close_lock:
            if self._closed:
                return True
            self._closed = True
        atexit.unregister(self._exit_hook)
        future = asyncio.run_coroutine_threadsafe(self._sender.aclose(timeout), self._loop)
        return future.result()

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    async def _start(self) -> Sender:
        sender = Sender(self._options, self._buffer)
        sender.start()
        loop = self._loop

        def notify() -> None:
            # A closed loop means close() already ran; the event was counted as dropped.
            with contextlib.suppress(RuntimeError):
                loop.call_soon_threadsafe(sender.wake)

        self._buffer.set_notify(notify)
        return sender

    @staticmethod
    def _refuse_on_sender_thread(what: str) -> None:
        if SHARED_LOOP.in_loop_thread():
            # Blocking the sender's own loop would wait forever.
            raise RuntimeError(f"Client.{what}() cannot be called from an on_error callback")


def _exit_hook(client_ref: weakref.ref[Client]) -> Callable[[], None]:
    """An atexit hook that closes the client if it still exists (without keeping it alive)."""

    def close_at_exit() -> None:
        client = client_ref()
        if client is not None:
            try:
                client.close()
            except Exception:
                logger.exception("trackmint: closing the client at exit failed")

    return close_at_exit
