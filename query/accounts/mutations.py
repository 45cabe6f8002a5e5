"""Accounts mutations: register, login, refreshToken, logout.

Failures are QueryErrors with codes (BAD_USER_INPUT, CONFLICT, UNAUTHENTICATED,
RATE_LIMITED). Messages never contain the password or a token.
"""

import logging
import re

import asyncpg
import strawberry

from query.accounts.types import AuthPayload, RegisterInput, User
from query.auth import passwords, tokens
from query.context import QueryContext
from query.errors import BadUserInputError, ConflictError, UnauthenticatedError
from storage import accounts
from storage.accounts import normalise_email

logger = logging.getLogger(__name__)

# Deliberately simple: one @, no spaces, a dot in the domain. Deliverability is the mailer's business.
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
MAX_EMAIL_LENGTH = 254
MAX_NAME_LENGTH = 200
_WRONG_CREDENTIALS = "wrong email or password"


def valid_email(email: str) -> str:
    normalised = normalise_email(email)
    if len(normalised) > MAX_EMAIL_LENGTH or not _EMAIL.match(normalised):
        raise BadUserInputError("email is not a valid address")
    return normalised


def valid_name(value: str, what: str, *, required: bool) -> str:
    stripped = value.strip()
    if required and not stripped:
        raise BadUserInputError(f"{what} must not be empty")
    if len(stripped) > MAX_NAME_LENGTH:
        raise BadUserInputError(f"{what} must be at most {MAX_NAME_LENGTH} characters")
    return stripped


def valid_password(password: str) -> None:
    """BAD_USER_INPUT unless the password meets the policy (the message never echoes it)."""
    try:
        passwords.check_policy(password)
    except passwords.WeakPasswordError as error:
        raise BadUserInputError(str(error)) from None


async def start_session(
    context: QueryContext, connection: asyncpg.Connection, user: accounts.User, refresh_token: str | None = None
) -> AuthPayload:
    """An access token for `user`, and a refresh token (a new family unless one is given)."""
    organization = await accounts.find_organization(connection, user.organization_id)
    if organization is None:
        raise UnauthenticatedError("the user's organization no longer exists")
    if refresh_token is None:
        refresh_token = await tokens.issue_refresh_token(connection, context.settings, user.id)
    return AuthPayload(
        access_token=tokens.issue_access_token(context.settings, user.id, user.organization_id, user.role),
        refresh_token=refresh_token,
        user=User.from_rows(user, organization),
    )


@strawberry.type
class AccountsMutation:
    @strawberry.mutation(description="Create an organization and its first ADMIN, and log them in.")
    async def register(self, info: strawberry.Info[QueryContext, None], input: RegisterInput) -> AuthPayload:
        org_name = valid_name(input.org_name, "orgName", required=True)
        name = valid_name(input.name, "name", required=False)
        email = valid_email(input.email)
        valid_password(input.password)
        password_hash = await passwords.hash_password(input.password)
        async with info.context.pool.acquire() as connection:
            try:
                organization, user = await accounts.create_organization_with_admin(
                    connection, org_name, email=email, name=name, password_hash=password_hash
                )
            except accounts.EmailTakenError:
                raise ConflictError("a user with this email already exists") from None
            logger.info("organization registered", extra={"organization_id": str(organization.id),
                                                           "user_id": str(user.id)})
            return await start_session(info.context, connection, user)

    @strawberry.mutation(description="Exchange email and password for a new session.")
    async def login(self, info: strawberry.Info[QueryContext, None], email: str, password: str) -> AuthPayload:
        context = info.context
        normalised = normalise_email(email)
        context.login_throttle.check(normalised)
        # No account has a NUL in its email (PostgreSQL text cannot even hold it): a wrong email like any other.
        credentials = (None if "\x00" in normalised
                       else await accounts.find_credentials_by_email(context.pool, normalised))
        if len(password) > passwords.MAX_PASSWORD_LENGTH:
            verified = passwords.Verification(ok=False)
        elif credentials is None:
            # Same work as a wrong password, so response time does not reveal which emails exist.
            await passwords.burn_verification(password)
            verified = passwords.Verification(ok=False)
        else:
            verified = await passwords.verify_password(credentials.password_hash, password)
        if credentials is None or not verified.ok:
            context.login_throttle.record_failure(normalised)
            raise UnauthenticatedError(_WRONG_CREDENTIALS)
        context.login_throttle.record_success(normalised)
        async with context.pool.acquire() as connection:
            if verified.new_hash is not None:
                await accounts.update_password_hash(connection, credentials.user.id, verified.new_hash)
            return await start_session(context, connection, credentials.user)

    @strawberry.mutation(
        name="refreshToken",
        description="Swap a refresh token for a new pair. Each refresh token works once; "
        "presenting a used one revokes its whole session.",
    )
    async def refresh_token(self, info: strawberry.Info[QueryContext, None], token: str) -> AuthPayload:
        context = info.context
        async with context.pool.acquire() as connection:
            try:
                user_id, successor = await tokens.rotate_refresh_token(connection, context.settings, token)
            except tokens.TokenError as error:
                raise UnauthenticatedError(str(error)) from None
            user = await accounts.find_user(connection, user_id)
            if user is None:
                raise UnauthenticatedError("refresh token invalid: the user no longer exists")
            # The role comes from the database, so a changed role reaches the next access token.
            return await start_session(context, connection, user, refresh_token=successor)

    @strawberry.mutation(description="End the session this refresh token belongs to. False if it was not active.")
    async def logout(self, info: strawberry.Info[QueryContext, None], refresh_token: str) -> bool:
        return await tokens.revoke_refresh_family(info.context.pool, refresh_token)
