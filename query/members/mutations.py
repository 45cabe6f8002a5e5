"""Members mutations: invite someone into the organization, accept an invitation, change a role, remove a member.

Failures are QueryErrors with codes: BAD_USER_INPUT (a bad email, name, password,
or a change that would leave the organization without an ADMIN), CONFLICT (the
email is already a user), NOT_FOUND (a user id that is missing or another
organization's, which look the same), UNAUTHENTICATED (an invitation token that
is unknown, used, replaced or expired: one message for all), FORBIDDEN (not an
ADMIN; by the permission classes). An invitation's token is returned once by
`inviteMember` and never logged; neither are passwords.
"""

import logging
from datetime import UTC, datetime, timedelta

import strawberry

from query.access import parse_id
from query.accounts.mutations import start_session, valid_email, valid_name, valid_password
from query.accounts.types import AuthPayload, Role
from query.auth import passwords, tokens
from query.context import QueryContext
from query.errors import BadUserInputError, ConflictError, NotFoundError, UnauthenticatedError
from query.members.types import Invitation, Member
from query.permissions import CanManageMembers
from storage import members
from storage.accounts import EmailTakenError

logger = logging.getLogger(__name__)

INVITATION_TTL = timedelta(days=7)
"""How long an invitation may wait to be accepted: long enough to reach someone on holiday."""

_INVITATION_REFUSED = "invitation invalid, already used or expired; ask an ADMIN for a new one"


@strawberry.type
class MembersMutation:
    @strawberry.mutation(name="inviteMember", description="Invite an email into the caller's organization with a "
                         "role; the returned `token` is shown once, for the invitee's `acceptInvitation`. "
                         "A newer invitation for the same email replaces a pending one.",
                         permission_classes=[CanManageMembers])
    async def invite_member(self, info: strawberry.Info[QueryContext, None], email: str, role: Role) -> Invitation:
        caller = info.context.user
        assert caller is not None  # CanManageMembers
        address = valid_email(email)
        token, token_hash = tokens.new_invitation_token()
        async with info.context.pool.acquire() as connection:
            if await members.email_taken(connection, address):
                raise ConflictError("a user with this email already exists")
            row = await members.insert_invitation(
                connection, caller.organization_id, email=address, role=role.value, token_hash=token_hash,
                invited_by=caller.user_id, expires_at=datetime.now(UTC) + INVITATION_TTL,
            )
        logger.info("member invited", extra={"organization_id": str(caller.organization_id),
                                             "invitation_id": str(row.id), "role": row.role})
        return Invitation.from_row(row, token)

    @strawberry.mutation(name="acceptInvitation", description="Join the organization an invitation is for, with "
                         "its role, and log in. Each invitation works once, until it expires.")
    async def accept_invitation(self, info: strawberry.Info[QueryContext, None], token: str, name: str,
                                password: str) -> AuthPayload:
        valid_password(password)
        display_name = valid_name(name, "name", required=False)
        # Hashed before the token is checked, so a bad token answers as slowly as a good one.
        password_hash = await passwords.hash_password(password)
        async with info.context.pool.acquire() as connection:
            try:
                user = await members.accept_invitation(connection, tokens.hash_invitation_token(token),
                                                       name=display_name, password_hash=password_hash)
            except EmailTakenError:
                raise ConflictError("a user with this email already exists") from None
            if user is None:
                raise UnauthenticatedError(_INVITATION_REFUSED)
            logger.info("invitation accepted", extra={"organization_id": str(user.organization_id),
                                                      "user_id": str(user.id), "role": user.role})
            return await start_session(info.context, connection, user)

    @strawberry.mutation(name="setMemberRole", description="Change a member's role. Their sessions end, so the "
                         "new role applies from their next login; the last ADMIN cannot be demoted.",
                         permission_classes=[CanManageMembers])
    async def set_member_role(self, info: strawberry.Info[QueryContext, None], user_id: strawberry.ID,
                              role: Role) -> Member:
        caller = info.context.user
        assert caller is not None  # CanManageMembers
        target = parse_id(user_id, "userId")
        async with info.context.pool.acquire() as connection:
            try:
                row = await members.set_member_role(connection, caller.organization_id, target, role.value)
            except members.LastAdminError as error:
                raise BadUserInputError(f"{error}; make another member ADMIN first") from None
        if row is None:
            raise NotFoundError(f"no member {user_id}")
        logger.info("member role set", extra={"organization_id": str(caller.organization_id),
                                              "user_id": str(target), "role": row.role})
        return Member.from_row(row)

    @strawberry.mutation(name="removeMember", description="Delete a member of the caller's organization and end "
                         "their sessions; the last ADMIN cannot be removed.", permission_classes=[CanManageMembers])
    async def remove_member(self, info: strawberry.Info[QueryContext, None], user_id: strawberry.ID) -> bool:
        caller = info.context.user
        assert caller is not None  # CanManageMembers
        target = parse_id(user_id, "userId")
        async with info.context.pool.acquire() as connection:
            try:
                removed = await members.remove_member(connection, caller.organization_id, target)
            except members.LastAdminError as error:
                raise BadUserInputError(f"{error}; make another member ADMIN first") from None
        if not removed:
            raise NotFoundError(f"no member {user_id}")
        logger.info("member removed", extra={"organization_id": str(caller.organization_id), "user_id": str(target)})
        return True
