"""gRPC metadata keys of the ingest contract (lower case, as gRPC requires)."""

AUTHORIZATION = "authorization"
"""`Bearer <write key>`."""

API_KEY = "x-api-key"
"""The write key alone, for clients that cannot set authorization."""

RETRY_AFTER = "retry-after"
"""Trailing metadata on RESOURCE_EXHAUSTED: seconds to wait before resending."""

BATCH_SEQUENCE = "trackmint-batch-sequence"
"""Trailing metadata on INVALID_ARGUMENT: the sequence of the batch that was refused."""
