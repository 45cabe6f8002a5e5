"""The single door through which resolvers reach a project.

Every resolver that takes a `projectId` calls `load_project`. Today it only
checks that the project exists; when accounts arrive it becomes the check that
the caller's organization owns the project, so no resolver can skip it.
"""

from dataclasses import dataclass
from uuid import UUID

from query.context import QueryContext
from query.errors import BadUserInputError, NotFoundError


@dataclass(frozen=True)
class Project:
    id: UUID
    name: str
    # IANA name; every bucket of this project's analytics is in this zone.
    timezone: str


def parse_project_id(project_id: str) -> UUID:
    try:
        return UUID(project_id)
    except ValueError:
        raise BadUserInputError(f"projectId {project_id!r} is not a UUID") from None


async def load_project(context: QueryContext, project_id: str) -> Project:
    """The project `project_id` names, if the caller may read it."""
    project_uuid = parse_project_id(project_id)
    row = await context.pool.fetchrow("SELECT id, name, timezone FROM projects WHERE id = $1", project_uuid)
    if row is None:
        raise NotFoundError(f"no project {project_id}")
    return Project(id=row["id"], name=row["name"], timezone=row["timezone"])
