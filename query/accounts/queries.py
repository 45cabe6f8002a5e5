"""Accounts queries."""

import strawberry

from query.accounts.types import User
from query.context import QueryContext
from query.errors import UnauthenticatedError
from query.permissions import IsAuthenticated
from storage import accounts


@strawberry.type
class AccountsQuery:
    @strawberry.field(description="The calling user, their role and the UI sections it opens.",
                      permission_classes=[IsAuthenticated])
    async def me(self, info: strawberry.Info[QueryContext, None]) -> User:
        claims = info.context.user
        assert claims is not None  # IsAuthenticated
        async with info.context.pool.acquire() as connection:
            user = await accounts.find_user(connection, claims.user_id)
            organization = await accounts.find_organization(connection, user.organization_id) if user else None
        if user is None or organization is None:
            # Deleted since the token was issued.
            raise UnauthenticatedError("access token invalid: the user no longer exists")
        return User.from_rows(user, organization)
