"""The bridge's Starlette application: Segment-compatible endpoints over the shared BatchPipeline.

    POST /v1/batch                       {"batch": [messages], "sentAt"?, "context"?}
    POST /v1/{track,page,screen,identify,group,alias}   one message
    GET  /v1/config?writeKey=...         the project's browser configuration, for the snippet
    OPTIONS on each                      CORS preflight
    GET  /health                         liveness

A request is answered 200 once its accepted events are durable in JetStream:
`{"success": true, "accepted": N, "errors": [{"index", "messageId", "code", "reason"}]}`,
indices relative to the request's messages. A whole-request refusal is a 4xx/5xx
with `{"success": false, "code", "message"}` (see errors.py). Routes served by other
modules (the browser snippet) are passed to `create_bridge_app` as `extra_routes`.
"""

import asyncio
import ipaddress
import logging
import math
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from uuid import UUID

import asyncpg
import orjson
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from config import Settings
from ingest.auth import Grant, KeyResolver
from ingest.errors import IngestError, InvalidBatchError, RateLimitedError, UnavailableError
from ingest.http_bridge.auth import write_key_of
from ingest.http_bridge.body import check_media_type, parse_object, read_body
from ingest.http_bridge.errors import BridgeError, OriginNotAllowedError, status_for
from ingest.http_bridge.origins import check_origin, cors_headers, preflight_headers
from ingest.http_bridge.segment import TYPES, EventProblem, RequestDefaults, convert_batch, convert_single
from ingest.key_usage import KeyUsageRecorder
from ingest.pipeline import BatchPipeline
from observability.logs import RequestIdMiddleware
from storage.projects import find_browser_config
from trackmint.v1 import batch_pb2

logger = logging.getLogger(__name__)

_REJECTION_PREFIX = "REJECTION_CODE_"


@dataclass
class Bridge:
    """What the bridge shares with the gRPC transport, and its own settings."""

    keys: KeyResolver
    usage: KeyUsageRecorder
    pipeline: BatchPipeline
    pool: asyncpg.Pool
    settings: Settings
    draining: asyncio.Event = field(default_factory=asyncio.Event)
    # project id -> (autocapture options, fetched at): /v1/config is asked on every page load.
    _config_cache: dict[UUID, tuple[dict, float]] = field(default_factory=dict)


def _json(status: int, content: object, headers: dict[str, str] | None = None) -> Response:
    return Response(orjson.dumps(content), status, headers, media_type="application/json")


def _error(status: int, code: str, message: str, headers: dict[str, str] | None = None) -> Response:
    return _json(status, {"success": False, "code": code, "message": message}, headers)


def _refusal(error: Exception, origin: str | None, *, preflight: bool = False) -> Response:
    headers = cors_headers(origin)
    if isinstance(error, OriginNotAllowedError):
        # A refused preflight stops the browser's request. A refused request is readable by the page,
        # so the snippet sees a 403 it must not retry (and says why in the console) rather than a
        # network error it would retry for minutes; the body only names the page's own origin.
        return _error(error.status, error.code, str(error), None if preflight else headers)
    if isinstance(error, BridgeError):
        return _error(error.status, error.code, str(error), headers)
    assert isinstance(error, IngestError)
    if isinstance(error, RateLimitedError):
        headers["Retry-After"] = str(max(1, math.ceil(error.retry_after)))
    return _error(status_for(error), error.code, str(error), headers)


def _client_ip(request: Request, trust_forwarded_for: bool) -> str:
    """The peer address, or the left-most X-Forwarded-For entry behind a trusted proxy."""
    if trust_forwarded_for:
        forwarded = request.headers.get("x-forwarded-for", "").split(",")[0].strip()
        try:
            return str(ipaddress.ip_address(forwarded))
        except ValueError:
            pass
    return request.client.host if request.client else ""


def _problems(conversion_problems: list[EventProblem], positions: list[int],
              ack: batch_pb2.BatchAck) -> list[dict[str, object]]:
    problems = list(conversion_problems)
    for rejection in ack.rejections:
        code = batch_pb2.RejectionCode.Name(rejection.code).removeprefix(_REJECTION_PREFIX).lower()
        problems.append(EventProblem(positions[rejection.index], rejection.message_id, code, rejection.reason))
    problems.sort(key=lambda problem: problem.index)
    return [{"index": problem.index, "messageId": problem.message_id, "code": problem.code,
             "reason": problem.reason} for problem in problems]


async def _authorize(bridge: Bridge, request: Request, body: dict | None) -> Grant:
    grant = await bridge.keys.grant_for(write_key_of(request.headers, request.query_params, body))
    check_origin(request.headers.get("origin"), grant.allowed_origins)
    return grant


async def _ingest(bridge: Bridge, request: Request, kind: str | None) -> Response:
    origin = request.headers.get("origin")
    try:
        if bridge.draining.is_set():
            raise UnavailableError("server is shutting down; retry")
        check_media_type(request.headers)
        body = parse_object(await read_body(request.headers, request.stream(), bridge.settings.bridge_max_body_bytes))
        grant = await _authorize(bridge, request, body)
        bridge.usage.record(grant.key_digest)
        defaults = RequestDefaults(
            ip=_client_ip(request, bridge.settings.bridge_trust_forwarded_for),
            # A browser's own User-Agent describes the visitor; a server library's describes the library.
            user_agent=request.headers.get("user-agent", "") if origin is not None else "",
        )
        conversion = convert_batch(body, defaults) if kind is None else convert_single(body, kind, defaults)
        count = len(conversion.positions) + len(conversion.problems)
        if count > bridge.pipeline.max_batch_events:
            raise InvalidBatchError(
                f"batch has {count} messages; the limit is {bridge.pipeline.max_batch_events}", 0
            )
        ack = (await bridge.pipeline.accept(grant, conversion.batch) if conversion.batch.events
               else batch_pb2.BatchAck())
    except (BridgeError, IngestError) as error:
        return _refusal(error, origin)
    errors = _problems(conversion.problems, conversion.positions, ack)
    return _json(200, {"success": True, "accepted": ack.accepted, "errors": errors}, cors_headers(origin))


async def _config(bridge: Bridge, request: Request) -> Response:
    origin = request.headers.get("origin")
    try:
        grant = await _authorize(bridge, request, None)
        project_id = UUID(grant.project_id)
        cached = bridge._config_cache.get(project_id)
        if cached is None or time.monotonic() - cached[1] > bridge.settings.api_key_cache_ttl_seconds:
            try:
                autocapture = await find_browser_config(bridge.pool, project_id)
            except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError, TimeoutError) as error:
                raise UnavailableError("cannot read the project's configuration right now; retry later") from error
            if len(bridge._config_cache) > 10_000:
                bridge._config_cache.clear()
            cached = bridge._config_cache[project_id] = (autocapture, time.monotonic())
    except (BridgeError, IngestError) as error:
        return _refusal(error, origin)
    api_host = bridge.settings.bridge_public_url or str(request.base_url).rstrip("/")
    headers = {**cors_headers(origin), "Cache-Control": "max-age=60"}
    return _json(200, {"apiHost": api_host.rstrip("/"), "autocapture": cached[0]}, headers)


async def _preflight(bridge: Bridge, request: Request) -> Response:
    """Answer a CORS preflight. Preflights carry no credentials, so a project is known only from a
    `writeKey` query parameter; without one the origin is let through and the real request is
    checked against the project's allowed origins."""
    origin = request.headers.get("origin")
    if origin is None:
        return Response(status_code=204)
    if "writeKey" in request.query_params:
        try:
            await _authorize(bridge, request, None)
        except (BridgeError, IngestError) as error:
            return _refusal(error, origin, preflight=True)
    return Response(status_code=204, headers=preflight_headers(origin))


def create_bridge_app(bridge: Bridge, extra_routes: Sequence[BaseRoute] = ()) -> Starlette:
    """The bridge application; `extra_routes` (e.g. the browser snippet's script) are served beside it."""

    def ingest_endpoint(kind: str | None):
        async def endpoint(request: Request) -> Response:
            if request.method == "OPTIONS":
                return await _preflight(bridge, request)
            return await _ingest(bridge, request, kind)
        return endpoint

    async def config_endpoint(request: Request) -> Response:
        if request.method == "OPTIONS":
            return await _preflight(bridge, request)
        return await _config(bridge, request)

    async def health(request: Request) -> Response:
        return _json(503 if bridge.draining.is_set() else 200, {"serving": not bridge.draining.is_set()})

    routes: list[BaseRoute] = [
        Route("/v1/batch", ingest_endpoint(None), methods=["POST", "OPTIONS"]),
        *(Route(f"/v1/{kind}", ingest_endpoint(kind), methods=["POST", "OPTIONS"]) for kind in TYPES),
        Route("/v1/config", config_endpoint, methods=["GET", "OPTIONS"]),
        Route("/health", health, methods=["GET"]),
        *extra_routes,
    ]
    return Starlette(routes=routes, middleware=[Middleware(RequestIdMiddleware)])
