"""What every resolver receives as `info.context`, built once per request."""

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import asyncpg
from starlette.requests import Request
from starlette.responses import Response
from starlette.websockets import WebSocket

from config import Settings
from query.auth.throttle import LoginThrottle
from query.auth.tokens import AccessClaims

if TYPE_CHECKING:
    from query.live.hub import LiveHub


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
    # The token `user` came from, so long-lived subscriptions can notice when it expires.
    access_token: str | None = None
    # The application's fan-out of live notices, for subscriptions.
    live: "LiveHub | None" = None
    # A WebSocket's `connection_init` payload (Strawberry sets it); carries the access token there.
    connection_params: dict[str, Any] = field(default_factory=dict)
