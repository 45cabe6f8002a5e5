"""The query service's Starlette application: GraphQL plus health endpoints.

The asyncpg pool lives exactly as long as the application (its lifespan) and
reaches resolvers through the per-request context, never through a module
global, so tests and several apps in one process never share one.
"""

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any, TypedDict

import asyncpg
import strawberry
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from starlette.websockets import WebSocket
from strawberry.asgi import GraphQL

from config import Settings
from query.auth.throttle import LoginThrottle
from query.auth.tokens import AccessClaims, TokenError, verify_access_token
from query.context import QueryContext
from query.schema import create_schema
from query.schemas.replay import ReplayClient
from storage.database import create_pool

logger = logging.getLogger(__name__)

READINESS_TIMEOUT_SECONDS = 2.0
"""How long /readyz waits for the database before calling it unavailable."""


class _State(TypedDict):
    pool: asyncpg.Pool
    # Asks ingest to replay rejected events over NATS; connects on first use, so NATS stays optional.
    replay: ReplayClient


class GraphQLView(GraphQL[QueryContext, None]):
    """Strawberry's ASGI view, with our context: the request, the application's pool and the caller."""

    def __init__(self, schema: strawberry.Schema, settings: Settings, **options: Any) -> None:
        super().__init__(schema, **options)
        self.settings = settings
        self.login_throttle = LoginThrottle()

    async def get_context(self, request: Request | WebSocket, response: Response | WebSocket) -> QueryContext:
        user, auth_error = self._authenticate(request.headers.get("authorization"))
        return QueryContext(
            request=request,
            response=response,
            pool=request.state.pool,
            settings=self.settings,
            login_throttle=self.login_throttle,
            user=user,
            auth_error=auth_error,
        )

    def _authenticate(self, authorization: str | None) -> tuple[AccessClaims | None, str | None]:
        """(caller, None) for a valid bearer token, (None, reason) for a bad one, (None, None) without one."""
        if not authorization:
            return None, None
        scheme, _, token = authorization.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            return None, "authorization header must be `Bearer <access token>`"
        try:
            return verify_access_token(self.settings, token.strip()), None
        except TokenError as error:
            return None, str(error)


def create_app(settings: Settings) -> Starlette:
    if not settings.database_url:
        raise ValueError("the query service needs settings.database_url")
    database_url = settings.database_url

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[_State]:
        pool = await create_pool(database_url, size=settings.database_pool_size)
        logger.info("query service database pool open", extra={"pool_size": settings.database_pool_size})
        replay = ReplayClient(settings)
        try:
            # Starlette copies this state into every request's `request.state`.
            yield {"pool": pool, "replay": replay}
        finally:
            await replay.close()
            await pool.close()

    graphql = GraphQLView(create_schema(), settings, graphql_ide="graphiql")
    routes = [
        Route("/graphql", graphql, methods=["GET", "POST"]),
        Route("/healthz", _healthz, methods=["GET"]),
        Route("/readyz", _readyz, methods=["GET"]),
    ]
    return Starlette(routes=routes, lifespan=lifespan)


async def _healthz(request: Request) -> Response:
    return JSONResponse({"status": "ok"})


async def _readyz(request: Request) -> Response:
    pool: asyncpg.Pool = request.state.pool
    try:
        await pool.fetchval("SELECT 1", timeout=READINESS_TIMEOUT_SECONDS)
    except Exception as error:
        # Whatever stops `SELECT 1` (refused, dropped, timed out, closed pool) means "not ready".
        logger.warning("readiness check failed: %r", error)
        return JSONResponse(
            {"status": "unavailable", "problem": "database", "detail": f"{type(error).__name__}: {error}"},
            status_code=503,
        )
    return JSONResponse({"status": "ok"})
