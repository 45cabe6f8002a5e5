"""What every resolver receives as `info.context`, built once per request."""

from dataclasses import dataclass

import asyncpg
from starlette.requests import Request
from starlette.responses import Response
from starlette.websockets import WebSocket

from config import Settings
from query.auth.throttle import LoginThrottle
from query.auth.tokens import AccessClaims


@dataclass
class QueryContext:
    request: Request | WebSocket
    response: Response | WebSocket | None
    # Created by the application's lifespan; resolvers borrow connections from it.
    pool: asyncpg.Pool
    settings: Settings
    # One per application (so per replica), shared by its requests.
    login_throttle: LoginThrottle
    # The caller, from a valid `Authorization: Bearer <access token>`; None when anonymous.
    user: AccessClaims | None = None
    # Why a presented access token was refused (expired, invalid), for the UNAUTHENTICATED message.
    auth_error: str | None = None
