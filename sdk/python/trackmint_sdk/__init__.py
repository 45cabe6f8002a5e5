"""TrackMint's Python SDK: send product analytics events to TrackMint ingest over gRPC.

    from trackmint_sdk import Client

    client = Client("tm_live_...", "localhost:50051")
    client.track("Signed Up", user_id="user-42", properties={"plan": "pro"})
    client.close()  # also runs at exit

``AsyncClient`` is the same for asyncio services. See README.md for options,
delivery guarantees and how dropped events are reported.
"""

from trackmint_sdk._version import __version__
from trackmint_sdk.async_client import AsyncClient
from trackmint_sdk.client import Client
from trackmint_sdk.errors import (
    BatchTooLargeError,
    DeliveryError,
    EventsRejectedError,
    InvalidBatchError,
    Rejection,
    ServerUnavailableError,
    TrackMintError,
    UnauthorizedError,
)
from trackmint_sdk.stats import DroppedByReason, Stats

__all__ = [
    "AsyncClient",
    "BatchTooLargeError",
    "Client",
    "DeliveryError",
    "DroppedByReason",
    "EventsRejectedError",
    "InvalidBatchError",
    "Rejection",
    "ServerUnavailableError",
    "Stats",
    "TrackMintError",
    "UnauthorizedError",
    "__version__",
]
