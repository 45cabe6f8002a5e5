"""Trait mapping mutations: make an event property a person trait, or stop doing so.

Failures are QueryErrors with codes: BAD_USER_INPUT (an empty or too long event,
property path or trait, a malformed path, too many mappings), NOT_FOUND (a project
that is missing or another organization's, or no such mapping to delete), FORBIDDEN
(a VIEWER; by the permission classes). A change applies to the events the processor
handles once its cache of mappings refreshes, within seconds.
"""

import logging

import strawberry

from query.access import load_project
from query.context import QueryContext
from query.errors import BadUserInputError, NotFoundError
from query.permissions import CanManageProjects
from query.persons.types import TraitMapping
from storage import persons

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
