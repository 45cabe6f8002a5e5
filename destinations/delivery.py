"""POSTing one signed batch to a destination's URL; one attempt, bounded by a timeout.

Raises `DeliveryError` with a readable reason (never the whole URL, whose path
or query may carry the receiver's own secret) on anything but a 2xx answer.
Retries, backoff and dead letters belong to the caller (destinations/worker.py,
or the API's retry of dead letters).
"""

import time
import uuid
from dataclasses import dataclass

import httpx

from destinations.errors import DeliveryError
from webhooks.signing import DELIVERY_HEADER, SIGNATURE_HEADER, derive_secret, signature_header

USER_AGENT = "TrackMint-Destinations/1"
SECRET_CONTEXT = "trackmint-destination-secret"


def destination_secret(server_secret: str, nonce: bytes) -> str:
    """The signing secret of a destination (shown once to its creator; derived, never stored)."""
    return derive_secret(server_secret, SECRET_CONTEXT, nonce)


@dataclass(frozen=True)
class Target:
    """Where a batch goes and how it is signed."""

    url: str
    secret: str


async def post_batch(http: httpx.AsyncClient, target: Target, delivery: uuid.UUID, body: bytes,
                     timeout_seconds: float) -> int:
    """Send `body` once; return the (2xx) status code, or raise DeliveryError."""
    headers = {
        "content-type": "application/json",
        "user-agent": USER_AGENT,
        # Signed per attempt: a retry hours later still passes the receiver's timestamp tolerance.
        SIGNATURE_HEADER: signature_header(target.secret, int(time.time()), body),
        DELIVERY_HEADER: str(delivery),
    }
    try:
        response = await http.post(target.url, content=body, headers=headers, timeout=timeout_seconds)
    except httpx.TimeoutException as error:
        reason = f"{type(error).__name__}: no answer within {timeout_seconds:g} s"
        raise DeliveryError(f"POST {origin(target.url)}: {reason}") from None
    except httpx.HTTPError as error:
        raise DeliveryError(f"POST {origin(target.url)}: {type(error).__name__}: {error}") from None
    if not response.is_success:
        raise DeliveryError(f"POST {origin(target.url)}: HTTP {response.status_code} {response.text[:200]!r}",
                            response.status_code)
    return response.status_code


def origin(url: str) -> str:
    """scheme://host[:port] of a URL, which is all a log line or an error message may show of it."""
    try:
        parsed = httpx.URL(url)
    except httpx.InvalidURL:
        return "(invalid URL)"
    return f"{parsed.scheme}://{parsed.host}" + (f":{parsed.port}" if parsed.port else "")
