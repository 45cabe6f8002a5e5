"""What the sender does when the ingest stream ends: a pure function of the gRPC status.

Also the gRPC metadata keys the SDK sends and reads (the server has its own
copy of these names; the SDK imports no server code).
"""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

import grpc

from trackmint.v1 import batch_pb2
from trackmint_sdk.errors import EventsRejectedError, Rejection

METADATA_AUTHORIZATION = "authorization"
"""Request metadata carrying ``Bearer <write key>``."""

METADATA_RETRY_AFTER = "retry-after"
"""Trailing metadata of RESOURCE_EXHAUSTED when rate-limited: seconds to wait, as a decimal string."""

METADATA_BATCH_SEQUENCE = "trackmint-batch-sequence"
"""Trailing metadata naming the sequence of the batch the server refused as a whole."""

RESEND = "resend"
"""Transient failure: resend every un-acked batch after a backoff (or the server's retry-after)."""

DROP_BATCH = "drop_batch"
"""One batch can never be accepted: drop it (``sequence`` says which, if the server said), resend the rest."""

DROP_ALL = "drop_all"
"""The write key is refused: drop everything queued and in flight."""

_TRANSIENT = frozenset(
    {
        grpc.StatusCode.UNAVAILABLE,
        grpc.StatusCode.DEADLINE_EXCEEDED,
        grpc.StatusCode.INTERNAL,
        grpc.StatusCode.UNKNOWN,
        grpc.StatusCode.CANCELLED,
        grpc.StatusCode.ABORTED,
    }
)
_UNAUTHORIZED = frozenset({grpc.StatusCode.UNAUTHENTICATED, grpc.StatusCode.PERMISSION_DENIED})


@dataclass(frozen=True)
class Decision:
    """How to go on after the stream ended with some status."""

    action: str
    """RESEND, DROP_BATCH or DROP_ALL."""
    drop_reason: str = ""
    """The Stats.dropped_by_reason counter for dropped events."""
    sequence: int | None = None
    """For DROP_BATCH: the batch the server named, if it named one."""
    retry_after: float | None = None
    """For RESEND: the server's wait in seconds; None means exponential backoff."""
    expected: bool = True
    """False for statuses the SDK does not expect from ingest (worth an error log)."""


def classify(code: grpc.StatusCode | None, trailing_metadata: Iterable[Any] | None) -> Decision:
    """The decision for a stream that ended with ``code`` (None: ended cleanly by the server)."""
    metadata = _as_dict(trailing_metadata)
    if code is None or code == grpc.StatusCode.OK or code in _TRANSIENT:
        return Decision(RESEND)
    if code == grpc.StatusCode.RESOURCE_EXHAUSTED:
        retry_after = _parse_float(metadata.get(METADATA_RETRY_AFTER))
        if retry_after is not None:
            return Decision(RESEND, retry_after=retry_after)
        return Decision(
            DROP_BATCH, "batch_too_large", sequence=_parse_int(metadata.get(METADATA_BATCH_SEQUENCE))
        )
    if code in _UNAUTHORIZED:
        return Decision(DROP_ALL, "unauthorized")
    if code == grpc.StatusCode.INVALID_ARGUMENT:
        return Decision(
            DROP_BATCH, "invalid_argument", sequence=_parse_int(metadata.get(METADATA_BATCH_SEQUENCE))
        )
    # UNIMPLEMENTED, NOT_FOUND, ...: probably not a TrackMint ingest at this
    # endpoint. Keep retrying with backoff; the queue bound limits the damage.
    return Decision(RESEND, expected=False)


_FAIL_OVER = frozenset(
    {grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED, grpc.StatusCode.UNKNOWN, grpc.StatusCode.INTERNAL}
)


def should_fail_over(code: grpc.StatusCode | None, decision: Decision) -> bool:
    """Whether to try the next endpoint: the stream failed in a way one ingest replica can cause (unreachable,
    killed, draining, no ack in time). Not for a rate limit (``retry_after``, each replica counts its own) or a
    refusal (every replica would answer the same)."""
    return decision.action == RESEND and decision.retry_after is None and code in _FAIL_OVER


def backoff_delay(
    attempt: int, *, initial: float, maximum: float, rng: Callable[[], float] = random.random
) -> float:
    """Exponential backoff with full jitter: uniform in [0, min(maximum, initial * 2**attempt))."""
    return rng() * min(maximum, initial * (2 ** min(attempt, 62)))


def rejections_error(ack: batch_pb2.BatchAck, *, batch_events: int) -> EventsRejectedError:
    """The per-event rejections of an ack, summarised in one line (counts by code, the first reason)."""
    rejections = [
        Rejection(message_id=item.message_id, code=_rejection_name(item.code), reason=item.reason)
        for item in ack.rejections
    ]
    by_code = Counter(item.code for item in rejections)
    summary = ", ".join(f"{code} x{count}" for code, count in by_code.most_common())
    first = rejections[0]
    message = (
        f"server rejected {len(rejections)} of {batch_events} events in batch {ack.sequence}"
        f" ({summary}); first: {first.reason} (message_id {first.message_id})"
    )
    return EventsRejectedError(message, sequence=ack.sequence, rejections=rejections)


def _rejection_name(code: int) -> str:
    try:
        return batch_pb2.RejectionCode.Name(code).removeprefix("REJECTION_CODE_")
    except ValueError:
        return str(code)


def _as_dict(metadata: Iterable[Any] | None) -> dict[str, str]:
    result: dict[str, str] = {}
    for item in metadata or ():
        key, value = item
        if isinstance(value, bytes):
            value = value.decode("utf-8", "replace")
        result[str(key).lower()] = str(value)
    return result


def _parse_float(text: str | None) -> float | None:
    if text is None:
        return None
    try:
        value = float(text.strip())
    except ValueError:
        return None
    if value != value or value < 0 or value == float("inf"):
        return None
    return value


def _parse_int(text: str | None) -> int | None:
    if text is None:
        return None
    try:
        return int(text.strip())
    except ValueError:
        return None
