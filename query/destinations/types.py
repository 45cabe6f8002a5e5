"""GraphQL types of destinations, and the validation of what a caller may configure.

Limits: a name of 1 to 200 characters, an http(s) URL of at most 2000 with a host (the rule alerting's
webhook channels follow), at most `MAX_EVENT_NAMES` event names and `filters.MAX_FILTERS` property
predicates with the analytics filters' operators on event properties, `MAX_PER_PROJECT` destinations.
"""

import enum
from datetime import datetime
from typing import Any

import httpx
import strawberry
from strawberry.scalars import JSON

from query.analytics import filters
from query.errors import BadUserInputError
from query.trends.types import FilterOperator, PropertyFilterInput
from storage.destinations import DestinationRow

MAX_PER_PROJECT = 20
MAX_EVENT_NAMES = 50
MAX_NAME_LENGTH = 200
MAX_URL_LENGTH = 2000


@strawberry.input(description="Which events a destination receives. Empty `events`: every event. The property "
                  "predicates (event properties, or enriched fields such as `$browser`) are ANDed.")
class DestinationFilterInput:
    events: list[str] = strawberry.field(default_factory=list, description=f"At most {MAX_EVENT_NAMES} names "
                                         "(stored names: a track event's name, `$pageview`, `$identify`, ...).")
    properties: list[PropertyFilterInput] = strawberry.field(
        default_factory=list, description=f"At most {filters.MAX_FILTERS}; type EVENT only.")


@strawberry.input(description="A new destination.")
class DestinationInput:
    name: str
    url: str = strawberry.field(description="http(s) URL receiving POSTed JSON batches.")
    filter: DestinationFilterInput = strawberry.field(default_factory=DestinationFilterInput)
    enabled: bool = True


@strawberry.enum(description="HEALTHY: the last batch was delivered. FAILING: the current batch is being retried. "
                 "PAUSED: disabled (events wait in the stream). WAITING: nothing delivered yet.")
class DestinationState(enum.Enum):
    HEALTHY = "healthy"
    FAILING = "failing"
    PAUSED = "paused"
    WAITING = "waiting"


@strawberry.type
class DestinationPredicate:
    key: str
    operator: FilterOperator
    value: JSON | None


@strawberry.type
class DestinationFilter:
    events: list[str]
    properties: list[DestinationPredicate]


@strawberry.type(description="Delivery state, updated by the destinations service after every batch.")
class DestinationStatus:
    state: DestinationState
    last_success_at: datetime | None
    last_failure_at: datetime | None
    last_error: str | None
    consecutive_failures: int = strawberry.field(description="Failed attempts since the last success.")
    delivered_batches: int
    delivered_events: int
    dead_lettered_batches: int = strawberry.field(description="Batches parked after their last attempt, ever.")
    dead_letters: int = strawberry.field(description="Dead letters waiting now (retry them with retryDeadLetters).")
    pending: int | None = strawberry.field(description="Stream messages (ingest batches) of the project not yet "
                                           "handled, as of the last fetch; null before the first.")


@strawberry.type(description="One failed attempt at a batch.")
class DestinationFailure:
    at: datetime
    delivery_id: strawberry.ID
    attempt: int
    events: int
    status_code: int | None = strawberry.field(description="The target's HTTP status; null when it did not answer.")
    error: str


@strawberry.type(description="Where a project's matching events are POSTed. The URL is shown masked (it may carry "
                 "the receiver's own secret).")
class Destination:
    id: strawberry.ID
    project_id: strawberry.ID
    name: str
    url: str
    enabled: bool
    filter: DestinationFilter
    status: DestinationStatus
    created_at: datetime
    updated_at: datetime

    @classmethod
    def from_row(cls, row: DestinationRow) -> "Destination":
        if not row.enabled:
            state = DestinationState.PAUSED
        elif row.consecutive_failures:
            state = DestinationState.FAILING
        elif row.last_success_at is not None:
            state = DestinationState.HEALTHY
        else:
            state = DestinationState.WAITING
        return cls(
            id=strawberry.ID(str(row.id)), project_id=strawberry.ID(str(row.project_id)), name=row.name,
            url=masked_url(row.url), enabled=row.enabled, filter=filter_from_json(row.filter),
            status=DestinationStatus(
                state=state, last_success_at=row.last_success_at, last_failure_at=row.last_failure_at,
                last_error=row.last_error, consecutive_failures=row.consecutive_failures,
                delivered_batches=row.delivered_batches, delivered_events=row.delivered_events,
                dead_lettered_batches=row.dead_lettered_batches, dead_letters=row.dead_letters, pending=row.pending,
            ),
            created_at=row.created_at, updated_at=row.updated_at,
        )


@strawberry.type(description="A destination, and its signing secret: shown in this response only.")
class SavedDestination:
    destination: Destination
    secret: str = strawberry.field(description="`whsec_…`: verify the X-TrackMint-Signature header with it.")


@strawberry.type(description="A batch that failed every attempt, kept to be sent again.")
class DeadLetter:
    id: strawberry.ID
    delivery_id: strawberry.ID
    events: int
    attempts: int
    last_error: str
    first_attempt_at: datetime
    parked_at: datetime
    retried_at: datetime | None


@strawberry.type
class DeadLetterPage:
    items: list[DeadLetter]
    total: int
    next_cursor: strawberry.ID | None = strawberry.field(description="Pass as `after` for the next page.")


@strawberry.type
class DeadLetterRetry:
    delivered: int = strawberry.field(description="Dead letters delivered (and removed) now, oldest first.")
    failed: int = strawberry.field(description="0, or 1: the retry stops at the first failure to keep the order.")
    remaining: int = strawberry.field(description="Dead letters of the destination still waiting.")
    error: str | None


@strawberry.type
class DestinationTestResult:
    ok: bool
    status_code: int | None
    error: str | None


def masked_url(url: str) -> str:
    scheme, _, rest = url.partition("://")
    host, _, path = rest.partition("/")
    return f"{scheme}://{host}/…{path[-4:]}" if path else url


def clean_name(name: str) -> str:
    name = name.strip()
    if not 1 <= len(name) <= MAX_NAME_LENGTH:
        raise BadUserInputError(f"name must be 1 to {MAX_NAME_LENGTH} characters")
    return name


def clean_url(url: str) -> str:
    url = url.strip()
    if len(url) > MAX_URL_LENGTH:
        raise BadUserInputError(f"url: at most {MAX_URL_LENGTH} characters")
    if not url.startswith(("https://", "http://")):
        raise BadUserInputError("url: a destination needs an http:// or https:// URL")
    try:
        host = httpx.URL(url).host
    except httpx.InvalidURL:
        host = ""
    if not host:
        raise BadUserInputError("url: not a URL with a host")
    return url


def filter_to_json(given: DestinationFilterInput) -> dict[str, Any]:
    names = [name.strip() for name in given.events]
    if len(names) > MAX_EVENT_NAMES:
        raise BadUserInputError(f"filter.events: at most {MAX_EVENT_NAMES} names, got {len(names)}")
    if any(not 1 <= len(name) <= filters.MAX_KEY_LENGTH for name in names):
        raise BadUserInputError(f"filter.events: each name must be 1 to {filters.MAX_KEY_LENGTH} characters")
    predicates = [item.to_filter() for item in given.properties]
    filters.validate_filters(predicates, "filter.properties")
    if any(item.type is not filters.PropertyType.EVENT for item in predicates):
        raise BadUserInputError("filter.properties: only EVENT properties (person properties are not known when an "
                                "event is delivered)")
    return {
        "events": list(dict.fromkeys(names)),
        "properties": [{"key": item.key, "operator": item.operator.value, "value": item.value}
                       for item in predicates],
    }


def filter_from_json(data: dict[str, Any]) -> DestinationFilter:
    return DestinationFilter(
        events=list(data.get("events") or []),
        properties=[DestinationPredicate(key=item["key"], operator=filters.Operator(item["operator"]),
                                         value=item.get("value")) for item in data.get("properties") or []],
    )

