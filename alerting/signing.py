"""Webhook signing for alert channels: the shared scheme of webhooks/signing.py, with the channels' secret context.

A webhook channel stores a random nonce, never its secret; the secret is
`whsec_` + HMAC-SHA256(TRACKMINT_SECRET_KEY, "trackmint-webhook-secret:" + hex(nonce)),
so only a holder of the server secret can sign or show it.

Each post carries `X-TrackMint-Signature: t=<unix seconds>,v1=<hex>` where
hex = HMAC-SHA256(secret, "<t>.<raw body>"). A receiver recomputes it with its
copy of the secret, compares in constant time, and rejects old timestamps
(replays). `X-TrackMint-Delivery` is the delivery id, the same on every retry,
for de-duplication.
"""

from webhooks.signing import (
    DELIVERY_HEADER,
    SIGNATURE_HEADER,
    derive_secret,
    new_nonce,
    signature,
    signature_header,
    verify,
)

__all__ = ["DELIVERY_HEADER", "SIGNATURE_HEADER", "new_nonce", "signature", "signature_header", "verify",
           "webhook_secret"]

_SECRET_CONTEXT = "trackmint-webhook-secret"


def webhook_secret(server_secret: str, nonce: bytes) -> str:
    return derive_secret(server_secret, _SECRET_CONTEXT, nonce)
