"""Why ingest refuses a call, each with the gRPC status it maps to.

    IngestError
    ├── AuthenticationError   UNAUTHENTICATED   missing, unknown, revoked or expired write key
    ├── InvalidBatchError     INVALID_ARGUMENT  the batch as a whole breaks a limit
    ├── MalformedRequestError INVALID_ARGUMENT  the request is not an EventBatch at all
    ├── RateLimitedError      RESOURCE_EXHAUSTED the key sends faster than its limit; retry-after says when
    └── UnavailableError      UNAVAILABLE       JetStream or the key store cannot be reached;
                                                nothing was acked, retry later
"""

import grpc


class IngestError(Exception):
    status: grpc.StatusCode = grpc.StatusCode.INTERNAL
    code = "internal"


class AuthenticationError(IngestError):
    status = grpc.StatusCode.UNAUTHENTICATED
    code = "unauthenticated"


class InvalidBatchError(IngestError):
    status = grpc.StatusCode.INVALID_ARGUMENT
    code = "invalid_batch"

    def __init__(self, message: str, sequence: int) -> None:
        super().__init__(message)
        self.sequence = sequence


class MalformedRequestError(IngestError):
    status = grpc.StatusCode.INVALID_ARGUMENT
    code = "malformed_request"


class RateLimitedError(IngestError):
    status = grpc.StatusCode.RESOURCE_EXHAUSTED
    code = "rate_limited"

    def __init__(self, message: str, retry_after: float) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class UnavailableError(IngestError):
    status = grpc.StatusCode.UNAVAILABLE
    code = "unavailable"
