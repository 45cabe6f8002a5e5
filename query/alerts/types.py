"""GraphQL types of alerting: rules, their detector and series, channels, events, history, deliveries, backtests."""

import enum
import uuid
from datetime import datetime
from typing import Any

import strawberry
from strawberry.scalars import JSON

from alerting import detectors, rules
from alerting.evaluation import Judged
from query.errors import BadUserInputError
from query.trends.types import FilterOperator, Math, PropertyFilterInput
from query.trends.types import PropertyType as PropertyTypeEnum
from storage.alerts import ChannelRow, RuleRow

AlertDetectorKind = strawberry.enum(
    detectors.DetectorKind, name="AlertDetectorKind",
    description="THRESHOLD: above/below a number. RELATIVE: the last `window` buckets against the `window` before."
    " ZSCORE: rolling z-score over `lookback` buckets. EWMA: exponentially weighted moving average with control"
    " limits. SEASONAL: the same hour-of-week over the last `weeks` weeks (median and MAD, robust to one bad week).",
)
AlertDirection = strawberry.enum(detectors.Direction, name="AlertDirection",
                                 description="Which side fires: UP (above), DOWN (below) or BOTH.")
AlertInterval = strawberry.enum(rules.RuleInterval, name="AlertInterval",
                                description="Bucket size of the watched series; the latest complete bucket is judged.")


@strawberry.enum(description="OK: nothing to report. FIRING: an incident is open. RESOLVED: the last one is over.")
class AlertState(enum.Enum):
    OK = "ok"
    FIRING = "firing"
    RESOLVED = "resolved"


@strawberry.enum(description="Where notices go besides the in-app feed, which every rule uses.")
class AlertChannelKind(enum.Enum):
    EMAIL = "email"
    SLACK = "slack"
    WEBHOOK = "webhook"


@strawberry.input(description="One breakdown value of the series: only events whose property has this value.")
class AlertBreakdownInput:
    key: str
    type: PropertyTypeEnum = PropertyTypeEnum.EVENT  # type: ignore[assignment]
    value: str | None = strawberry.field(default=None, description="null: the events without the property.")


@strawberry.input(description="The trends series a rule watches.")
class AlertSeriesInput:
    event: str | None = strawberry.field(default=None, description="Event name; null means all events.")
    math: Math
    property: str | None = None
    filters: list[PropertyFilterInput] = strawberry.field(default_factory=list)
    breakdown: AlertBreakdownInput | None = None

    def to_series(self) -> rules.RuleSeries:
        return rules.RuleSeries(
            event=self.event, math=self.math, property_name=self.property,
            filters=tuple(item.to_filter() for item in self.filters),
            breakdown=None if self.breakdown is None else rules.BreakdownValue(
                self.breakdown.key, self.breakdown.type, self.breakdown.value,
            ),
        )


@strawberry.input(description="A detector and its sensitivity; omitted settings take the documented defaults.")
class AlertDetectorInput:
    kind: AlertDetectorKind
    direction: AlertDirection = AlertDirection.BOTH  # type: ignore[assignment]
    threshold: float | None = strawberry.field(default=None, description="THRESHOLD: the limit (needs UP or DOWN).")
    change: float = strawberry.field(default=detectors.DEFAULT_CHANGE,
                                     description="RELATIVE: the fraction that fires (0.5 = 50 %).")
    window: int = strawberry.field(default=1, description="RELATIVE: buckets in each compared window.")
    sensitivity: float | None = strawberry.field(
        default=None, description="ZSCORE, EWMA, SEASONAL: deviations beyond which it fires (defaults 3, 3, 4).")
    lookback: int | None = strawberry.field(default=None,
                                            description="ZSCORE, EWMA: buckets of history (defaults 24, 48).")
    alpha: float = strawberry.field(default=detectors.DEFAULT_ALPHA, description="EWMA: weight of the newest bucket.")
    weeks: int = strawberry.field(default=detectors.DEFAULT_WEEKS, description="SEASONAL: weeks of history.")
    min_volume: float = strawberry.field(
        default=detectors.DEFAULT_MIN_VOLUME,
        description="Anomalies fire only if the value or its expectation reaches this (not for THRESHOLD).")

    def to_params(self) -> detectors.DetectorParams:
        try:
            return detectors.DetectorParams(
                kind=self.kind, direction=self.direction, threshold=self.threshold, change=self.change,
                window=self.window, sensitivity=self.sensitivity, lookback=self.lookback, alpha=self.alpha,
                weeks=self.weeks, min_volume=self.min_volume,
            )
        except ValueError as error:
            raise BadUserInputError(str(error)) from None


@strawberry.input(description="An alert rule: the series, how it is judged, how often, and who hears about it.")
class AlertRuleInput:
    name: str
    series: AlertSeriesInput
    detector: AlertDetectorInput
    interval: AlertInterval = AlertInterval.HOUR  # type: ignore[assignment]
    evaluate_every_seconds: int = strawberry.field(default=60, description="10 to 86400; every minute by default.")
    cooldown_seconds: int = strawberry.field(
        default=600, description="A firing rule resolves once clear this long, so flapping is one incident.")
    channel_ids: list[strawberry.ID] = strawberry.field(default_factory=list)
    enabled: bool = True


@strawberry.type
class AlertFilter:
    key: str
    operator: FilterOperator
    value: JSON | None
    type: PropertyTypeEnum


@strawberry.type
class AlertBreakdown:
    key: str
    type: PropertyTypeEnum
    value: str | None


@strawberry.type
class AlertSeries:
    label: str
    event: str | None
    math: Math
    property: str | None
    filters: list[AlertFilter]
    breakdown: AlertBreakdown | None

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> "AlertSeries":
        series = rules.series_from_json(data)
        return cls(
            label=series.label, event=series.event, math=series.math, property=series.property_name,
            filters=[AlertFilter(key=item.key, operator=item.operator, value=item.value, type=item.type)
                     for item in series.filters],
            breakdown=None if series.breakdown is None else AlertBreakdown(
                key=series.breakdown.key, type=series.breakdown.type, value=series.breakdown.value),
        )


@strawberry.type
class AlertDetector:
    kind: AlertDetectorKind
    direction: AlertDirection
    threshold: float | None
    change: float
    window: int
    sensitivity: float | None
    lookback: int | None
    alpha: float
    weeks: int
    min_volume: float

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> "AlertDetector":
        params = rules.detector_from_json(data)
        return cls(kind=params.kind, direction=params.direction, threshold=params.threshold, change=params.change,
                   window=params.window, sensitivity=params.sensitivity, lookback=params.lookback,
                   alpha=params.alpha, weeks=params.weeks, min_volume=params.min_volume)


@strawberry.type
class AlertRule:
    id: strawberry.ID
    project_id: strawberry.ID
    name: str
    enabled: bool
    series: AlertSeries
    detector: AlertDetector
    interval: AlertInterval
    evaluate_every_seconds: int
    cooldown_seconds: int
    channel_ids: list[strawberry.ID]
    state: AlertState
    last_evaluated_at: datetime | None
    last_value: float | None
    last_error: str | None = strawberry.field(description="Why the last evaluation failed; null when it worked.")
    created_at: datetime
    updated_at: datetime

    @classmethod
    def from_row(cls, row: RuleRow) -> "AlertRule":
        return cls(
            id=strawberry.ID(str(row.id)), project_id=strawberry.ID(str(row.project_id)), name=row.name,
            enabled=row.enabled, series=AlertSeries.from_json(row.series),
            detector=AlertDetector.from_json(row.detector), interval=rules.RuleInterval(row.interval),
            evaluate_every_seconds=row.evaluate_every_seconds, cooldown_seconds=row.cooldown_seconds,
            channel_ids=[strawberry.ID(str(item)) for item in row.channel_ids],
            state=AlertState(row.state), last_evaluated_at=row.last_evaluated_at, last_value=row.last_value,
            last_error=row.last_error, created_at=row.created_at, updated_at=row.updated_at,
        )


def _masked_url(url: str) -> str:
    # Incoming-webhook URLs carry their secret in the path: show the origin and the last characters only.
    scheme, _, rest = url.partition("://")
    host, _, path = rest.partition("/")
    return f"{scheme}://{host}/…{path[-4:]}" if path else url


@strawberry.type(description="A notification channel. URLs are shown masked: they often carry a secret.")
class AlertChannel:
    id: strawberry.ID
    project_id: strawberry.ID | None = strawberry.field(
        description="null: usable by every project of the organization.")
    kind: AlertChannelKind
    name: str
    emails: list[str]
    url: str | None = strawberry.field(description="Slack or webhook URL, masked.")
    created_at: datetime

    @classmethod
    def from_row(cls, row: ChannelRow) -> "AlertChannel":
        url = row.settings.get("url")
        return cls(id=strawberry.ID(str(row.id)),
                   project_id=None if row.project_id is None else strawberry.ID(str(row.project_id)),
                   kind=AlertChannelKind(row.kind), name=row.name, emails=list(row.settings.get("to") or []),
                   url=None if url is None else _masked_url(str(url)), created_at=row.created_at)


@strawberry.type(description="A channel, and for a webhook its signing secret: shown in this response only.")
class SavedAlertChannel:
    channel: AlertChannel
    webhook_secret: str | None = strawberry.field(
        description="Verify `X-TrackMint-Signature: t=<unix>,v1=<hex>`, hex = HMAC-SHA256(secret, \"<t>.<body>\").")


@strawberry.type
class ChannelTestResult:
    ok: bool
    error: str | None


@strawberry.type(description="An in-app alert notice.")
class AlertEvent:
    id: strawberry.ID
    project_id: strawberry.ID
    rule_id: strawberry.ID | None
    incident_id: strawberry.ID | None
    kind: str = strawberry.field(description='"fired", "resolved" or "test".')
    rule_name: str
    message: str
    bucket: datetime | None
    value: float | None
    expected: float | None
    lower: float | None
    upper: float | None
    chart_url: str | None
    created_at: datetime
    read: bool

    @classmethod
    def from_row(cls, row: Any) -> "AlertEvent":
        def maybe(value: Any) -> strawberry.ID | None:
            return None if value is None else strawberry.ID(str(value))

        return cls(id=strawberry.ID(str(row["id"])), project_id=strawberry.ID(str(row["project_id"])),
                   rule_id=maybe(row["rule_id"]), incident_id=maybe(row["incident_id"]), kind=row["kind"],
                   rule_name=row["rule_name"], message=row["message"], bucket=row["bucket"], value=row["value"],
                   expected=row["expected"], lower=row["lower_bound"], upper=row["upper_bound"],
                   chart_url=row.get("chart_url") if isinstance(row, dict) else None,
                   created_at=row["created_at"], read=row["read_at"] is not None)

    @classmethod
    def from_payload(cls, payload: dict[str, Any]) -> "AlertEvent":
        """From the JSON the alerting leader publishes on NATS (alerting/notices.py)."""
        def moment(value: str | None) -> datetime | None:
            return None if value is None else datetime.fromisoformat(value)

        def maybe(value: Any) -> strawberry.ID | None:
            return None if value is None else strawberry.ID(str(value))

        created = moment(payload["createdAt"])
        assert created is not None
        return cls(id=strawberry.ID(payload["id"]), project_id=strawberry.ID(payload["projectId"]),
                   rule_id=maybe(payload.get("ruleId")), incident_id=maybe(payload.get("incidentId")),
                   kind=payload["type"], rule_name=payload["ruleName"], message=payload["message"],
                   bucket=moment(payload.get("bucket")), value=payload.get("value"),
                   expected=payload.get("expected"), lower=payload.get("lower"), upper=payload.get("upper"),
                   chart_url=payload.get("chartUrl"), created_at=created, read=False)


@strawberry.type(description="An evaluation that changed a rule's state.")
class AlertStateChange:
    rule_id: strawberry.ID
    rule_name: str
    incident_id: strawberry.ID | None
    from_state: AlertState
    to_state: AlertState
    at: datetime
    bucket: datetime | None
    value: float | None
    expected: float | None
    lower: float | None
    upper: float | None
    reason: str


@strawberry.type(description="A notice through one channel; failures stay visible with their last error.")
class AlertDelivery:
    id: strawberry.ID
    event_id: strawberry.ID
    event_kind: str
    rule_name: str
    channel_id: strawberry.ID | None
    channel_name: str | None
    channel_kind: str = strawberry.field(description='"in_app", "email", "slack" or "webhook".')
    status: str = strawberry.field(description='"pending", "sending", "sent" or "failed" (after the last attempt).')
    attempts: int
    last_error: str | None
    created_at: datetime
    sent_at: datetime | None
    next_attempt_at: datetime


@strawberry.type
class BacktestPoint:
    bucket: datetime
    value: float
    firing: bool
    expected: float | None
    lower: float | None
    upper: float | None
    reason: str

    @classmethod
    def from_judged(cls, judged: Judged) -> "BacktestPoint":
        verdict = judged.verdict
        return cls(bucket=judged.bucket, value=verdict.value, firing=verdict.firing, expected=verdict.expected,
                   lower=verdict.lower, upper=verdict.upper, reason=verdict.reason)


@strawberry.type(description="When a rule would have fired over past data: a point per bucket for the chart.")
class AlertBacktest:
    points: list[BacktestPoint]
    fired_at: list[datetime] = strawberry.field(description="Buckets where an incident would have opened.")


MAX_NAME_LENGTH = 200


def clean_name(value: str) -> str:
    """A rule's or channel's name, stripped; BAD_USER_INPUT if empty or too long."""
    name = value.strip()
    if not name or len(name) > MAX_NAME_LENGTH:
        raise BadUserInputError(f"name must be 1 to {MAX_NAME_LENGTH} characters")
    return name


def rule_from_input(value: AlertRuleInput, project_id: Any, rule_id: Any = None) -> rules.Rule:
    """The rule an input describes, validated (BAD_USER_INPUT says what is wrong); channels are checked apart."""
    name = clean_name(value.name)
    if not 10 <= value.evaluate_every_seconds <= 86_400:
        raise BadUserInputError("evaluateEverySeconds must be between 10 and 86400")
    if not 0 <= value.cooldown_seconds <= 604_800:
        raise BadUserInputError("cooldownSeconds must be between 0 and 604800 (a week)")
    channel_ids = []
    for item in value.channel_ids:
        try:
            channel_ids.append(uuid.UUID(str(item)))
        except ValueError:
            raise BadUserInputError(f"channelIds: {item!r} is not a UUID") from None
    return rules.Rule(
        id=rule_id or uuid.uuid4(), project_id=project_id, name=name, series=value.series.to_series(),
        interval=value.interval, detector=value.detector.to_params(),
        evaluate_every_seconds=value.evaluate_every_seconds, cooldown_seconds=value.cooldown_seconds,
        channel_ids=tuple(channel_ids), enabled=value.enabled,
    )
