"""`trackmint bootstrap`: an organization, its ADMIN and a project, ready to log in and send events.

Idempotent for the organization, user and project: run twice with the same
arguments it finds what the first run created. A user that already exists must
give their current password (it is verified, never changed) and brings their
own organization, whose name must match `--org`. The project is found by name
in that organization and created if missing. Each run prints a write key, and
since keys are stored only as hashes, an existing project gets a new key
(labelled "bootstrap"); earlier keys stay valid.
"""

from dataclasses import asdict, dataclass
from uuid import UUID

import asyncpg

from query.auth import passwords
from storage import accounts
from storage.accounts import normalise_email
from storage.api_keys import create_api_key
from storage.projects import create_project


class BootstrapError(ValueError):
    """The arguments cannot be satisfied (wrong password, weak password, another organization)."""


@dataclass(frozen=True)
class Bootstrapped:
    org_id: str
    user_id: str
    project_id: str
    write_key: str

    def as_dict(self) -> dict[str, str]:
        return asdict(self)


async def _find_or_create_admin(
    connection: asyncpg.Connection, email: str, password: str, org_name: str
) -> tuple[UUID, UUID]:
    credentials = await accounts.find_credentials_by_email(connection, email)
    if credentials is not None:
        verified = await passwords.verify_password(credentials.password_hash, password)
        if not verified.ok:
            raise BootstrapError(f"user {email} exists and the password does not match")
        organization = await accounts.find_organization(connection, credentials.user.organization_id)
        assert organization is not None  # users.organization_id is a foreign key
        if organization.name != org_name:
            raise BootstrapError(f"user {email} belongs to organization {organization.name!r}, not {org_name!r}")
        if verified.new_hash is not None:
            await accounts.update_password_hash(connection, credentials.user.id, verified.new_hash)
        return organization.id, credentials.user.id
    try:
        passwords.check_policy(password)
    except passwords.WeakPasswordError as error:
        raise BootstrapError(str(error)) from None
    organization, user = await accounts.create_organization_with_admin(
        connection, org_name, email=email, name="", password_hash=await passwords.hash_password(password)
    )
    return organization.id, user.id


async def bootstrap(
    connection: asyncpg.Connection, *, email: str, password: str, org_name: str, project_name: str
) -> Bootstrapped:
    email = normalise_email(email)
    if "@" not in email:
        raise BootstrapError("email is not a valid address")
    if not org_name.strip():
        raise BootstrapError("organization name must not be empty")
    org_id, user_id = await _find_or_create_admin(connection, email, password, org_name)
    async with connection.transaction():
        project_id = await accounts.find_project_in_organization(connection, org_id, project_name)
        if project_id is None:
            created = await create_project(connection, project_name)
            await accounts.assign_project(connection, created.project_id, org_id)
            project_id, write_key = created.project_id, created.write_key
        else:
            write_key = (await create_api_key(connection, project_id, label="bootstrap")).key
    return Bootstrapped(str(org_id), str(user_id), str(project_id), write_key)
