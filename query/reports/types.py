"""GraphQL types of report schedules, and turning their input into a checked row."""

import enum
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

import orjson
import strawberry
from strawberry.scalars import JSON

from query.access import parse_id
from query.errors import BadUserInputError
from query.reports.schedule import Frequency, covered_range, next_run_after
from query.reports.spec import check_range, parse_content
from storage.report_schedules import ScheduleFields, ScheduleRow

MAX_RECIPIENTS = 50
MAX_NAME = 200
MAX_REPORT_BYTES = 64 * 1024
"""As the HTTP endpoint's body limit."""

ReportFrequency = strawberry.enum(
    Frequency, name="ReportFrequency",
    description="DAILY: every day at `hour`, covering the previous day. WEEKLY: on `weekday` at `hour`, covering the"
    " previous seven days. Days and hours are the project's timezone.",
)


@strawberry.enum(description="What the last send of a schedule did.")
class ReportRunStatus(enum.Enum):
    SENDING = "sending"
    SENT = "sent"
    FAILED = "failed"


@strawberry.type(description="A member of the organization who may receive reports.")
class ReportRecipient:
    id: strawberry.ID
    email: str
    name: str


@strawberry.type(description="A report emailed as a PDF on a schedule.")
class ReportSchedule:
    id: strawberry.ID
    project_id: strawberry.ID
    name: str
    report: JSON = strawberry.field(description="The report: {title, kind, items}, as `POST /export/report.pdf` takes"
                                    " it without projectId and dateRange.")
    frequency: ReportFrequency  # type: ignore[valid-type]
    weekday: int | None = strawberry.field(description="0 = Monday ... 6 = Sunday; WEEKLY only.")
    hour: int = strawberry.field(description="0 to 23, in the project's timezone.")
    recipients: list[ReportRecipient] = strawberry.field(
        description="The chosen members; one who left the organization is no longer listed nor sent to.")
    channel_id: strawberry.ID | None = strawberry.field(
        description="The email channel it is sent through; null when that channel was deleted (sends fail).")
    enabled: bool
    next_run_at: datetime
    last_run_at: datetime | None
    last_status: ReportRunStatus | None
    last_error: str | None
    created_at: datetime

    @classmethod
    def from_row(cls, row: ScheduleRow, members: dict[UUID, tuple[str, str]]) -> "ReportSchedule":
        recipients = [ReportRecipient(id=strawberry.ID(str(user_id)), email=members[user_id][0],
                                      name=members[user_id][1]) for user_id in row.recipient_ids if user_id in members]
        return cls(
            id=strawberry.ID(str(row.id)), project_id=strawberry.ID(str(row.project_id)), name=row.name,
            report=row.report, frequency=Frequency(row.frequency), weekday=row.weekday, hour=row.hour,
            recipients=recipients,
            channel_id=None if row.channel_id is None else strawberry.ID(str(row.channel_id)),
            enabled=row.enabled, next_run_at=row.next_run_at, last_run_at=row.last_run_at,
            last_status=None if row.last_status is None else ReportRunStatus(row.last_status),
            last_error=row.last_error, created_at=row.created_at,
        )


@strawberry.input(description="A report schedule's definition.")
class ReportScheduleInput:
    name: str
    report: JSON = strawberry.field(description="{title, kind: OVERVIEW | INSIGHTS, items}; see docs/reports.md.")
    frequency: ReportFrequency  # type: ignore[valid-type]
    hour: int = strawberry.field(description="0 to 23, in the project's timezone.")
    recipient_ids: list[strawberry.ID] = strawberry.field(description="1 to 50 members of the organization.")
    channel_id: strawberry.ID = strawberry.field(description="An email channel of the organization this project"
                                                 " may use.")
    weekday: int | None = strawberry.field(default=None, description="0 = Monday ... 6 = Sunday; WEEKLY only.")
    enabled: bool = True


def schedule_fields(schedule: ReportScheduleInput, timezone: str, now: datetime | None = None) -> ScheduleFields:
    """The checked definition, with its first run after `now`; BAD_USER_INPUT naming the field otherwise.
    Recipients and the channel are checked against the database by the caller."""
    name = schedule.name.strip()
    # It becomes the email's subject: no control characters (a newline would start another header).
    if not 1 <= len(name) <= MAX_NAME or any(ord(character) < 32 for character in name):
        raise BadUserInputError(f"name must be 1 to {MAX_NAME} characters, without line breaks")
    frequency = Frequency(schedule.frequency.value if isinstance(schedule.frequency, enum.Enum)
                          else schedule.frequency)
    if not 0 <= schedule.hour <= 23:
        raise BadUserInputError(f"hour must be 0 to 23, got {schedule.hour}")
    if frequency is Frequency.WEEKLY and (schedule.weekday is None or not 0 <= schedule.weekday <= 6):
        raise BadUserInputError("weekday must be 0 (Monday) to 6 (Sunday) for a WEEKLY schedule")
    if frequency is Frequency.DAILY and schedule.weekday is not None:
        raise BadUserInputError("weekday is for WEEKLY schedules only")
    recipient_ids = list(dict.fromkeys(parse_id(str(item), "recipientIds") for item in schedule.recipient_ids))
    if not 1 <= len(recipient_ids) <= MAX_RECIPIENTS:
        raise BadUserInputError(f"recipientIds must name 1 to {MAX_RECIPIENTS} members")
    report = _report(schedule.report)
    content = parse_content(report)
    # A run's range is one or seven days; the report must fit it (charts' points) before it is ever due.
    check_range(*covered_range(frequency, now or datetime.now(UTC), timezone), content)
    return ScheduleFields(
        name=name, report=report, frequency=frequency.value, weekday=schedule.weekday, hour=schedule.hour,
        recipient_ids=recipient_ids, channel_id=parse_id(str(schedule.channel_id), "channelId"),
        enabled=schedule.enabled,
        next_run_at=next_run_after(frequency, schedule.weekday, schedule.hour, timezone, now or datetime.now(UTC)),
    )


def _report(value: Any) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise BadUserInputError("report must be an object: {title, kind, items}")
    if len(orjson.dumps(value)) > MAX_REPORT_BYTES:
        raise BadUserInputError(f"report may be at most {MAX_REPORT_BYTES} bytes of JSON")
    unknown = sorted(set(value) - {"title", "kind", "items"})
    if unknown:
        raise BadUserInputError(f"report: unknown fields {', '.join(unknown)} (projectId and dateRange come from the"
                                " schedule)")
    return value
