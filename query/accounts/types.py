"""GraphQL types of accounts."""

import strawberry

from query import permissions
from storage import accounts

Role = strawberry.enum(permissions.Role, name="Role", description="What a user may do in their organization.")


@strawberry.type
class Organization:
    id: strawberry.ID
    name: str

    @classmethod
    def from_row(cls, organization: accounts.Organization) -> "Organization":
        return cls(id=strawberry.ID(str(organization.id)), name=organization.name)


@strawberry.type
class User:
    id: strawberry.ID
    email: str
    name: str
    role: Role
    organization: Organization
    sections: list[str] = strawberry.field(
        description="The web UI sections this user's role may use, in navigation order."
    )

    @classmethod
    def from_rows(cls, user: accounts.User, organization: accounts.Organization) -> "User":
        role = permissions.Role(user.role)
        return cls(
            id=strawberry.ID(str(user.id)),
            email=user.email,
            name=user.name,
            role=role,
            organization=Organization.from_row(organization),
            sections=permissions.sections_for(role),
        )


@strawberry.type(description="Credentials for a new session: keep the refresh token secret.")
class AuthPayload:
    access_token: str = strawberry.field(description="Short-lived JWT for `Authorization: Bearer ...`.")
    refresh_token: str = strawberry.field(description="Single-use; `refreshToken` swaps it for a new pair.")
    user: User


@strawberry.input
class RegisterInput:
    org_name: str
    email: str
    password: str
    name: str = ""
