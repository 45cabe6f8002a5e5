"""Projects mutations: create, update and delete projects; create, rotate and revoke their write keys.

Failures are QueryErrors with codes: BAD_USER_INPUT (a bad name, label, timezone,
rate limit or grace period), NOT_FOUND (an id that is missing or another
organization's, which look the same), FORBIDDEN (a VIEWER; by the permission
classes). A key's secret is returned once by `createApiKey`/`rotateApiKey` and
never logged: log lines name keys by id and display prefix.
"""

import logging
from uuid import UUID

import asyncpg
import strawberry

from query.access import load_api_key, load_project
from query.context import QueryContext
from query.errors import BadUserInputError, NotFoundError
from query.permissions import CanManageKeys, CanManageProjects
from query.projects.types import ApiKey, AutocaptureInput, CreatedApiKey, Project
from storage import api_keys, projects

logger = logging.getLogger(__name__)

MAX_NAME_LENGTH = 200
MAX_GRACE_SECONDS = 7 * 24 * 3600
"""Longest a rotated key's old secret may keep working: a week to redeploy every client."""


def _valid_text(value: str, what: str) -> str:
    stripped = value.strip()
    if not stripped:
        raise BadUserInputError(f"{what} must not be empty")
    if len(stripped) > MAX_NAME_LENGTH:
        raise BadUserInputError(f"{what} must be at most {MAX_NAME_LENGTH} characters")
    if "\x00" in stripped:  # PostgreSQL text cannot hold it
        raise BadUserInputError(f"{what} must not contain NUL characters")
    return stripped


async def _created_key(connection: asyncpg.Connection, created: api_keys.CreatedKey, organization_id: UUID,
                       action: str) -> CreatedApiKey:
    row = await api_keys.find_api_key(connection, created.id, organization_id)
    assert row is not None  # just inserted in the caller's own project
    logger.info("api key %s", action, extra={"project_id": str(created.project_id), "api_key_id": str(created.id),
                                             "prefix": created.prefix})
    return CreatedApiKey(key=created.key, api_key=ApiKey.from_row(row))


@strawberry.type
class ProjectsMutation:
    @strawberry.mutation(name="createProject", description="A new project of the caller's organization, "
                         "without write keys: create them with `createApiKey`.",
                         permission_classes=[CanManageProjects])
    async def create_project(self, info: strawberry.Info[QueryContext, None], name: str,
                             timezone: str = "UTC") -> Project:
        caller = info.context.user
        assert caller is not None  # CanManageProjects
        valid_name = _valid_text(name, "name")
        async with info.context.pool.acquire() as connection:
            try:
                project_id = await projects.insert_project(connection, valid_name, timezone,
                                                           organization_id=caller.organization_id)
            except projects.InvalidTimezoneError as error:
                raise BadUserInputError(str(error)) from None
            row = await projects.find_project(connection, project_id, caller.organization_id)
        assert row is not None
        logger.info("project created", extra={"project_id": str(project_id),
                                              "organization_id": str(caller.organization_id)})
        return Project.from_row(row)

    @strawberry.mutation(name="updateProject", description="Change a project's name, timezone or rate limit; "
                         "omitted arguments stay as they are, a null rate limit returns to the ingest default.",
                         permission_classes=[CanManageProjects])
    async def update_project(
        self, info: strawberry.Info[QueryContext, None], id: strawberry.ID, name: str | None = None,
        timezone: str | None = None, rate_limit_events_per_second: int | None = strawberry.UNSET,
    ) -> Project:
        project = await load_project(info.context, id, "id")
        caller = info.context.user
        assert caller is not None  # load_project
        changes: dict[str, object] = {}
        if name is not None:
            changes["name"] = _valid_text(name, "name")
        if timezone is not None:
            changes["timezone"] = timezone
        if rate_limit_events_per_second is not strawberry.UNSET:
            changes["rate_limit"] = rate_limit_events_per_second
        try:
            row = await projects.update_project(info.context.pool, project.id, caller.organization_id, **changes)
        except (projects.InvalidTimezoneError, projects.InvalidRateLimitError) as error:
            raise BadUserInputError(str(error)) from None
        if row is None:  # deleted meanwhile
            raise NotFoundError(f"no project {id}")
        return Project.from_row(row)

    @strawberry.mutation(name="updateProjectSettings", description="Change a project's browser settings: allowed "
                         "site origins (replaces the list; empty allows every origin), autocapture options (merged) "
                         "and whether client IP addresses are stored. Omitted arguments stay as they are. Ingest "
                         "applies them within its key cache TTL.", permission_classes=[CanManageProjects])
    async def update_project_settings(
        self, info: strawberry.Info[QueryContext, None], project_id: strawberry.ID,
        allowed_origins: list[str] | None = None, autocapture: AutocaptureInput | None = None,
        store_ip: bool | None = None,
    ) -> Project:
        project = await load_project(info.context, project_id)
        caller = info.context.user
        assert caller is not None  # load_project
        try:
            row = await projects.update_browser_settings(
                info.context.pool, project.id, caller.organization_id, allowed_origins=allowed_origins,
                autocapture=autocapture.to_options() if autocapture is not None else None, store_ip=store_ip,
            )
        except (projects.InvalidOriginError, projects.InvalidAutocaptureError) as error:
            raise BadUserInputError(str(error)) from None
        if row is None:  # deleted meanwhile
            raise NotFoundError(f"no project {project_id}")
        logger.info("project settings changed", extra={"project_id": str(project.id), "store_ip": row.store_ip,
                                                       "allowed_origins": len(row.allowed_origins)})
        return Project.from_row(row)

    @strawberry.mutation(name="deleteProject", description="Delete a project with all its events and write keys.",
                         permission_classes=[CanManageProjects])
    async def delete_project(self, info: strawberry.Info[QueryContext, None], id: strawberry.ID) -> bool:
        project = await load_project(info.context, id, "id")
        caller = info.context.user
        assert caller is not None  # load_project
        async with info.context.pool.acquire() as connection:
            if not await projects.delete_project(connection, project.id, caller.organization_id):
                raise NotFoundError(f"no project {id}")
        logger.info("project deleted", extra={"project_id": str(project.id),
                                              "organization_id": str(caller.organization_id)})
        return True

    @strawberry.mutation(name="createApiKey", description="A new write key for the project; its secret `key` is "
                         "in this response only.", permission_classes=[CanManageKeys])
    async def create_api_key(self, info: strawberry.Info[QueryContext, None], project_id: strawberry.ID,
                             label: str) -> CreatedApiKey:
        project = await load_project(info.context, project_id)
        caller = info.context.user
        assert caller is not None  # load_project
        valid_label = _valid_text(label, "label")
        async with info.context.pool.acquire() as connection:
            created = await api_keys.create_api_key(connection, project.id, valid_label)
            return await _created_key(connection, created, caller.organization_id, "created")

    @strawberry.mutation(name="rotateApiKey", description="A new secret for the key's project and label; the old "
                         "secret keeps working for `graceSeconds` (0 to 7 days).", permission_classes=[CanManageKeys])
    async def rotate_api_key(self, info: strawberry.Info[QueryContext, None], id: strawberry.ID,
                             grace_seconds: int = 3600) -> CreatedApiKey:
        if not 0 <= grace_seconds <= MAX_GRACE_SECONDS:
            raise BadUserInputError(f"graceSeconds must be between 0 and {MAX_GRACE_SECONDS}, not {grace_seconds}")
        key = await load_api_key(info.context, id)
        caller = info.context.user
        assert caller is not None  # load_api_key
        async with info.context.pool.acquire() as connection:
            try:
                created = await api_keys.rotate_api_key(connection, key.id, grace_seconds)
            except LookupError:
                raise BadUserInputError(f"API key {id} is revoked and cannot be rotated") from None
            return await _created_key(connection, created, caller.organization_id, "rotated")

    @strawberry.mutation(name="revokeApiKey", description="Stop the key at once (ingest replicas notice within "
                         "seconds). False if it was already revoked.", permission_classes=[CanManageKeys])
    async def revoke_api_key(self, info: strawberry.Info[QueryContext, None], id: strawberry.ID) -> bool:
        key = await load_api_key(info.context, id)
        async with info.context.pool.acquire() as connection:
            revoked = await api_keys.revoke_api_key(connection, key.id)
        if revoked:
            logger.info("api key revoked", extra={"project_id": str(key.project_id), "api_key_id": str(key.id),
                                                  "prefix": key.prefix})
        return revoked
