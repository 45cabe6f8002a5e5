"""The query service's Starlette application: GraphQL (HTTP, and WebSocket for subscriptions) plus health endpoints.

The asyncpg pool and the live hub (the replica's NATS subscription to live
notices) live exactly as long as the application (its lifespan) and reach
resolvers through the per-request context, never through a module global, so
tests and several apps in one process never share one. Subscriptions speak
`graphql-transport-ws` and authenticate with the access token of the
`connection_init` payload (`{"authorization": "Bearer <token>"}` or
`{"token": "<token>"}`), or else the handshake's Authorization header.
"""

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta
from typing import Any, TypedDict

import asyncpg
import strawberry
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route, WebSocketRoute
from starlette.websockets import WebSocket
from strawberry.asgi import GraphQL
from strawberry.subscriptions import GRAPHQL_TRANSPORT_WS_PROTOCOL
from strawberry.types.unset import UNSET, UnsetType

from config import Settings
from observability.logs import RequestIdMiddleware
from query.auth.throttle import LoginThrottle
from query.auth.tokens import AccessClaims, TokenError, verify_access_token
from query.context import QueryContext
from query.exports.routes import export_routes
from query.live.hub import LiveHub
from query.metrics import QueryMetrics
from query.reports.routes import report_routes
from query.schema import create_schema
from query.schemas.replay import ReplayClient
from query.webui import webui_routes
from storage.database import create_pool

logger = logging.getLogger(__name__)

READINESS_TIMEOUT_SECONDS = 2.0
"""How long /readyz waits for the database before calling it unavailable."""


class _State(TypedDict):
    pool: asyncpg.Pool
    # This application's Prometheus metrics (GraphQL latency by field, errors, live subscriptions).
    metrics: QueryMetrics
    # Asks ingest to replay rejected events over NATS; connects on first use, so NATS stays optional.
    replay: ReplayClient
    # The replica's one NATS subscription to live notices, fanned out to its subscriptions.
    live: LiveHub


class GraphQLView(GraphQL[QueryContext, None]):
    """Strawberry's ASGI view, with our context: the request, the application's pool and the caller."""

    def __init__(self, schema: strawberry.Schema, settings: Settings, **options: Any) -> None:
        super().__init__(
            schema,
            subscription_protocols=(GRAPHQL_TRANSPORT_WS_PROTOCOL,),
            connection_init_wait_timeout=timedelta(seconds=settings.live_connection_init_seconds),
            **options,
        )
        self.settings = settings
        self.login_throttle = LoginThrottle()

    async def get_context(self, request: Request | WebSocket, response: Response | WebSocket) -> QueryContext:
        authorization = request.headers.get("authorization")
        user, auth_error, token = self._authenticate(authorization, "authorization header")
        return QueryContext(
            request=request,
            response=response,
            pool=request.state.pool,
            settings=self.settings,
            login_throttle=self.login_throttle,
            user=user,
            auth_error=auth_error,
            access_token=token,
            live=request.state.live,
        )

    async def on_ws_connect(self, context: QueryContext) -> UnsetType | dict[str, object] | None:
        """Authenticate the WebSocket from its `connection_init` payload; a bad token fails each operation later."""
        params = context.connection_params or {}
        authorization = params.get("authorization") or params.get("Authorization")
        if authorization is None and params.get("token") is not None:
            authorization = f"Bearer {params['token']}"
        if authorization is not None:
            context.user, context.auth_error, context.access_token = self._authenticate(
                str(authorization), "connection_init authorization"
            )
        # Accepted either way: each subscription then answers UNAUTHENTICATED with the reason, like a query.
        return UNSET

    def _authenticate(
        self, authorization: str | None, where: str
    ) -> tuple[AccessClaims | None, str | None, str | None]:
        """(caller, None, token) for a valid bearer token, (None, reason, None) for a bad one, all None without."""
        if not authorization:
            return None, None, None
        scheme, _, token = authorization.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            return None, f"{where} must be `Bearer <access token>`", None
        try:
            return verify_access_token(self.settings, token.strip()), None, token.strip()
        except TokenError as error:
            return None, str(error), None


def create_app(settings: Settings) -> Starlette:
    if not settings.database_url:
        raise ValueError("the query service needs settings.database_url")
    database_url = settings.database_url

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[_State]:
        pool = await create_pool(database_url, size=settings.database_pool_size)
        logger.info("query service database pool open", extra={"pool_size": settings.database_pool_size})
        replay = ReplayClient(settings)
        # Connects in the background: queries never wait for NATS, subscriptions say when it is away.
        live = LiveHub(settings)
        live.start()
        try:
            # Starlette copies this state into every request's `request.state`.
            yield {"pool": pool, "replay": replay, "live": live, "metrics": QueryMetrics(live)}
        finally:
            await live.close()
            await replay.close()
            await pool.close()

    graphql = GraphQLView(create_schema(), settings, graphql_ide="graphiql")
    routes = [
        Route("/graphql", graphql, methods=["GET", "POST"]),
        WebSocketRoute("/graphql", graphql),
        Route("/healthz", _healthz, methods=["GET"]),
        Route("/readyz", _readyz, methods=["GET"]),
        Route("/metrics", _metrics, methods=["GET"]),
        *report_routes(settings),  # before /export's catch-all
        *export_routes(settings, graphql.schema),
    ]
    # Last: the web UI answers every other GET, never one of the paths above.
    webui = webui_routes(settings, reserved_paths=[route.path for route in routes])
    return Starlette(routes=[*routes, *webui], lifespan=lifespan, middleware=[Middleware(RequestIdMiddleware)])


async def _healthz(request: Request) -> Response:
    return JSONResponse({"status": "ok"})


async def _metrics(request: Request) -> Response:
    metrics: QueryMetrics = request.state.metrics
    return Response(generate_latest(metrics.registry), media_type=CONTENT_TYPE_LATEST)


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
