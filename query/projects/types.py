"""GraphQL types of projects and their write keys. No type carries a key's digest; only
`CreatedApiKey` carries its secret, in the one response that creates it."""

from datetime import datetime

import strawberry

from storage.api_keys import ApiKeyRow
from storage.projects import ProjectRow


@strawberry.type(description="What the browser snippet captures by itself.")
class Autocapture:
    pageviews: bool = strawberry.field(description="A page event on load and on single-page-app navigation.")
    clicks: bool
    forms: bool = strawberry.field(description="A track event when a form is submitted.")
    form_values: bool = strawberry.field(description="Include the submitted field values (never passwords).")

    @classmethod
    def from_options(cls, options: dict[str, bool]) -> "Autocapture":
        return cls(pageviews=options["pageviews"], clicks=options["clicks"], forms=options["forms"],
                   form_values=options["form_values"])


@strawberry.input(description="Autocapture options to change; omitted ones stay as they are.")
class AutocaptureInput:
    pageviews: bool | None = None
    clicks: bool | None = None
    forms: bool | None = None
    form_values: bool | None = None

    def to_options(self) -> dict[str, bool]:
        chosen = {"pageviews": self.pageviews, "clicks": self.clicks, "forms": self.forms,
                  "form_values": self.form_values}
        return {name: value for name, value in chosen.items() if value is not None}


@strawberry.type
class Project:
    id: strawberry.ID
    name: str
    timezone: str = strawberry.field(description="IANA name; the project's analytics are bucketed in this zone.")
    created_at: datetime
    rate_limit_events_per_second: int | None = strawberry.field(
        description="Events per second each write key may send to one ingest replica; null: the ingest default."
    )
    allowed_origins: list[str] = strawberry.field(
        description="Site origins (scheme://host[:port]) whose browser events are accepted; empty: every origin."
    )
    autocapture: Autocapture
    store_ip: bool = strawberry.field(description="Keep client IP addresses with events (off: used for geo only).")

    @classmethod
    def from_row(cls, row: ProjectRow) -> "Project":
        return cls(id=strawberry.ID(str(row.id)), name=row.name, timezone=row.timezone, created_at=row.created_at,
                   rate_limit_events_per_second=row.rate_limit, allowed_origins=list(row.allowed_origins),
                   autocapture=Autocapture.from_options(row.autocapture), store_ip=row.store_ip)


@strawberry.type(description="A project's write key, without its secret.")
class ApiKey:
    id: strawberry.ID
    prefix: str = strawberry.field(description="The first characters of the secret, to recognise it.")
    label: str
    created_at: datetime
    last_used_at: datetime | None = strawberry.field(description="Recorded by ingest, a few seconds late.")
    expires_at: datetime | None = strawberry.field(description="Set when the key was rotated: end of its grace period.")
    revoked_at: datetime | None

    @classmethod
    def from_row(cls, row: ApiKeyRow) -> "ApiKey":
        return cls(id=strawberry.ID(str(row.id)), prefix=row.prefix, label=row.label, created_at=row.created_at,
                   last_used_at=row.last_used_at, expires_at=row.expires_at, revoked_at=row.revoked_at)


@strawberry.type(description="A new write key: `key` is shown this once and cannot be retrieved again.")
class CreatedApiKey:
    key: str = strawberry.field(description="The secret, for `Authorization: Bearer ...` on ingest.")
    api_key: ApiKey
