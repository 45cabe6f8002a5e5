"""What the SDK reports when events cannot be delivered.

Programming errors in a call (no user id, an empty event name, properties that
are not JSON) raise the built-in ``ValueError`` / ``TypeError`` at the call
site. Everything that goes wrong later, on the background sender, never
raises into the host application: it is counted in ``client.stats``, logged,
and handed to the optional ``on_error`` callback as one of these::

    TrackMintError                      code
    ├── DeliveryError                   (events dropped without being stored)
    │   ├── UnauthorizedError           "unauthorized"
    │   ├── BatchTooLargeError          "batch_too_large"
    │   └── InvalidBatchError           "invalid_argument"
    ├── EventsRejectedError             "rejected"    (per-event rejections in an ack)
    └── ServerUnavailableError          "unavailable" (retrying; nothing dropped)
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass


class TrackMintError(Exception):
    """Base class of every error the SDK reports; ``code`` is machine-readable."""

    code = "error"


class DeliveryError(TrackMintError):
    """Events were dropped without being stored; ``dropped`` says how many."""

    code = "dropped"

    def __init__(self, message: str, *, dropped: int, status: str = "") -> None:
        super().__init__(message)
        self.dropped = dropped
        self.status = status


class UnauthorizedError(DeliveryError):
    """The server refused the write key (UNAUTHENTICATED or PERMISSION_DENIED)."""

    code = "unauthorized"


class BatchTooLargeError(DeliveryError):
    """The server refused a batch as too large (RESOURCE_EXHAUSTED without retry-after)."""

    code = "batch_too_large"


class InvalidBatchError(DeliveryError):
    """The server refused a whole batch as malformed (INVALID_ARGUMENT)."""

    code = "invalid_argument"


@dataclass(frozen=True)
class Rejection:
    """One event the server did not accept, and why; it is not retried."""

    message_id: str
    code: str
    reason: str


class EventsRejectedError(TrackMintError):
    """The server stored a batch but rejected some of its events."""

    code = "rejected"

    def __init__(self, message: str, *, sequence: int, rejections: Sequence[Rejection]) -> None:
        super().__init__(message)
        self.sequence = sequence
        self.rejections = tuple(rejections)


class ServerUnavailableError(TrackMintError):
    """The stream to the server broke; the SDK is reconnecting and will resend."""

    code = "unavailable"

    def __init__(self, message: str, *, status: str) -> None:
        super().__init__(message)
        self.status = status
