"""The bounded in-memory queue between the callers of track() and the sender.

Producers may be any thread; the sender takes from it on its event loop. A put
never blocks beyond a short lock: when the queue is full the event is dropped
and counted. The sender is woken only when it has something new to act on (the
queue went from empty to non-empty, or a batch's worth is waiting), never once
per event.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable

from trackmint.v1 import event_pb2

logger = logging.getLogger(__name__)


def framed_size(size: int) -> int:
    """Bytes one event of serialized ``size`` takes inside an EventBatch (tag + length + body)."""
    length_bytes = 1
    while size >= 0x80 << (7 * (length_bytes - 1)):
        length_bytes += 1
    return 1 + length_bytes + size


class Buffer:
    """FIFO of (event, framed size) with event-count bound, batch-ready wakeups and counters.

    Every event put in gets an ordinal (0, 1, 2, ...); ``taken`` is the ordinal
    of the next event to be taken, so ``inserted - taken`` events are queued.
    """

    def __init__(self, *, max_size: int, batch_size: int, max_batch_bytes: int) -> None:
        self._lock = threading.Lock()
        self._items: deque[tuple[event_pb2.Event, int]] = deque()
        self._bytes = 0
        self._max_size = max_size
        self._batch_size = batch_size
        self._max_batch_bytes = max_batch_bytes
        self._notify: Callable[[], None] = _nothing
        self._closed = False
        self._overflowing = False
        self.inserted = 0
        self.taken = 0
        self.offered = 0
        self.dropped_full = 0
        self.dropped_closed = 0
        self.first_at = 0.0
        """time.monotonic() when the oldest queued event arrived (meaningful when non-empty)."""

    def set_notify(self, notify: Callable[[], None]) -> None:
        """Install how to wake the sender (thread-safe callers use loop.call_soon_threadsafe)."""
        self._notify = notify

    def put(self, event: event_pb2.Event, size: int) -> bool:
        """Queue an event of framed ``size``; False (and counted) when full or closed."""
        with self._lock:
            self.offered += 1
            if self._closed:
                self.dropped_closed += 1
                return False
            count = len(self._items)
            if count >= self._max_size:
                self.dropped_full += 1
                first_overflow = not self._overflowing
                self._overflowing = True
                accepted = wake = False
            else:
                first_overflow = False
                accepted = True
                self._items.append((event, size))
                self.inserted += 1
                before = self._bytes
                self._bytes += size
                if count == 0:
                    self.first_at = time.monotonic()
                wake = (
                    count == 0
                    or count + 1 == self._batch_size
                    or before < self._max_batch_bytes <= self._bytes
                )
        if first_overflow:
            logger.warning(
                "trackmint: event queue full (%d events), dropping events until the sender catches up",
                self._max_size,
            )
        if wake:
            self._notify()
        return accepted

    def take(self, max_events: int, max_bytes: int) -> tuple[list[event_pb2.Event], int, int]:
        """Up to ``max_events`` events within ``max_bytes``: (events, first ordinal, bytes).

        Always takes at least one event when any is queued, so an event larger
        than ``max_bytes`` still goes out (alone) instead of blocking the queue.
        """
        events: list[event_pb2.Event] = []
        total = 0
        with self._lock:
            first = self.taken
            items = self._items
            while items and len(events) < max_events:
                event, size = items[0]
                if events and total + size > max_bytes:
                    break
                items.popleft()
                events.append(event)
                total += size
            self._bytes -= total
            self.taken += len(events)
            if items:
                # What is left waits at most one more flush interval.
                self.first_at = time.monotonic()
            if self._overflowing and len(items) < self._max_size:
                self._overflowing = False
        return events, first, total

    def drain(self) -> int:
        """Remove every queued event (the caller counts them as dropped); returns how many."""
        with self._lock:
            count = len(self._items)
            self._items.clear()
            self._bytes = 0
            self.taken += count
            return count

    def close(self) -> None:
        """From now on every put is dropped and counted as ``closed``."""
        with self._lock:
            self._closed = True

    def ready(self, *, now: float, flush_interval: float, urgent: bool) -> bool:
        """Whether a batch should be taken now (full, old enough, or ``urgent`` and non-empty)."""
        with self._lock:
            if not self._items:
                return False
            return (
                urgent
                or len(self._items) >= self._batch_size
                or self._bytes >= self._max_batch_bytes
                or now - self.first_at >= flush_interval
            )

    def __len__(self) -> int:
        return len(self._items)


def _nothing() -> None:
    pass
