"""Members queries: the caller's organization's users, for its ADMINs."""

import strawberry

from query.context import QueryContext
from query.members.types import Member
from query.permissions import CanManageMembers
from storage.members import list_members


@strawberry.type
class MembersQuery:
    @strawberry.field(description="The users of the caller's organization, oldest first.",
                      permission_classes=[CanManageMembers])
    async def members(self, info: strawberry.Info[QueryContext, None]) -> list[Member]:
        caller = info.context.user
        assert caller is not None  # CanManageMembers
        return [Member.from_row(row) for row in await list_members(info.context.pool, caller.organization_id)]
