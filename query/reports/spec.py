"""The report a caller asks for, parsed from JSON (the HTTP body, a schedule's stored spec), every input bounded.

    {"projectId": "...", "dateRange": {"from": "...", "to": "..."},      (the HTTP body only)
     "title": "Weekly KPIs",                                               (optional)
     "kind": "OVERVIEW" | "INSIGHTS",
     "items": [                                                            (INSIGHTS: 1 to MAX_ITEMS)
       {"type": "TRENDS", "series": [{"event", "math", "property", "filters"}], "interval", "filters",
        "breakdown": {"key", "type"}, "breakdownLimit", "title"},
       {"type": "FUNNEL", "steps": [{"event", "filters"}], "windowSeconds", "mode", "title"},
       {"type": "RETENTION", "startEvent", "returnEvent", "period", "periods", "mode", "title"},
       {"type": "SESSIONS", "breakdown", "title"}]}

Names and enum values are those of the GraphQL arguments of the same query, so a report item is the
variables of a `trends`, `funnel`, `retention` or `sessionsSummary` call. What the analytics functions check
themselves (series, steps, filters, periods) they still check; this module bounds what makes a PDF unreadable
or huge (items, points per chart, lines per chart, lengths) and turns JSON into the functions' specs.
"""

import enum
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

from query.analytics.filters import MAX_FILTERS, Operator, PropertyFilter, PropertyRef, PropertyType
from query.analytics.get_funnel import DEFAULT_WINDOW, FunnelMode, FunnelStepSpec
from query.analytics.get_retention import EventSpec, RetentionMode, RetentionPeriod
from query.analytics.get_sessions import SessionDimension
from query.analytics.get_trends import Math, SeriesSpec
from query.analytics.intervals import Interval
from query.analytics.reading import MAX_RANGE, validate_date_range
from query.errors import BadUserInputError

MAX_ITEMS = 12
"""Most insights in one report: each is a query and a page section."""

MAX_TITLE = 200
MAX_SERIES = 5
"""Most series of one trends item: more lines than a printed legend can tell apart."""

MAX_BREAKDOWN_LINES = 8
"""Most breakdown values of one trends item (plus Other), for the same reason."""

MAX_LINES = 10
"""Most lines on one trends chart (series times breakdown values plus Other), each a column of its table."""

MAX_CHART_POINTS = 400
"""Most buckets on one chart's time axis; a finer interval over a long range is refused, not squeezed."""

MAX_STEPS_OF_FUNNEL = 10
MAX_TEXT = 200

_E = TypeVar("_E", bound=enum.Enum)

_NOMINAL_STEP = {
    Interval.MINUTE: timedelta(minutes=1), Interval.HOUR: timedelta(hours=1), Interval.DAY: timedelta(days=1),
    Interval.WEEK: timedelta(days=7), Interval.MONTH: timedelta(days=28),
}


class ReportKind(enum.Enum):
    OVERVIEW = "overview"
    INSIGHTS = "insights"


@dataclass(frozen=True)
class TrendsItem:
    title: str
    series: tuple[SeriesSpec, ...]
    interval: Interval | None  # None: chosen from the range (`interval_for`)
    filters: tuple[PropertyFilter, ...] = ()
    breakdown: PropertyRef | None = None
    breakdown_limit: int = 5


@dataclass(frozen=True)
class FunnelItem:
    title: str
    steps: tuple[FunnelStepSpec, ...]
    window: timedelta = DEFAULT_WINDOW
    mode: FunnelMode = FunnelMode.ORDERED


@dataclass(frozen=True)
class RetentionItem:
    title: str
    start: EventSpec
    returning: EventSpec
    period: RetentionPeriod = RetentionPeriod.DAY
    periods: int = 7
    mode: RetentionMode = RetentionMode.RECURRING


@dataclass(frozen=True)
class SessionsItem:
    title: str
    breakdown: SessionDimension | None = None


Item = TrendsItem | FunnelItem | RetentionItem | SessionsItem


@dataclass(frozen=True)
class ReportContent:
    """What a report shows, without where and when (a schedule stores this; the range comes from its frequency)."""

    title: str
    kind: ReportKind
    items: tuple[Item, ...] = field(default_factory=tuple)


@dataclass(frozen=True)
class ReportRequest:
    project_id: str
    date_from: datetime
    date_to: datetime
    content: ReportContent


def interval_for(date_from: datetime, date_to: datetime) -> Interval:
    """The time-axis interval of a chart over this range when the item names none (as the web UI's presets)."""
    span = date_to - date_from
    if span <= timedelta(days=3):
        return Interval.HOUR
    if span <= timedelta(days=120):
        return Interval.DAY
    return Interval.WEEK


def check_range(date_from: datetime, date_to: datetime, content: ReportContent) -> None:
    """The range is valid, at most MAX_RANGE, and every time axis fits MAX_CHART_POINTS."""
    validate_date_range(date_from, date_to, MAX_RANGE)
    for item in content.items:
        if isinstance(item, TrendsItem) and item.interval is not None:
            points = (date_to - date_from) / _NOMINAL_STEP[item.interval]
            if points > MAX_CHART_POINTS:
                raise BadUserInputError(
                    f"{item.title}: {item.interval.name} buckets over this range make about {points:.0f} points;"
                    f" a chart holds at most {MAX_CHART_POINTS}: choose a larger interval or a shorter range"
                )


def parse_request(body: dict[str, Any]) -> ReportRequest:
    """The HTTP body: a project, a date range and the report's content."""
    project_id = body.get("projectId")
    if not isinstance(project_id, str) or not project_id:
        raise BadUserInputError("projectId is required")
    date_range = body.get("dateRange")
    if not isinstance(date_range, dict):
        raise BadUserInputError("dateRange is required: {\"from\": ISO 8601, \"to\": ISO 8601}")
    date_from = _time(date_range.get("from"), "dateRange.from")
    date_to = _time(date_range.get("to"), "dateRange.to")
    content = parse_content({key: value for key, value in body.items() if key not in ("projectId", "dateRange")})
    check_range(date_from, date_to, content)
    return ReportRequest(project_id, date_from, date_to, content)


def parse_content(body: dict[str, Any]) -> ReportContent:
    _only(body, {"title", "kind", "items"}, "the report")
    kind = _enum(ReportKind, body.get("kind", "OVERVIEW"), "kind")
    items = body.get("items") or []
    if not isinstance(items, list):
        raise BadUserInputError("items must be a list")
    if kind is ReportKind.OVERVIEW and items:
        raise BadUserInputError("an OVERVIEW report has fixed contents; items are for INSIGHTS reports")
    if kind is ReportKind.INSIGHTS and not 1 <= len(items) <= MAX_ITEMS:
        raise BadUserInputError(f"an INSIGHTS report needs 1 to {MAX_ITEMS} items, got {len(items)}")
    default_title = "Overview" if kind is ReportKind.OVERVIEW else "Insights"
    title = _text(body.get("title") or default_title, "title", MAX_TITLE)
    return ReportContent(title, kind, tuple(_item(item, index) for index, item in enumerate(items, start=1)))


def _item(raw: Any, index: int) -> Item:
    where = f"items[{index}]"
    if not isinstance(raw, dict):
        raise BadUserInputError(f"{where} must be an object")
    kind = raw.get("type")
    title = raw.get("title")
    if kind == "TRENDS":
        _only(raw, {"type", "title", "series", "interval", "filters", "breakdown", "breakdownLimit"}, where)
        series = _list(raw.get("series"), f"{where}.series", 1, MAX_SERIES)
        specs = tuple(_series(item, f"{where}.series[{number}]") for number, item in enumerate(series, start=1))
        breakdown = raw.get("breakdown")
        limit = _int(raw.get("breakdownLimit", 5), f"{where}.breakdownLimit", 1, MAX_BREAKDOWN_LINES)
        lines = len(specs) * (limit + 1 if breakdown is not None else 1)
        if lines > MAX_LINES:
            raise BadUserInputError(f"{where} would draw {lines} lines (series x breakdown values + Other); at most"
                                    f" {MAX_LINES} fit a chart: use fewer series or a smaller breakdownLimit")
        return TrendsItem(
            title=_text(title or " / ".join(spec.label for spec in specs), f"{where}.title", MAX_TITLE),
            series=specs,
            interval=None if raw.get("interval") is None else _enum(Interval, raw["interval"], f"{where}.interval"),
            filters=_filters(raw.get("filters"), f"{where}.filters"),
            breakdown=None if breakdown is None else _ref(breakdown, f"{where}.breakdown"),
            breakdown_limit=limit,
        )
    if kind == "FUNNEL":
        _only(raw, {"type", "title", "steps", "windowSeconds", "mode"}, where)
        steps = _list(raw.get("steps"), f"{where}.steps", 2, MAX_STEPS_OF_FUNNEL)
        specs = tuple(_step(step, f"{where}.steps[{number}]") for number, step in enumerate(steps, start=1))
        window = _int(raw.get("windowSeconds", int(DEFAULT_WINDOW.total_seconds())), f"{where}.windowSeconds",
                      1, 90 * 86400)
        return FunnelItem(
            title=_text(title or "Funnel: " + " > ".join(step.event for step in specs), f"{where}.title", MAX_TITLE),
            steps=specs, window=timedelta(seconds=window),
            mode=_enum(FunnelMode, raw.get("mode", "ORDERED"), f"{where}.mode"),
        )
    if kind == "RETENTION":
        _only(raw, {"type", "title", "startEvent", "returnEvent", "period", "periods", "mode"}, where)
        start = _text(raw.get("startEvent"), f"{where}.startEvent", MAX_TEXT)
        returning = _text(raw.get("returnEvent"), f"{where}.returnEvent", MAX_TEXT)
        return RetentionItem(
            title=_text(title or f"Retention: {start} > {returning}", f"{where}.title", MAX_TITLE),
            start=EventSpec(start), returning=EventSpec(returning),
            period=_enum(RetentionPeriod, raw.get("period", "DAY"), f"{where}.period"),
            # 12 columns is what fits a page's width.
            periods=_int(raw.get("periods", 7), f"{where}.periods", 1, 12),
            mode=_enum(RetentionMode, raw.get("mode", "RECURRING"), f"{where}.mode"),
        )
    if kind == "SESSIONS":
        _only(raw, {"type", "title", "breakdown"}, where)
        breakdown = raw.get("breakdown")
        dimension = None if breakdown is None else _enum(SessionDimension, breakdown, f"{where}.breakdown")
        return SessionsItem(title=_text(title or "Sessions", f"{where}.title", MAX_TITLE), breakdown=dimension)
    raise BadUserInputError(f"{where}.type must be TRENDS, FUNNEL, RETENTION or SESSIONS")


def _series(raw: Any, where: str) -> SeriesSpec:
    if not isinstance(raw, dict):
        raise BadUserInputError(f"{where} must be an object")
    _only(raw, {"event", "math", "property", "filters"}, where)
    event = raw.get("event")
    prop = raw.get("property")
    return SeriesSpec(
        event=None if event is None else _text(event, f"{where}.event", MAX_TEXT),
        math=_enum(Math, raw.get("math", "TOTAL"), f"{where}.math"),
        property_name=None if prop is None else _text(prop, f"{where}.property", MAX_TEXT),
        filters=_filters(raw.get("filters"), f"{where}.filters"),
    )


def _step(raw: Any, where: str) -> FunnelStepSpec:
    if not isinstance(raw, dict):
        raise BadUserInputError(f"{where} must be an object")
    _only(raw, {"event", "filters"}, where)
    return FunnelStepSpec(_text(raw.get("event"), f"{where}.event", MAX_TEXT),
                          _filters(raw.get("filters"), f"{where}.filters"))


def _filters(raw: Any, where: str) -> tuple[PropertyFilter, ...]:
    items = _list(raw or [], where, 0, MAX_FILTERS)
    filters = []
    for number, item in enumerate(items, start=1):
        if not isinstance(item, dict):
            raise BadUserInputError(f"{where}[{number}] must be an object")
        _only(item, {"key", "operator", "value", "type"}, f"{where}[{number}]")
        ref = _ref(item, f"{where}[{number}]")
        operator = _enum(Operator, item.get("operator"), f"{where}[{number}].operator")
        filters.append(PropertyFilter(ref.key, operator, item.get("value"), ref.type))
    return tuple(filters)


def _ref(raw: Any, where: str) -> PropertyRef:
    if not isinstance(raw, dict):
        raise BadUserInputError(f"{where} must be an object with a key")
    return PropertyRef(_text(raw.get("key"), f"{where}.key", MAX_TEXT),
                       _enum(PropertyType, raw.get("type", "EVENT"), f"{where}.type"))


def _only(raw: dict[str, Any], known: set[str], where: str) -> None:
    unknown = sorted(set(raw) - known)
    if unknown:
        raise BadUserInputError(f"unknown fields in {where}: {', '.join(unknown)}")


def _list(raw: Any, where: str, least: int, most: int) -> list[Any]:
    if not isinstance(raw, list) or not least <= len(raw) <= most:
        raise BadUserInputError(f"{where} must be a list of {least} to {most} entries")
    return raw


def _text(raw: Any, where: str, most: int) -> str:
    if not isinstance(raw, str) or not raw.strip() or len(raw) > most or "\x00" in raw:
        raise BadUserInputError(f"{where} must be text of 1 to {most} characters")
    return raw.strip()


def _int(raw: Any, where: str, least: int, most: int) -> int:
    if isinstance(raw, bool) or not isinstance(raw, int) or not least <= raw <= most:
        raise BadUserInputError(f"{where} must be an integer from {least} to {most}")
    return raw


def _enum(kind: type[_E], raw: Any, where: str) -> _E:
    try:
        return kind[raw]
    except (KeyError, TypeError):
        raise BadUserInputError(f"{where} must be one of {', '.join(kind.__members__)}") from None


def _time(raw: Any, where: str) -> datetime:
    if not isinstance(raw, str):
        raise BadUserInputError(f"{where} is required (ISO 8601 with a UTC offset)")
    try:
        parsed = datetime.fromisoformat(raw)
    except ValueError:
        raise BadUserInputError(f"{where} {raw!r} is not an ISO 8601 time") from None
    if parsed.tzinfo is None:
        raise BadUserInputError(f"{where} must carry a UTC offset")
    try:
        parsed.astimezone(UTC)
    except OverflowError:
        raise BadUserInputError(f"{where} is out of range") from None
    return parsed
