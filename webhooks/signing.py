"""Webhook signatures: per-target secrets derived from the server secret, and the timestamped HMAC header.

A target stores a random nonce, never its secret; the secret is
`whsec_` + HMAC-SHA256(TRACKMINT_SECRET_KEY, "<context>:" + hex(nonce)), so only a
holder of the server secret can sign or show it, and a database dump reveals none.
The context keeps the secrets of different kinds of target (alert channels,
destinations) apart even if two nonces were ever equal.

Each POST carries `X-TrackMint-Signature: t=<unix seconds>,v1=<hex>` with
hex = HMAC-SHA256(secret, "<t>.<raw body>") (the scheme Stripe made familiar).
A receiver recomputes it, compares in constant time and refuses old timestamps
(replays). `X-TrackMint-Delivery` names the delivery, the same on every retry.
"""

import hashlib
import hmac
import secrets

SIGNATURE_HEADER = "X-TrackMint-Signature"
"""`t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<body>">`."""

DELIVERY_HEADER = "X-TrackMint-Delivery"
"""The delivery id (a UUID), the same on every retry of one delivery: receivers de-duplicate with it."""

DEFAULT_TOLERANCE_SECONDS = 300
"""How far a signature's timestamp may be from the receiver's clock."""


def new_nonce() -> bytes:
    return secrets.token_bytes(16)


def derive_secret(server_secret: str, context: str, nonce: bytes) -> str:
    digest = hmac.new(server_secret.encode(), f"{context}:{nonce.hex()}".encode(), hashlib.sha256).hexdigest()
    return f"whsec_{digest}"


def signature(secret: str, timestamp: int, body: bytes) -> str:
    return hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()


def signature_header(secret: str, timestamp: int, body: bytes) -> str:
    return f"t={timestamp},v1={signature(secret, timestamp, body)}"


def verify(secret: str, header: str, body: bytes, now: int, tolerance_seconds: int = DEFAULT_TOLERANCE_SECONDS) -> bool:
    """Whether `header` signs `body` with `secret`, within `tolerance_seconds` of `now`."""
    try:
        parts = dict(part.split("=", 1) for part in header.split(","))
        timestamp = int(parts["t"])
    except (KeyError, ValueError):
        return False
    if abs(now - timestamp) > tolerance_seconds:
        return False
    return hmac.compare_digest(parts.get("v1", ""), signature(secret, timestamp, body))
