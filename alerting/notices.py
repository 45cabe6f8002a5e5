"""What a notice says: one alert event (fired, resolved, or a channel test), in each channel's words.

The same facts everywhere: the rule, the metric, the value, the range the
detector expected and a link to the chart. `notice_payload` is the JSON of
generic webhooks and of the in-app push on NATS; `slack_message` is Block Kit;
`email_message` is plain text.
"""

import math
from dataclasses import dataclass
from datetime import datetime
from email.message import EmailMessage
from typing import Any
from uuid import UUID

import asyncpg


@dataclass(frozen=True)
class Notice:
    event_id: UUID
    project_id: UUID
    project_name: str
    rule_id: UUID | None
    rule_name: str
    # "fired", "resolved" or "test".
    kind: str
    message: str
    created_at: datetime
    incident_id: UUID | None = None
    bucket: datetime | None = None
    value: float | None = None
    expected: float | None = None
    lower: float | None = None
    upper: float | None = None
    chart_url: str | None = None

    @classmethod
    def from_row(cls, row: asyncpg.Record, public_url: str) -> "Notice":
        """From an alert_events row joined with its project's name."""
        return cls(
            event_id=row["id"], project_id=row["project_id"], project_name=row["project_name"],
            rule_id=row["rule_id"], rule_name=row["rule_name"], kind=row["kind"], message=row["message"],
            created_at=row["created_at"], incident_id=row["incident_id"], bucket=row["bucket"],
            value=row["value"], expected=row["expected"], lower=row["lower_bound"], upper=row["upper_bound"],
            chart_url=chart_url(public_url, row["project_id"], row["rule_id"]),
        )

    @property
    def title(self) -> str:
        status = {"fired": "FIRING", "resolved": "RESOLVED", "test": "TEST"}.get(self.kind, self.kind.upper())
        return f"[{status}] {self.rule_name} ({self.project_name})"

    @property
    def expected_range(self) -> str:
        if self.lower is None and self.upper is None:
            return "n/a"
        low = "-inf" if self.lower is None else format_number(self.lower)
        high = "+inf" if self.upper is None else format_number(self.upper)
        return f"{low} to {high}"


def chart_url(public_url: str, project_id: UUID, rule_id: UUID | None) -> str:
    """The web UI's screen of the rule (or the alerts list), selecting its project: `/alerts/<rule>?project=<id>`."""
    base = public_url.rstrip("/")
    return f"{base}/alerts" + (f"/{rule_id}" if rule_id else "") + f"?project={project_id}"


def format_number(value: float | None) -> str:
    if value is None or not math.isfinite(value):
        return "n/a"
    return f"{value:,.0f}" if abs(value) >= 100 or float(value).is_integer() else f"{value:,.2f}"


def notice_payload(notice: Notice) -> dict[str, Any]:
    def iso(moment: datetime | None) -> str | None:
        return None if moment is None else moment.isoformat()

    return {
        "id": str(notice.event_id), "type": notice.kind, "projectId": str(notice.project_id),
        "projectName": notice.project_name, "ruleId": None if notice.rule_id is None else str(notice.rule_id),
        "ruleName": notice.rule_name, "incidentId": None if notice.incident_id is None else str(notice.incident_id),
        "message": notice.message, "bucket": iso(notice.bucket), "value": notice.value, "expected": notice.expected,
        "lower": notice.lower, "upper": notice.upper, "chartUrl": notice.chart_url,
        "createdAt": iso(notice.created_at),
    }


def slack_message(notice: Notice) -> dict[str, Any]:
    emoji = {"fired": ":rotating_light:", "resolved": ":white_check_mark:"}.get(notice.kind, ":bell:")
    fields = [
        {"type": "mrkdwn", "text": f"*Metric*\n{notice.message}"},
        {"type": "mrkdwn", "text": f"*Value*\n{format_number(notice.value)}"},
        {"type": "mrkdwn", "text": f"*Expected range*\n{notice.expected_range}"},
        {"type": "mrkdwn", "text": f"*Project*\n{notice.project_name}"},
    ]
    blocks: list[dict[str, Any]] = [
        {"type": "header", "text": {"type": "plain_text", "text": f"{notice.title}"[:150]}},
        {"type": "section", "fields": fields},
    ]
    if notice.chart_url:
        blocks.append({"type": "actions", "elements": [{
            "type": "button", "text": {"type": "plain_text", "text": "View chart"}, "url": notice.chart_url,
        }]})
    return {"text": f"{emoji} {notice.title}: {notice.message}", "blocks": blocks}


def email_message(notice: Notice, sender: str, recipients: list[str]) -> EmailMessage:
    message = EmailMessage()
    message["Subject"] = f"TrackMint {notice.title}"
    message["From"] = sender
    message["To"] = ", ".join(recipients)
    message["X-TrackMint-Alert-Event"] = str(notice.event_id)
    lines = [
        notice.title, "",
        notice.message, "",
        f"Value:          {format_number(notice.value)}",
        f"Expected range: {notice.expected_range}",
    ]
    if notice.bucket is not None:
        lines.append(f"Bucket:         {notice.bucket.isoformat()}")
    if notice.chart_url:
        lines += ["", f"Chart: {notice.chart_url}"]
    message.set_content("\n".join(lines) + "\n")
    return message
