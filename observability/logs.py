"""Structured logs: one JSON object per line, with the service and, inside a request, its request id.

A request id comes from the caller (`X-Request-Id` over HTTP, `x-request-id` gRPC metadata) or is made
up, is echoed back over HTTP, and is attached to every log line written while the request is handled (a context
variable, so concurrent requests on one event loop keep their own). `TRACKMINT_LOG_FORMAT=text` gives
human-readable lines instead, for a terminal.
"""

import logging
import re
import secrets
from contextvars import ContextVar
from typing import Literal

import grpc
from pythonjsonlogger.json import JsonFormatter
from starlette.datastructures import Headers, MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

REQUEST_ID_HEADER = "x-request-id"

MAX_REQUEST_ID_LENGTH = 128
_SAFE_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:/+=-]{1,128}$")

request_id: ContextVar[str | None] = ContextVar("request_id", default=None)
"""The id of the request being handled, if any."""

TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
_JSON_FIELDS = "%(asctime)s %(levelname)s %(name)s %(message)s"


def new_request_id(offered: str | None = None) -> str:
    """The caller's id when it is a sane token (it ends up in logs), otherwise a new random one."""
    if offered and _SAFE_REQUEST_ID.match(offered):
        return offered
    return secrets.token_hex(8)


class _ContextFilter(logging.Filter):
    """Stamps every record with the service and the current request id."""

    def __init__(self, service: str) -> None:
        super().__init__()
        self.service = service

    def filter(self, record: logging.LogRecord) -> bool:
        record.service = self.service
        current = request_id.get()
        if current is not None and not hasattr(record, "request_id"):
            record.request_id = current
        return True


def configure_logging(level: str, log_format: Literal["json", "text"], service: str) -> None:
    """Route every logger of the process through one handler on stderr, in the chosen format."""
    handler = logging.StreamHandler()
    if log_format == "json":
        handler.setFormatter(JsonFormatter(
            _JSON_FIELDS, rename_fields={"asctime": "time", "levelname": "level", "name": "logger"},
            timestamp=False,
        ))
    else:
        handler.setFormatter(logging.Formatter(TEXT_FORMAT))
    handler.addFilter(_ContextFilter(service))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)


class RequestIdMiddleware:
    """ASGI middleware: each HTTP request and WebSocket gets a request id (the caller's `X-Request-Id` when
    sane, else a new one), set for the logs written while it is handled and echoed in the response."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        offered = Headers(scope=scope).get(REQUEST_ID_HEADER)
        current = new_request_id(offered)
        token = request_id.set(current)

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                MutableHeaders(scope=message).append(REQUEST_ID_HEADER, current)
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            request_id.reset(token)


class RequestIdInterceptor(grpc.aio.ServerInterceptor):
    """gRPC server interceptor: each call gets a request id (the caller's `x-request-id` metadata when sane,
    else a new one), set for the logs written while it is handled, streams included."""

    async def intercept_service(self, continuation, handler_call_details):  # type: ignore[no-untyped-def]
        handler = await continuation(handler_call_details)
        if handler is None:
            return None
        offered = dict(handler_call_details.invocation_metadata or ()).get(REQUEST_ID_HEADER)
        current = new_request_id(offered if isinstance(offered, str) else None)
        if handler.unary_unary is not None:
            inner = handler.unary_unary

            async def unary(request, context):  # type: ignore[no-untyped-def]
                token = request_id.set(current)
                try:
                    return await inner(request, context)
                finally:
                    request_id.reset(token)

            return grpc.unary_unary_rpc_method_handler(unary, handler.request_deserializer,
                                                       handler.response_serializer)
        if handler.stream_stream is not None:
            streamed = handler.stream_stream

            async def stream(requests, context):  # type: ignore[no-untyped-def]
                token = request_id.set(current)
                try:
                    async for response in streamed(requests, context):
                        yield response
                finally:
                    request_id.reset(token)

            return grpc.stream_stream_rpc_method_handler(stream, handler.request_deserializer,
                                                         handler.response_serializer)
        return handler  # unary-stream and stream-unary: none in our services
