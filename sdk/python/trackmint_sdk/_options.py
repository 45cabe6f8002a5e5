"""The knobs of a client, validated once when it is created."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from trackmint_sdk.errors import TrackMintError
from trackmint_sdk.events import DEFAULT_MAX_EVENT_BYTES


@dataclass(frozen=True)
class Options:
    """Client options; see the Client docstring for what each one means."""

    write_key: str
    endpoint: str | Sequence[str]
    batch_size: int = 500
    max_batch_bytes: int = 512 * 1024
    flush_interval: float = 0.5
    max_queue_size: int = 100_000
    max_in_flight: int = 8
    max_retry_delay: float = 30.0
    initial_retry_delay: float = 0.1
    max_event_bytes: int = DEFAULT_MAX_EVENT_BYTES
    ack_timeout: float = 30.0
    secure: bool = False
    root_certificates: bytes | None = None
    on_error: Callable[[TrackMintError], None] | None = None
    endpoints: tuple[str, ...] = field(init=False)
    """Every ingest address, in the order the sender tries them (``endpoint`` as given may be one or several)."""

    def __post_init__(self) -> None:
        if not isinstance(self.write_key, str) or not self.write_key.strip():
            raise ValueError("write_key must be a non-empty string (the project's write key)")
        endpoints = (self.endpoint,) if isinstance(self.endpoint, str) else tuple(self.endpoint)
        if not endpoints or any(not isinstance(item, str) or not item.strip() for item in endpoints):
            raise ValueError(
                "endpoint must be 'host:port' of the TrackMint ingest service, or a list of them (replicas)"
            )
        object.__setattr__(self, "endpoints", tuple(item.strip() for item in endpoints))
        for name in ("batch_size", "max_batch_bytes", "max_queue_size", "max_in_flight", "max_event_bytes"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be a positive integer, not {value!r}")
        for name in ("flush_interval", "max_retry_delay", "initial_retry_delay", "ack_timeout"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or value <= 0:
                raise ValueError(f"{name} must be a positive number of seconds, not {value!r}")
        if self.max_event_bytes > self.max_batch_bytes:
            raise ValueError("max_event_bytes must not exceed max_batch_bytes")
        if self.root_certificates is not None and not self.secure:
            raise ValueError("root_certificates needs secure=True")
        if self.on_error is not None and not callable(self.on_error):
            raise TypeError("on_error must be callable")

    @property
    def key_hint(self) -> str:
        """The start of the write key, safe to log (never the whole key)."""
        return self.write_key[:12] + "…"

    def redact(self, text: str) -> str:
        """``text`` (e.g. a server's error details) with any longer part of the write key cut to key_hint."""
        key = self.write_key
        for length in range(len(key), 12, -1):
            if key[:length] in text:
                return text.replace(key[:length], self.key_hint)
        return text
