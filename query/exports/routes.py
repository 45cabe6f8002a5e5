"""The `/export/...` routes: authentication, tenant scoping and errors exactly as GraphQL, answers as CSV.

    GET  /export/events.csv?projectId=&from=&to=[&event=][&includeBots=true]   streamed
    GET  /export/persons.csv?projectId=[&search=]                              streamed
    GET  /export/person.ndjson?projectId=&personId=        everything about one person (GDPR), streamed
    POST /export/{trends,funnel,retention,activeUsers,sessions,topValues,backtest}.csv
                                                  body: the GraphQL field's variables
    POST /export/download-token   body: {"projectId", "export": "events"|"persons"|"person"}
                                  -> {"token", "expiresInSeconds"}

Callers send `Authorization: Bearer <access token>`; the GET exports also take `token=<download token>`
(see `downloads.py`). Any role that may read analytics may export. A project of another organization is
a 404 like one that does not exist. Every refusal is a JSON body `{"code", "message"}` with the HTTP
status of its code (400 BAD_USER_INPUT, 401 UNAUTHENTICATED, 403 FORBIDDEN, 404 NOT_FOUND, 429 RATE_LIMITED).
"""

import logging
from collections.abc import Callable
from datetime import datetime
from typing import Any

import strawberry
from starlette.datastructures import QueryParams
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Mount, Route

from config import Settings
from query.access import Project, load_project, parse_id
from query.auth.throttle import LoginThrottle
from query.auth.tokens import AccessClaims, TokenError
from query.context import QueryContext
from query.errors import (
    BadUserInputError,
    ForbiddenError,
    NotFoundError,
    RateLimitedError,
    UnauthenticatedError,
)
from query.exports import events, person_data, persons
from query.exports.analytics import EXPORTS, AnalyticsExporter
from query.exports.downloads import (
    DOWNLOAD_TOKEN_TTL,
    DOWNLOADABLE_EXPORTS,
    issue_download_token,
    verify_download_token,
)
from query.exports.streaming import Batches, csv_text, open_csv_stream
from query.http_endpoints import bearer_caller, json_object_body, with_refusals
from query.permissions import AUTHENTICATION_REQUIRED, Role, can_read_analytics
from query.persons.queries import search_text

logger = logging.getLogger(__name__)

EXPORT_BUSY_RETRY_SECONDS = 5
MAX_BODY_BYTES = 256 * 1024
"""Largest analytics export request body: the variables of one query."""


def max_concurrent_exports(settings: Settings) -> int:
    """Streamed exports one replica runs at once: each holds a pooled connection for its whole duration, so at
    most half the pool, leaving the rest to GraphQL."""
    return max(1, settings.database_pool_size // 2)


def export_routes(settings: Settings, schema: strawberry.Schema) -> list[BaseRoute]:
    exports = _Exports(settings, AnalyticsExporter(schema))
    return [Mount("/export", routes=[
        Route("/events.csv", with_refusals(exports.events), methods=["GET"]),
        Route("/persons.csv", with_refusals(exports.persons), methods=["GET"]),
        Route("/person.ndjson", with_refusals(exports.person), methods=["GET"]),
        Route("/download-token", with_refusals(exports.download_token), methods=["POST"]),
        Route("/{name}.csv", with_refusals(exports.analytics), methods=["POST"]),
        Route("/{path:path}", _not_found, methods=["GET", "POST", "HEAD"]),
    ])]


async def _not_found(request: Request) -> Response:
    return JSONResponse({"code": "NOT_FOUND", "message": f"no export at {request.url.path}"}, status_code=404)


class _Exports:
    def __init__(self, settings: Settings, analytics: AnalyticsExporter) -> None:
        self.settings = settings
        self.exporter = analytics
        self.running = 0
        self.max_running = max_concurrent_exports(settings)
        # QueryContext wants one; exports never log anybody in.
        self.login_throttle = LoginThrottle()

    def _context(self, request: Request, caller: AccessClaims) -> QueryContext:
        return QueryContext(request=request, response=None, pool=request.state.pool, settings=self.settings,
                            login_throttle=self.login_throttle, user=caller)

    def _caller(self, request: Request, project_id: str, download: str | None = None) -> AccessClaims:
        """The authenticated caller, who may read analytics; a download token only for the `download` export."""
        authorization = request.headers.get("authorization")
        token = request.query_params.get("token")
        if authorization:
            caller = bearer_caller(self.settings, authorization)
        elif token and download is not None:
            try:
                caller = verify_download_token(self.settings, token, project_id, download)
            except TokenError as error:
                raise UnauthenticatedError(str(error)) from None
        else:
            raise UnauthenticatedError(AUTHENTICATION_REQUIRED)
        if not can_read_analytics(Role(caller.role)):
            raise ForbiddenError("your role may not read analytics")
        return caller

    async def _project(self, request: Request, project_id: str, download: str | None = None) -> tuple[
            AccessClaims, Project]:
        caller = self._caller(request, project_id, download)
        return caller, await load_project(self._context(request, caller), project_id)

    def _claim_slot(self) -> Callable[[], None]:
        if self.running >= self.max_running:
            raise RateLimitedError(
                f"{self.max_running} exports are already running on this server; retry shortly",
                EXPORT_BUSY_RETRY_SECONDS,
            )
        self.running += 1

        def release() -> None:
            self.running -= 1

        return release

    async def _stream(self, request: Request, project: Project, header: tuple[str, ...],
                      batches: Batches, filename: str, narrow: str) -> Response:
        release = self._claim_slot()
        return await open_csv_stream(request.state.pool, timezone=project.timezone, header=header,
                                     batches=batches, filename=filename, narrow=narrow, on_close=release)

    async def events(self, request: Request) -> Response:
        params = _query_params(request)
        project_id = _required(params.get("projectId"), "projectId")
        _, project = await self._project(request, project_id, download="events")
        export = events.events_export(
            project.id,
            events.parse_time(params.get("from"), "from"),
            events.parse_time(params.get("to"), "to"),
            params.get("event") or None,
            _flag(params.get("includeBots"), "includeBots"),
        )
        return await self._stream(request, project, events.HEADER, events.event_batches(export), export.filename,
                                  "the date range or filter on one event")

    async def persons(self, request: Request) -> Response:
        params = _query_params(request)
        project_id = _required(params.get("projectId"), "projectId")
        _, project = await self._project(request, project_id, download="persons")
        search = search_text(params.get("search"))
        return await self._stream(request, project, persons.HEADER,
                                  persons.person_batches(project.id, project.timezone, search),
                                  "persons.csv", "the search")

    async def person(self, request: Request) -> Response:
        params = _query_params(request)
        project_id = _required(params.get("projectId"), "projectId")
        person_id = parse_id(_required(params.get("personId"), "personId"), "personId")
        _, project = await self._project(request, project_id, download="person")
        release = self._claim_slot()
        return await open_csv_stream(request.state.pool, timezone=project.timezone, header=None,
                                     batches=person_data.person_lines(project.id, person_id),
                                     filename=f"person-{person_id}.ndjson", narrow="nothing (retry later)",
                                     on_close=release, encode=person_data.json_lines,
                                     media_type=person_data.MEDIA_TYPE)

    async def download_token(self, request: Request) -> Response:
        body = await json_object_body(request, MAX_BODY_BYTES)
        project_id = _required(body.get("projectId"), "projectId")
        export = body.get("export")
        if not isinstance(export, str) or export not in DOWNLOADABLE_EXPORTS:
            raise BadUserInputError(f"export must be one of {', '.join(sorted(DOWNLOADABLE_EXPORTS))}")
        caller, project = await self._project(request, str(project_id))
        token = issue_download_token(self.settings, caller, project.id, export)
        return JSONResponse({"token": token, "expiresInSeconds": int(DOWNLOAD_TOKEN_TTL.total_seconds())},
                            headers={"Cache-Control": "no-store"})

    async def analytics(self, request: Request) -> Response:
        name = request.path_params["name"]
        if name not in EXPORTS:
            raise NotFoundError(f"no export {name}.csv; there are {', '.join(sorted(EXPORTS))}, events and persons")
        variables = await json_object_body(request, MAX_BODY_BYTES)
        project_id = _required(variables.get("projectId"), "projectId")
        caller, project = await self._project(request, str(project_id))
        header, rows = await self.exporter.rows(name, variables, self._context(request, caller), project.timezone)
        return Response(csv_text([header, *rows]), media_type="text/csv; charset=utf-8", headers={
            "Content-Disposition": f'attachment; filename="{name}-{datetime.now():%Y%m%d-%H%M%S}.csv"',
            "Cache-Control": "no-store",
        })


def _query_params(request: Request) -> QueryParams:
    """The request's query parameters; PostgreSQL text cannot hold NUL, so none may carry one."""
    params = request.query_params
    for name, value in params.multi_items():
        if "\x00" in value:
            raise BadUserInputError(f"{name} may not contain NUL characters")
    return params


def _required(value: Any, name: str) -> Any:
    if value is None or value == "":
        raise BadUserInputError(f"{name} is required")
    return value


def _flag(value: str | None, name: str) -> bool:
    if value is None or value.lower() in ("", "false", "0"):
        return False
    if value.lower() in ("true", "1"):
        return True
    raise BadUserInputError(f"{name} must be true or false")


