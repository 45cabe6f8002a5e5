"""Who may do what: roles, the UI sections they see, and the permission classes on fields.

Every rule is a small `can_*` predicate here; GraphQL fields use the
`BasePermission` classes below, never ad-hoc checks in resolvers.
"""

from enum import StrEnum
from typing import Any

import strawberry
from strawberry.permission import BasePermission

from query.context import QueryContext
from query.errors import UnauthenticatedError


class Role(StrEnum):
    ADMIN = "ADMIN"
    DEVELOPER = "DEVELOPER"
    VIEWER = "VIEWER"


ANALYTICS_SECTIONS = ("overview", "insights", "funnels", "retention", "sessions", "persons", "live")
"""Read-only analytics: every role."""

_SECTIONS: dict[Role, tuple[str, ...]] = {
    Role.ADMIN: (*ANALYTICS_SECTIONS, "events", "api_keys", "members", "settings"),
    Role.DEVELOPER: (*ANALYTICS_SECTIONS, "events", "api_keys", "settings"),
    Role.VIEWER: ANALYTICS_SECTIONS,
}


def sections_for(role: Role) -> list[str]:
    """The web UI sections (navigation entries) this role may use, in display order."""
    return list(_SECTIONS[role])


def can_use_section(role: Role, section: str) -> bool:
    return section in _SECTIONS[role]


def can_manage_members(role: Role) -> bool:
    return role is Role.ADMIN


def can_manage_keys(role: Role) -> bool:
    return role in (Role.ADMIN, Role.DEVELOPER)


class IsAuthenticated(BasePermission):
    """The request carries a valid, unexpired access token."""

    message = "authentication required: send `Authorization: Bearer <access token>`"
    error_extensions = {"code": UnauthenticatedError.code}

    def has_permission(self, source: Any, info: strawberry.Info[QueryContext, None], **kwargs: Any) -> bool:
        context = info.context
        if context.user is None and context.auth_error is not None:
            # Say whether the token expired (refresh it) or is invalid (log in).
            raise UnauthenticatedError(context.auth_error)
        return context.user is not None

    def on_unauthorized(self) -> None:
        raise UnauthenticatedError(self.message or "")
