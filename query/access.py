"""The single door through which resolvers reach a project: tenant isolation.

Every resolver that takes a `projectId` calls `load_project`, which requires an
authenticated caller (UNAUTHENTICATED otherwise, saying whether the token is
missing, expired or invalid) and returns the project only if the caller's
organization owns it. A project of another organization, or of none (created
before accounts, or by `trackmint project create`), is looked up by the same
single statement and refused with the same NOT_FOUND and message as an id that
does not exist, so no id guessing tells one tenant anything about another.
`load_api_key` is the same door for write keys, through their project.
Role rules (may this role read analytics?) are permission classes on the
fields, in `query/permissions.py`.
"""

from dataclasses import dataclass
from uuid import UUID

from query.context import QueryContext
from query.errors import BadUserInputError, NotFoundError
from query.permissions import require_user
from storage.api_keys import ApiKeyRow, find_api_key


@dataclass(frozen=True)
class Project:
    id: UUID
    name: str
    # IANA name; every bucket of this project's analytics is in this zone.
    timezone: str


def parse_id(value: str, argument: str) -> UUID:
    try:
        return UUID(value)
    except ValueError:
        raise BadUserInputError(f"{argument} {value!r} is not a UUID") from None


def parse_project_id(project_id: str, argument: str = "projectId") -> UUID:
    return parse_id(project_id, argument)


async def load_project(context: QueryContext, project_id: str, argument: str = "projectId") -> Project:
    """The project `project_id` names, if it belongs to the caller's organization."""
    caller = require_user(context)
    project_uuid = parse_project_id(project_id, argument)
    # One statement for "missing" and "someone else's": the answer and its timing are the same.
    row = await context.pool.fetchrow(
        "SELECT id, name, timezone FROM projects WHERE id = $1 AND organization_id = $2",
        project_uuid, caller.organization_id,
    )
    if row is None:
        raise NotFoundError(f"no project {project_id}")
    return Project(id=row["id"], name=row["name"], timezone=row["timezone"])


async def load_api_key(context: QueryContext, key_id: str) -> ApiKeyRow:
    """The write key `key_id` names, if it belongs to a project of the caller's organization.

    Like `load_project`: another organization's key answers exactly like a missing one.
    """
    caller = require_user(context)
    key = await find_api_key(context.pool, parse_id(key_id, "id"), caller.organization_id)
    if key is None:
        raise NotFoundError(f"no API key {key_id}")
    return key
