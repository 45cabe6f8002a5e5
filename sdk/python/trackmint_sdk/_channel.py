"""The gRPC channel a sender talks to ingest over, with options suited to one long-lived stream."""

from __future__ import annotations

import grpc

from trackmint_sdk._options import Options
from trackmint_sdk._version import __version__


def open_channel(options: Options, endpoint: str) -> grpc.aio.Channel:
    """A grpc.aio channel to ``endpoint`` (one of ``options.endpoints``); connects lazily, on the first call."""
    channel_options = [
        # Detect dead connections under a long-lived stream; ingest must allow pings
        # this often (grpc.http2.min_ping_interval_without_data_ms <= 60 s).
        ("grpc.keepalive_time_ms", 60_000),
        ("grpc.keepalive_timeout_ms", 20_000),
        ("grpc.keepalive_permit_without_calls", 0),
        ("grpc.http2.max_pings_without_data", 0),
        # Reconnect soon after ingest comes back; the SDK does its own retries.
        ("grpc.initial_reconnect_backoff_ms", int(options.initial_retry_delay * 1000)),
        ("grpc.max_reconnect_backoff_ms", int(options.max_retry_delay * 1000)),
        ("grpc.enable_retries", 0),
        ("grpc.primary_user_agent", f"trackmint-python/{__version__}"),
    ]
    if options.secure:
        credentials = grpc.ssl_channel_credentials(root_certificates=options.root_certificates)
        return grpc.aio.secure_channel(endpoint, credentials, options=channel_options)
    return grpc.aio.insecure_channel(endpoint, options=channel_options)
