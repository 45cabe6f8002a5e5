"""Keeping an open subscription entitled to what it streams.

A subscription is authorized when it starts, by the same permission classes
and `load_project` door as the queries. It may then run for hours, so it is
checked again on a timer and before each computed push: the access token must
still be valid (it expires), the caller must still be a member of the
organization with the role the token names (a removed member, or one whose
role changed, must log in again), that role must still read analytics, and the
project must still be the organization's. A failed check raises the same
QueryError a query would get, which ends the subscription with its code.
"""

import time

from query.access import load_project
from query.auth.tokens import TokenError, verify_access_token
from query.context import QueryContext
from query.errors import ForbiddenError, UnauthenticatedError
from query.permissions import Role, can_read_analytics, require_user

_MEMBER_ROLE = "SELECT role FROM users WHERE id = $1 AND organization_id = $2"


class AccessWatch:
    def __init__(self, context: QueryContext, project_id: str) -> None:
        self._context = context
        self._project_id = project_id
        self._every = context.settings.live_access_check_seconds
        self._next_check = time.monotonic() + self._every

    @property
    def next_check(self) -> float:
        """When (time.monotonic()) the next timed check is due."""
        return self._next_check

    def check_token(self) -> None:
        """The cheap part, without the database: the token the connection presented has not expired."""
        token = self._context.access_token
        if token is None:
            require_user(self._context)
            return
        try:
            verify_access_token(self._context.settings, token)
        except TokenError as error:
            raise UnauthenticatedError(str(error)) from None

    async def check(self) -> None:
        """Everything: token, membership and role, the role's right to read analytics, the project."""
        self.check_token()
        caller = require_user(self._context)
        role = await self._context.pool.fetchval(_MEMBER_ROLE, caller.user_id, caller.organization_id)
        if role is None:
            raise UnauthenticatedError("your membership of this organization has ended")
        if role != caller.role:
            raise UnauthenticatedError(f"your role changed from {caller.role} to {role}; log in again")
        if not can_read_analytics(Role(role)):
            raise ForbiddenError("your role may not read analytics")
        await load_project(self._context, self._project_id)
        self._next_check = time.monotonic() + self._every

    async def check_if_due(self) -> None:
        if time.monotonic() >= self._next_check:
            await self.check()
