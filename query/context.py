"""What every resolver receives as `info.context`, built once per request."""

from dataclasses import dataclass

import asyncpg
from starlette.requests import Request
from starlette.responses import Response
from starlette.websockets import WebSocket


@dataclass
class QueryContext:
    request: Request | WebSocket
    response: Response | WebSocket | None
    # Created by the application's lifespan; resolvers borrow connections from it.
    pool: asyncpg.Pool
