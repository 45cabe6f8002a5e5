"""`POST /export/report.pdf`: a report as a PDF download, beside the CSV exports and under the same rules.

The body is the report (query/reports/spec.py) with `projectId` and `dateRange`. Callers send
`Authorization: Bearer <access token>`; any role that may read analytics may build a report, and a project of
another organization is a 404 like one that does not exist. Refusals are JSON `{"code", "message"}`:
400 BAD_USER_INPUT, 401 UNAUTHENTICATED, 403 FORBIDDEN, 404 NOT_FOUND, 429 RATE_LIMITED (with Retry-After).
"""

import logging
from datetime import UTC, datetime

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from config import Settings
from query.access import load_project
from query.auth.throttle import LoginThrottle
from query.auth.tokens import AccessClaims
from query.context import QueryContext
from query.errors import ForbiddenError, RateLimitedError, UnauthenticatedError
from query.http_endpoints import bearer_caller, json_object_body, with_refusals
from query.permissions import AUTHENTICATION_REQUIRED, Role, can_read_analytics
from query.reports.builder import build_report
from query.reports.render import pdf_filename
from query.reports.spec import parse_request

logger = logging.getLogger(__name__)

REPORT_PATH = "/export/report.pdf"
MAX_BODY_BYTES = 64 * 1024
"""Largest request body: a report spec of MAX_ITEMS items with their filters fits many times over."""

MAX_CONCURRENT_REPORTS = 2
"""Reports one replica builds at once: each holds a pooled connection and a thread while it renders."""

BUSY_RETRY_SECONDS = 5


def report_routes(settings: Settings) -> list[BaseRoute]:
    return [Route(REPORT_PATH, with_refusals(_ReportEndpoint(settings).report), methods=["POST"])]


class _ReportEndpoint:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.running = 0
        # QueryContext wants one; this endpoint never logs anybody in.
        self.login_throttle = LoginThrottle()

    async def report(self, request: Request) -> Response:
        caller = self._caller(request)
        spec = parse_request(await json_object_body(request, MAX_BODY_BYTES))
        context = QueryContext(request=request, response=None, pool=request.state.pool, settings=self.settings,
                               login_throttle=self.login_throttle, user=caller)
        project = await load_project(context, spec.project_id)
        if self.running >= MAX_CONCURRENT_REPORTS:
            raise RateLimitedError(f"{MAX_CONCURRENT_REPORTS} reports are being built on this server; retry shortly",
                                   BUSY_RETRY_SECONDS)
        self.running += 1
        try:
            report, pdf = await build_report(
                request.state.pool, project_id=project.id, project_name=project.name, timezone=project.timezone,
                date_from=spec.date_from, date_to=spec.date_to, content=spec.content,
            )
        finally:
            self.running -= 1
        logger.info("report built", extra={"project_id": str(project.id), "bytes": len(pdf),
                                           "sections": len(report.sections)})
        return Response(pdf, media_type="application/pdf", headers={
            "Content-Disposition": f'attachment; filename="{pdf_filename(report.title, datetime.now(UTC))}"',
            "Cache-Control": "no-store",
        })

    def _caller(self, request: Request) -> AccessClaims:
        authorization = request.headers.get("authorization")
        if not authorization:
            raise UnauthenticatedError(AUTHENTICATION_REQUIRED)
        caller = bearer_caller(self.settings, authorization)
        if not can_read_analytics(Role(caller.role)):
            raise ForbiddenError("your role may not read analytics")
        return caller
