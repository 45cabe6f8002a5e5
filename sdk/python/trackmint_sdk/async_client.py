"""The client for asyncio services: the sender is a task on the service's own event loop.

The calls (track, page, ...) are plain methods that never await; flushing and
closing are coroutines. Use it from one event loop (the one it first runs on).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence

from trackmint.v1 import event_pb2
from trackmint_sdk._buffer import Buffer
from trackmint_sdk._options import Options
from trackmint_sdk._sender import Sender
from trackmint_sdk._tracking import TrackingMethods
from trackmint_sdk.client import DEFAULT_CLOSE_TIMEOUT
from trackmint_sdk.errors import TrackMintError
from trackmint_sdk.events import DEFAULT_MAX_EVENT_BYTES
from trackmint_sdk.stats import DroppedByReason, Stats


class AsyncClient(TrackingMethods):
    """Sends analytics events to TrackMint ingest from an asyncio service.

    Same arguments and options as ``Client``. The sender task starts with the
    first call made inside a running event loop (or on ``async with``); events
    tracked before that wait in the queue. Close it with ``await aclose()`` or
    ``async with AsyncClient(...) as client:`` — there is no exit hook, since
    an event loop cannot be relied on at interpreter exit.
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
        max_event_bytes: int = DEFAULT_MAX_EVENT_BYTES,
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
        self._sender: Sender | None = None
        self._closed = False

    def __repr__(self) -> str:
        return (
            f"<trackmint_sdk.AsyncClient endpoint={self._options.endpoint!r} key={self._options.key_hint!r}>"
        )

    @property
    def stats(self) -> Stats:
        """A snapshot of the delivery counters (enqueued, acked, rejected, dropped, ...)."""
        if self._sender is None:
            buffer = self._buffer
            dropped = DroppedByReason(queue_full=buffer.dropped_full, closed=buffer.dropped_closed)
            return Stats(
                enqueued=buffer.offered,
                acked=0,
                rejected=0,
                dropped=dropped.queue_full + dropped.closed,
                dropped_by_reason=dropped,
                in_flight=0,
                queued=len(buffer),
                reconnects=0,
            )
        return self._sender.snapshot()

    # `timeout` mirrors Client.flush(); asyncio.timeout() would need Python 3.11.
    async def flush(self, timeout: float | None = None) -> bool:  # noqa: ASYNC109
        """Wait until every event enqueued so far is acked or dropped; False if ``timeout`` passed first."""
        if self._closed:
            return self._buffer.inserted == self._buffer.taken
        return await self._ensure_sender().flush(timeout)

    async def aclose(self, timeout: float | None = DEFAULT_CLOSE_TIMEOUT) -> bool:  # noqa: ASYNC109
        """Flush for up to ``timeout`` seconds, then stop. Idempotent; returns whether the flush completed."""
        if self._closed:
            return True
        self._closed = True
        sender = self._ensure_sender()
        return await sender.aclose(timeout)

    async def __aenter__(self) -> AsyncClient:
        self._ensure_sender()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    def _enqueue(self, event: event_pb2.Event) -> str:
        message_id = super()._enqueue(event)
        if self._sender is None and not self._closed:
            try:
                asyncio.get_running_loop()
            except RuntimeError:
                return message_id  # no loop yet: the event waits for the first call inside one
            self._ensure_sender()
        return message_id

    def _ensure_sender(self) -> Sender:
        if self._sender is None:
            sender = Sender(self._options, self._buffer)
            sender.start()
            self._buffer.set_notify(sender.wake)
            self._sender = sender
            sender.wake()
        return self._sender
