"""Person mutations: make an event property a person trait, or stop doing so; erase a person (GDPR).

Failures are QueryErrors with codes: BAD_USER_INPUT (an empty or too long event,
property path or trait, a malformed path, too many mappings), NOT_FOUND (a project
that is missing or another organization's, or no such mapping to delete), FORBIDDEN
(a VIEWER, or anyone but an ADMIN erasing; by the permission classes). A change applies to the events the processor
handles once its cache of mappings refreshes, within seconds.
"""

import logging

import strawberry

from query.access import load_project, parse_id
from query.context import QueryContext
from query.errors import BadUserInputError, NotFoundError
from query.permissions import CanErasePersons, CanManageProjects
from query.persons.types import PersonErasure, TraitMapping
from storage import person_erasure, persons

logger = logging.getLogger(__name__)

MAX_FIELD_LENGTH = 200
"""Longest event name, property path or trait name (the table's CHECK says the same)."""


def _valid_text(value: str, what: str) -> str:
    text = value.strip()
    if not text:
        raise BadUserInputError(f"{what} must not be empty")
    if len(text) > MAX_FIELD_LENGTH:
        raise BadUserInputError(f"{what} must be at most {MAX_FIELD_LENGTH} characters")
    if any(not char.isprintable() for char in text):
        raise BadUserInputError(f"{what} must not contain control characters")
    return text


def _valid_property(value: str) -> str:
    path = _valid_text(value, "property")
    if any(not step for step in path.split(".")):
        raise BadUserInputError(f"property {path!r} is not a dotted path like form.email (a step is empty)")
    return path


@strawberry.type
class PersonsMutation:
    @strawberry.mutation(name="setTraitMapping", description="When `event` arrives, set the value at `property` "
                         "(a dotted path into its properties, e.g. form.email) as the person's `trait`; replaces "
                         "the trait of an existing mapping of the same event and property.",
                         permission_classes=[CanManageProjects])
    async def set_trait_mapping(self, info: strawberry.Info[QueryContext, None], project_id: strawberry.ID,
                                event: str, property: str, trait: str) -> TraitMapping:
        project = await load_project(info.context, project_id)
        valid_event, valid_path = _valid_text(event, "event"), _valid_property(property)
        valid_trait = _valid_text(trait, "trait")
        async with info.context.pool.acquire() as connection:
            try:
                row = await persons.set_trait_mapping(connection, project.id, valid_event, valid_path, valid_trait)
            except persons.TraitMappingLimitError as error:
                raise BadUserInputError(f"{error}; delete one first") from None
        logger.info("trait mapping set", extra={"project_id": str(project.id), "event": row.event,
                                                "property": row.property, "trait": row.trait})
        return TraitMapping.from_row(row)

    @strawberry.mutation(name="deleteTraitMapping", description="Stop setting a trait from `event`'s `property`; "
                         "traits already set stay.", permission_classes=[CanManageProjects])
    async def delete_trait_mapping(self, info: strawberry.Info[QueryContext, None], project_id: strawberry.ID,
                                   event: str, property: str) -> bool:
        project = await load_project(info.context, project_id)
        valid_event, valid_path = _valid_text(event, "event"), _valid_property(property)
        async with info.context.pool.acquire() as connection:
            deleted = await persons.delete_trait_mapping(connection, project.id, valid_event, valid_path)
        if not deleted:
            raise NotFoundError(f"no trait mapping for event {valid_event!r} and property {valid_path!r}")
        logger.info("trait mapping deleted", extra={"project_id": str(project.id), "event": valid_event,
                                                    "property": valid_path})
        return True

    @strawberry.mutation(name="erasePerson", description="Erase a person for good (GDPR right to erasure): the "
                         "person, every person merged into it, all events of their distinct ids, their sessions, and "
                         "their share of every count. Irreversible; ADMIN only. Events the SDKs send afterwards "
                         "under the same ids make a new person.", permission_classes=[CanErasePersons])
    async def erase_person(self, info: strawberry.Info[QueryContext, None], project_id: strawberry.ID,
                           person_id: strawberry.ID) -> PersonErasure:
        project = await load_project(info.context, project_id)
        wanted = parse_id(person_id, "personId")
        caller = info.context.user
        async with info.context.pool.acquire() as connection:
            erasure = await person_erasure.erase_person(connection, project.id, wanted,
                                                        caller.user_id if caller else None)
        if erasure is None:
            raise NotFoundError(f"no person {person_id}")
        # Counts and ids only: nothing that identified the person goes to the logs.
        logger.info("person erased", extra={"project_id": str(project.id), "person_id": str(erasure.person_id),
                                            "events": erasure.events, "sessions": erasure.sessions})
        return PersonErasure.from_erasure(erasure)
