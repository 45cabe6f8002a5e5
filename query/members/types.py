"""GraphQL types of members and invitations. Only `Invitation`, in the one response that
creates it, carries the invitation's secret."""

from datetime import datetime

import strawberry

from query import permissions
from query.accounts.types import Role
from storage.members import InvitationRow, MemberRow


@strawberry.type(description="A user of the caller's organization.")
class Member:
    id: strawberry.ID
    email: str
    name: str
    role: Role
    created_at: datetime

    @classmethod
    def from_row(cls, row: MemberRow) -> "Member":
        return cls(id=strawberry.ID(str(row.id)), email=row.email, name=row.name, role=permissions.Role(row.role),
                   created_at=row.created_at)


@strawberry.type(description="A pending invitation: `token` is shown this once; pass it to the invitee, "
                 "who joins with `acceptInvitation`.")
class Invitation:
    id: strawberry.ID
    email: str
    role: Role
    expires_at: datetime
    token: str = strawberry.field(description="The one-time secret for `acceptInvitation`; cannot be retrieved again.")

    @classmethod
    def from_row(cls, row: InvitationRow, token: str) -> "Invitation":
        return cls(id=strawberry.ID(str(row.id)), email=row.email, role=permissions.Role(row.role),
                   expires_at=row.expires_at, token=token)
