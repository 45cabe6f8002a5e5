"""What the plain-HTTP endpoints beside GraphQL (`/export/...` CSV and JSON Lines, `/export/report.pdf`) share:
the caller from `Authorization: Bearer <access token>`, a bounded JSON body, and refusals answered as
`{"code", "message"}` with the HTTP status of their code, exactly as GraphQL names them."""

import json
from collections.abc import Awaitable, Callable
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from config import Settings
from query.auth.tokens import AccessClaims, TokenError, verify_access_token
from query.errors import BadUserInputError, QueryError, RateLimitedError, UnauthenticatedError

STATUS_OF_CODE = {
    "BAD_USER_INPUT": 400,
    "GRAPHQL_VALIDATION_FAILED": 400,
    "GRAPHQL_PARSE_FAILED": 400,
    "UNAUTHENTICATED": 401,
    "FORBIDDEN": 403,
    "NOT_FOUND": 404,
    "CONFLICT": 409,
    "RATE_LIMITED": 429,
    "UNAVAILABLE": 503,
}

Handler = Callable[[Request], Awaitable[Response]]


def refusal(error: QueryError) -> Response:
    headers = {"Retry-After": str(error.retry_after_seconds)} if isinstance(error, RateLimitedError) else {}
    return JSONResponse({"code": error.code, "message": error.message},
                        status_code=STATUS_OF_CODE.get(error.code, 400), headers=headers)


def with_refusals(handler: Handler) -> Handler:
    """The handler, with its expected failures (QueryErrors) answered as `{"code", "message"}` and a status."""

    async def answer(request: Request) -> Response:
        try:
            return await handler(request)
        except QueryError as error:
            return refusal(error)

    return answer


def bearer_caller(settings: Settings, authorization: str) -> AccessClaims:
    """The caller an `Authorization` header's access token names; UNAUTHENTICATED saying why not."""
    scheme, _, value = authorization.partition(" ")
    try:
        if scheme.lower() != "bearer" or not value.strip():
            raise TokenError("authorization header must be `Bearer <access token>`")
        return verify_access_token(settings, value.strip())
    except TokenError as error:
        raise UnauthenticatedError(str(error)) from None


async def json_object_body(request: Request, max_bytes: int) -> dict[str, Any]:
    """The request body as a JSON object, read up to `max_bytes` (more is BAD_USER_INPUT, not a memory spike)."""
    body = b""
    async for chunk in request.stream():
        body += chunk
        if len(body) > max_bytes:
            raise BadUserInputError(f"the request body may be at most {max_bytes} bytes")
    try:
        parsed = json.loads(body or b"{}")
    except (ValueError, UnicodeDecodeError):
        raise BadUserInputError("the request body must be a JSON object") from None
    if not isinstance(parsed, dict):
        raise BadUserInputError("the request body must be a JSON object")
    return parsed
