"""Structured logs: one JSON object per line with the service, level, logger, message, the fields a log call
adds, and the id of the request being handled (concurrent requests keep their own)."""

import asyncio
import json
import logging
from collections.abc import Iterator

import httpx
import pytest
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Route

from observability.logs import RequestIdMiddleware, configure_logging

logger = logging.getLogger("tests.observability")


@pytest.fixture
def restore_logging() -> Iterator[None]:
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)


async def handle(request: Request) -> PlainTextResponse:
    # Interleave two requests: each line must still carry its own request's id.
    await asyncio.sleep(float(request.query_params["wait"]))
    logger.info("order handled", extra={"order": request.query_params["order"]})
    return PlainTextResponse("ok")


async def test_each_line_is_json_with_the_service_the_fields_and_its_own_request_id(restore_logging, capsys):
    configure_logging("INFO", "json", "query")
    app = Starlette(routes=[Route("/order", handle)], middleware=[Middleware(RequestIdMiddleware)])
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test") as http:
        slow, fast = await asyncio.gather(
            http.get("/order", params={"order": "A", "wait": "0.05"}, headers={"x-request-id": "req-a"}),
            http.get("/order", params={"order": "B", "wait": "0"}),
        )
    logger.warning("outside any request")

    lines = [json.loads(line) for line in capsys.readouterr().err.splitlines()]
    handled = {line["order"]: line for line in lines if line["message"] == "order handled"}
    assert handled["A"]["request_id"] == "req-a" == slow.headers["x-request-id"]
    assert handled["B"]["request_id"] == fast.headers["x-request-id"] != "req-a"
    assert handled["A"] | {"time": None} == {
        "time": None, "level": "INFO", "logger": "tests.observability", "message": "order handled", "service": "query",
        "order": "A", "request_id": "req-a",
    }
    outside = next(line for line in lines if line["message"] == "outside any request")
    assert outside["level"] == "WARNING" and "request_id" not in outside


def test_text_format_is_one_readable_line(restore_logging, capsys):
    configure_logging("INFO", "text", "processor")
    logger.info("stored %d events", 12)
    assert capsys.readouterr().err.strip().endswith("INFO tests.observability: stored 12 events")
