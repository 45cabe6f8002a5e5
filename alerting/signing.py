"""Webhook signing: per-channel secrets derived from the server secret, and the HMAC-SHA256 header.

A webhook channel stores a random nonce, never its secret; the secret is
`whsec_` + HMAC-SHA256(TRACKMINT_SECRET_KEY, "trackmint-webhook-secret:" + hex(nonce)),
so only a holder of the server secret can sign or show it.

Each post carries `X-TrackMint-Signature: t=<unix seconds>,v1=<hex>` where
hex = HMAC-SHA256(secret, "<t>.<raw body>"). A receiver recomputes it with its
copy of the secret, compares in constant time, and rejects old timestamps
(replays). `X-TrackMint-Delivery` is the delivery id, the same on every retry,
for de-duplication.
"""

import hashlib
import hmac
import secrets

SIGNATURE_HEADER = "X-TrackMint-Signature"
DELIVERY_HEADER = "X-TrackMint-Delivery"
_SECRET_CONTEXT = b"trackmint-webhook-secret:"


def new_nonce() -> bytes:
    return secrets.token_bytes(16)


def webhook_secret(server_secret: str, nonce: bytes) -> str:
    digest = hmac.new(server_secret.encode(), _SECRET_CONTEXT + nonce.hex().encode(), hashlib.sha256).hexdigest()
    return f"whsec_{digest}"


def signature(secret: str, timestamp: int, body: bytes) -> str:
    return hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()


def signature_header(secret: str, timestamp: int, body: bytes) -> str:
    return f"t={timestamp},v1={signature(secret, timestamp, body)}"


def verify(secret: str, header: str, body: bytes, now: int, tolerance_seconds: int = 300) -> bool:
    """Whether `header` signs `body` with `secret`, within `tolerance_seconds` of `now`."""
    try:
        parts = dict(part.split("=", 1) for part in header.split(","))
        timestamp = int(parts["t"])
    except (KeyError, ValueError):
        return False
    if abs(now - timestamp) > tolerance_seconds:
        return False
    return hmac.compare_digest(parts.get("v1", ""), signature(secret, timestamp, body))
