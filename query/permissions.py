"""Who may do what: roles, the UI sections they see, and the permission classes on fields.

Every rule is a small `can_*` predicate here; GraphQL fields use the
`BasePermission` classes below, never ad-hoc checks in resolvers.
"""

from enum import StrEnum
from typing import Any

import strawberry
from strawberry.permission import BasePermission

from query.auth.tokens import AccessClaims
from query.context import QueryContext
from query.errors import ForbiddenError, UnauthenticatedError


class Role(StrEnum):
    ADMIN = "ADMIN"
    DEVELOPER = "DEVELOPER"
    VIEWER = "VIEWER"


ANALYTICS_SECTIONS = (
    "overview", "insights", "funnels", "retention", "sessions", "persons", "live", "alerts", "reports",
)
"""Read-only analytics (and alerts and reports: reading them is analytics, managing alerts is `can_manage_alerts`,
report schedules `can_manage_reports`): every role."""

_SECTIONS: dict[Role, tuple[str, ...]] = {
    Role.ADMIN: (*ANALYTICS_SECTIONS, "events", "api_keys", "destinations", "members", "settings"),
    Role.DEVELOPER: (*ANALYTICS_SECTIONS, "events", "api_keys", "destinations", "settings"),
    Role.VIEWER: ANALYTICS_SECTIONS,
}


def sections_for(role: Role) -> list[str]:
    """The web UI sections (navigation entries) this role may use, in display order."""
    return list(_SECTIONS[role])


def can_use_section(role: Role, section: str) -> bool:
    return section in _SECTIONS[role]


def can_read_analytics(role: Role) -> bool:
    # Every role, today; the rule lives here so a future read-nothing role is one edit.
    return role in (Role.ADMIN, Role.DEVELOPER, Role.VIEWER)


def can_manage_members(role: Role) -> bool:
    return role is Role.ADMIN


def can_manage_projects(role: Role) -> bool:
    return role in (Role.ADMIN, Role.DEVELOPER)


def can_manage_keys(role: Role) -> bool:
    return role in (Role.ADMIN, Role.DEVELOPER)


def can_erase_persons(role: Role) -> bool:
    """Erasing a person and all their events (GDPR): destructive and irreversible, so admins only."""
    return role is Role.ADMIN


def can_manage_alerts(role: Role) -> bool:
    """Alert rules and notification channels: create, change, delete, test (reading them is analytics)."""
    return role in (Role.ADMIN, Role.DEVELOPER)


def can_manage_reports(role: Role) -> bool:
    """Report schedules: create, change, delete, send now (building and downloading a report is analytics)."""
    return role in (Role.ADMIN, Role.DEVELOPER)


def can_manage_destinations(role: Role) -> bool:
    """Outbound webhooks: read, create, change, delete, test, retry (integration settings, like keys)."""
    return role in (Role.ADMIN, Role.DEVELOPER)


AUTHENTICATION_REQUIRED = "authentication required: send `Authorization: Bearer <access token>`"


def require_user(context: QueryContext) -> AccessClaims:
    """The caller, or UNAUTHENTICATED saying why not: no token, or why the presented one was refused."""
    if context.user is not None:
        return context.user
    # Say whether the token expired (refresh it) or is invalid (log in).
    raise UnauthenticatedError(context.auth_error or AUTHENTICATION_REQUIRED)


class IsAuthenticated(BasePermission):
    """The request carries a valid, unexpired access token."""

    message = AUTHENTICATION_REQUIRED
    error_extensions = {"code": UnauthenticatedError.code}

    def has_permission(self, source: Any, info: strawberry.Info[QueryContext, None], **kwargs: Any) -> bool:
        require_user(info.context)
        return True

    def on_unauthorized(self) -> None:
        raise UnauthenticatedError(self.message or "")


class CanReadAnalytics(BasePermission):
    """An authenticated caller whose role may read analytics (trends, events, ...)."""

    message = "your role may not read analytics"
    error_extensions = {"code": ForbiddenError.code}

    def has_permission(self, source: Any, info: strawberry.Info[QueryContext, None], **kwargs: Any) -> bool:
        return can_read_analytics(Role(require_user(info.context).role))

    def on_unauthorized(self) -> None:
        raise ForbiddenError(self.message or "")


class CanManageProjects(BasePermission):
    """An authenticated caller whose role may create, change and delete projects."""

    message = "your role may not manage projects"
    error_extensions = {"code": ForbiddenError.code}

    def has_permission(self, source: Any, info: strawberry.Info[QueryContext, None], **kwargs: Any) -> bool:
        return can_manage_projects(Role(require_user(info.context).role))

    def on_unauthorized(self) -> None:
        raise ForbiddenError(self.message or "")


class CanManageKeys(BasePermission):
    """An authenticated caller whose role may list, create, rotate and revoke write keys."""

    message = "your role may not manage API keys"
    error_extensions = {"code": ForbiddenError.code}

    def has_permission(self, source: Any, info: strawberry.Info[QueryContext, None], **kwargs: Any) -> bool:
        return can_manage_keys(Role(require_user(info.context).role))

    def on_unauthorized(self) -> None:
        raise ForbiddenError(self.message or "")


class CanManageMembers(BasePermission):
    """An authenticated caller whose role may list, invite, re-role and remove the organization's members."""

    message = "your role may not manage members"
    error_extensions = {"code": ForbiddenError.code}

    def has_permission(self, source: Any, info: strawberry.Info[QueryContext, None], **kwargs: Any) -> bool:
        return can_manage_members(Role(require_user(info.context).role))

    def on_unauthorized(self) -> None:
        raise ForbiddenError(self.message or "")


class CanErasePersons(BasePermission):
    """An authenticated caller whose role may erase a person and all their events."""

    message = "only an ADMIN may erase persons"
    error_extensions = {"code": ForbiddenError.code}

    def has_permission(self, source: Any, info: strawberry.Info[QueryContext, None], **kwargs: Any) -> bool:
        return can_erase_persons(Role(require_user(info.context).role))

    def on_unauthorized(self) -> None:
        raise ForbiddenError(self.message or "")


class CanManageAlerts(BasePermission):
    """An authenticated caller whose role may create, change, delete and test alert rules and channels."""

    message = "your role may not manage alerts"
    error_extensions = {"code": ForbiddenError.code}

    def has_permission(self, source: Any, info: strawberry.Info[QueryContext, None], **kwargs: Any) -> bool:
        return can_manage_alerts(Role(require_user(info.context).role))

    def on_unauthorized(self) -> None:
        raise ForbiddenError(self.message or "")


class CanManageReports(BasePermission):
    """An authenticated caller whose role may create, change, delete and send report schedules."""

    message = "your role may not manage report schedules"
    error_extensions = {"code": ForbiddenError.code}

    def has_permission(self, source: Any, info: strawberry.Info[QueryContext, None], **kwargs: Any) -> bool:
        return can_manage_reports(Role(require_user(info.context).role))

    def on_unauthorized(self) -> None:
        raise ForbiddenError(self.message or "")


class CanManageDestinations(BasePermission):
    """An authenticated caller whose role may see and manage destinations (outbound webhooks)."""

    message = "your role may not manage destinations"
    error_extensions = {"code": ForbiddenError.code}

    def has_permission(self, source: Any, info: strawberry.Info[QueryContext, None], **kwargs: Any) -> bool:
        return can_manage_destinations(Role(require_user(info.context).role))

    def on_unauthorized(self) -> None:
        raise ForbiddenError(self.message or "")
