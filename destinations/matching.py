"""Which events a destination receives: event names, and property predicates with the analytics filters' semantics.

A filter is `{"events": [names], "properties": [{"key", "operator", "value"}]}`.
An empty name list matches every event; predicates are ANDed. The operators and
their meaning are those of the analytics filters (query/analytics/filters.py,
DESIGN §5), evaluated here in Python on the event about to be delivered:

- `eq` / `neq`: a string matches the property's text form ("5" matches 5 and "5");
  a number matches JSON numbers numerically; a boolean matches booleans;
  `neq` is the negation, so events without the property match it.
- `contains` / `not_contains`: case-sensitive substring of the text form.
- `gt` / `lt`: JSON numbers only.
- `is_set` / `is_not_set`: present and not null, or not.
- `in`: the text form equals one of the listed values' text forms.

Keys name top-level event properties, or the enriched fields analytics offers
as `$browser`, `$pathname`, ... (`TYPED_KEYS`). Person properties are not known
when an event is delivered, so destinations do not take them.
"""

import json
import math
from collections.abc import Callable
from typing import Any

_MISSING = object()

TYPED_KEYS: dict[str, Callable[[dict[str, Any]], Any]] = {
    "$browser": lambda e: e.get("enrichment", {}).get("browser"),
    "$browser_version": lambda e: e.get("enrichment", {}).get("browserVersion"),
    "$os": lambda e: e.get("enrichment", {}).get("os"),
    "$os_version": lambda e: e.get("enrichment", {}).get("osVersion"),
    "$device_type": lambda e: e.get("enrichment", {}).get("deviceType"),
    "$country": lambda e: e.get("enrichment", {}).get("country"),
    "$region": lambda e: e.get("enrichment", {}).get("region"),
    "$city": lambda e: e.get("enrichment", {}).get("city"),
    "$referring_domain": lambda e: e.get("enrichment", {}).get("referrerDomain"),
    "$referrer_channel": lambda e: e.get("enrichment", {}).get("channel"),
    "$utm_source": lambda e: e.get("context", {}).get("campaign", {}).get("source"),
    "$utm_medium": lambda e: e.get("context", {}).get("campaign", {}).get("medium"),
    "$utm_campaign": lambda e: e.get("context", {}).get("campaign", {}).get("name"),
    "$utm_term": lambda e: e.get("context", {}).get("campaign", {}).get("term"),
    "$utm_content": lambda e: e.get("context", {}).get("campaign", {}).get("content"),
    "$pathname": lambda e: e.get("context", {}).get("page", {}).get("path"),
    "$current_url": lambda e: e.get("context", {}).get("page", {}).get("url"),
    "$referrer": lambda e: e.get("context", {}).get("page", {}).get("referrer"),
    "$title": lambda e: e.get("context", {}).get("page", {}).get("title"),
}
"""The enriched fields offered as properties, as in the analytics filters (same names)."""


def _is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def _text(value: object) -> str:
    return value if isinstance(value, str) else json.dumps(value, separators=(",", ":"))


def _lookup(event: dict[str, Any], key: str) -> object:
    if key in TYPED_KEYS:
        found = TYPED_KEYS[key](event)
        return _MISSING if found is None else found
    return event.get("properties", {}).get(key, _MISSING)


def _equals(found: object, value: object) -> bool:
    if found is _MISSING or found is None:
        return False
    if isinstance(value, bool):
        return found is value
    if _is_number(value):
        return _is_number(found) and float(found) == float(value)  # type: ignore[arg-type]
    return _text(found) == value


def predicate_matches(predicate: dict[str, Any], event: dict[str, Any]) -> bool:
    operator, value = predicate.get("operator"), predicate.get("value")
    found = _lookup(event, str(predicate.get("key", "")))
    present = found is not _MISSING and found is not None
    if operator == "is_set":
        return present
    if operator == "is_not_set":
        return not present
    if operator == "eq":
        return _equals(found, value)
    if operator == "neq":
        return not _equals(found, value)
    if operator in ("contains", "not_contains"):
        contained = present and isinstance(value, str) and value in _text(found)
        return contained if operator == "contains" else not contained
    if operator in ("gt", "lt"):
        if not (present and _is_number(found) and _is_number(value)):
            return False
        return found > value if operator == "gt" else found < value  # type: ignore[operator]
    if operator == "in":
        return present and isinstance(value, list) and _text(found) in {_text(item) for item in value}
    return False  # an operator this version does not know matches nothing rather than everything


def matches(filter: dict[str, Any], event: dict[str, Any]) -> bool:
    names = filter.get("events") or []
    if names and event.get("event") not in names:
        return False
    return all(predicate_matches(item, event) for item in filter.get("properties") or [])
