"""Delivery counters of a client, and the snapshot users read from ``client.stats``.

Once the client is idle: ``enqueued == acked + rejected + dropped`` (``in_flight``
and ``queued`` are then 0), except that after a reconnect ``acked`` may count a
batch twice: one the server stored but whose ack was lost, resent and acked again.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

DROP_REASONS = ("queue_full", "unauthorized", "batch_too_large", "invalid_argument", "closed")
"""Why the SDK drops events, one counter each in ``Stats.dropped_by_reason``."""


@dataclass(frozen=True)
class DroppedByReason:
    """Events dropped without reaching storage, by reason."""

    queue_full: int = 0
    """The in-memory queue was full (server slow or unreachable for long)."""
    unauthorized: int = 0
    """The server refused the write key."""
    batch_too_large: int = 0
    """The server refused a batch as too large."""
    invalid_argument: int = 0
    """The server refused a whole batch as malformed."""
    closed: int = 0
    """Enqueued after close(), or still unsent when close() gave up waiting."""


@dataclass(frozen=True)
class Stats:
    """A point-in-time snapshot of a client's delivery counters (events, not batches)."""

    enqueued: int
    """Events handed to track()/page()/... that passed validation."""
    acked: int
    """Events the server accepted (durable on the server side)."""
    rejected: int
    """Events the server rejected one by one (invalid; not retried)."""
    dropped: int
    """Events the SDK gave up on; see dropped_by_reason."""
    dropped_by_reason: DroppedByReason
    in_flight: int
    """Events sent or being resent, not yet acked."""
    queued: int
    """Events waiting in the in-memory queue."""
    reconnects: int
    """Streams opened after the first one (each break of the stream costs one)."""
    ack_latency_p50_ms: float | None = None
    """Median time from writing a batch to its ack, over the last 4096 acked batches."""
    ack_latency_p99_ms: float | None = None
    """99th percentile of the same."""
    failovers: int = 0
    """Switches to the next of several ingest endpoints after the current one failed."""


ACK_LATENCY_SAMPLES = 4096


def latency_percentiles(samples: list[float]) -> tuple[float | None, float | None]:
    """(p50, p99) in milliseconds of latencies given in seconds; None when there are none."""
    if not samples:
        return None, None
    ordered = sorted(samples)
    last = len(ordered) - 1

    def at(fraction: float) -> float:
        return round(ordered[min(last, round(fraction * last))] * 1000, 3)

    return at(0.5), at(0.99)


class Counters:
    """The mutable counters behind Stats, owned by the sender's event loop."""

    def __init__(self) -> None:
        self.acked = 0
        self.rejected = 0
        self.reconnects = 0
        self.failovers = 0
        self.dropped = dict.fromkeys(DROP_REASONS, 0)
        self.ack_latencies: deque[float] = deque(maxlen=ACK_LATENCY_SAMPLES)

    def ack_latency_samples(self) -> list[float]:
        """A copy of the recent ack latencies, safe from another thread."""
        while True:
            try:
                return list(self.ack_latencies)
            except RuntimeError:  # appended to while copying; try again
                continue
