"""Errors the query service reports to GraphQL clients.

Each carries a machine-readable code, which reaches the client as
`errors[].extensions.code`::

    QueryError                  (base; never raised itself)
     ├── BadUserInputError      BAD_USER_INPUT: the request itself is wrong
     ├── NotFoundError          NOT_FOUND: it names something that does not exist
     ├── UnauthenticatedError   UNAUTHENTICATED: no, an invalid or an expired credential
     ├── ForbiddenError         FORBIDDEN: a known caller whose role does not allow it
     ├── ConflictError          CONFLICT: it would duplicate something unique (an email)
     ├── UnavailableError       UNAVAILABLE: a service it needs (ingest, NATS) is not reachable; retry later
     └── RateLimitedError       RATE_LIMITED: too many attempts; `retryAfterSeconds` says when to try again

Anything else raised inside a resolver is a bug or an outage: it is logged
and the client sees a masked "Unexpected error.".
"""

from typing import ClassVar


class QueryError(Exception):
    """An expected failure the client can act on."""

    code: ClassVar[str] = "INTERNAL"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    @property
    def extensions(self) -> dict[str, object]:
        # graphql-core copies `extensions` of the original error into the response.
        return {"code": self.code}


class BadUserInputError(QueryError):
    """An argument is malformed or out of range."""

    code = "BAD_USER_INPUT"


class NotFoundError(QueryError):
    """The request names a project (or other object) that does not exist."""

    code = "NOT_FOUND"


class UnauthenticatedError(QueryError):
    """The caller is not who they claim: missing, wrong, expired or revoked credentials."""

    code = "UNAUTHENTICATED"


class ForbiddenError(QueryError):
    """The caller is known, but their role does not allow this operation."""

    code = "FORBIDDEN"


class ConflictError(QueryError):
    """The request would create a second copy of something unique."""

    code = "CONFLICT"


class UnavailableError(QueryError):
    """Another TrackMint service the operation needs cannot be reached right now; retrying later may work."""

    code = "UNAVAILABLE"


class RateLimitedError(QueryError):
    """Too many attempts; the client may try again after `retry_after_seconds`."""

    code = "RATE_LIMITED"

    def __init__(self, message: str, retry_after_seconds: int) -> None:
        super().__init__(message)
        self.retry_after_seconds = retry_after_seconds

    @property
    def extensions(self) -> dict[str, object]:
        return {"code": self.code, "retryAfterSeconds": self.retry_after_seconds}
