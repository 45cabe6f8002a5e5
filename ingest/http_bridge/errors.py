"""Why the bridge refuses a whole request, each with its HTTP status and a machine-readable code.

    BridgeError
    ├── BadRequestError           400  malformed_json, invalid_utf8, too_deep, invalid_body, invalid_gzip
    ├── OriginNotAllowedError     403  origin_not_allowed: the project does not list the request's Origin
    ├── BodyTooLargeError         413  body_too_large: on the wire or after gzip decompression
    └── UnsupportedMediaTypeError 415  unsupported_media_type: a Content-Type or Content-Encoding not accepted

The pipeline's own refusals (ingest.errors.IngestError) map to statuses by `status_for`.
Error bodies carry `code` and `message`, the keys Segment's libraries read from a failed response.
"""

from ingest.errors import (
    AuthenticationError,
    IngestError,
    InvalidBatchError,
    MalformedRequestError,
    RateLimitedError,
    UnavailableError,
)


class BridgeError(Exception):
    status = 400
    code = "bad_request"

    def __init__(self, message: str, code: str | None = None) -> None:
        super().__init__(message)
        if code is not None:
            self.code = code


class BadRequestError(BridgeError):
    status = 400
    code = "invalid_body"


class OriginNotAllowedError(BridgeError):
    status = 403
    code = "origin_not_allowed"


class BodyTooLargeError(BridgeError):
    status = 413
    code = "body_too_large"


class UnsupportedMediaTypeError(BridgeError):
    status = 415
    code = "unsupported_media_type"


_INGEST_STATUS: tuple[tuple[type[IngestError], int], ...] = (
    (AuthenticationError, 401),
    (InvalidBatchError, 400),
    (MalformedRequestError, 400),
    (RateLimitedError, 429),
    (UnavailableError, 503),
)


def status_for(error: IngestError) -> int:
    """The HTTP status of a pipeline refusal; 500 for an IngestError this table does not know."""
    for kind, status in _INGEST_STATUS:
        if isinstance(error, kind):
            return status
    return 500
