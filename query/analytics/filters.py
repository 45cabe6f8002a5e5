"""Property filters and property references, as SQL fragments shared by the analytics queries.

A filter is a predicate on one property of the event or of the event's person
(the traits of the person its distinct id maps to). The SQL never interpolates
a value or a property key: both are bound parameters (`properties ->> $n`). The
only names written into SQL are columns from `TYPED_COLUMNS`, a fixed whitelist.

Semantics, identical for event and person properties:

- `eq` / `neq`: a string value matches the property's text form (`->>`, so "5"
  matches the JSON number 5 and the string "5"); a number value matches JSON
  numbers numerically; a boolean value matches JSON booleans. `neq` is the
  negation of `eq`, so events without the property match `neq`.
- `contains` / `not_contains`: case-sensitive substring of the text form;
  `not_contains` is the negation (missing properties match it).
- `gt` / `lt`: JSON numbers only, compared as double precision.
- `is_set` / `is_not_set`: the property is present and not JSON null, or not.
- `in`: the text form equals one of the listed strings (numbers in the list
  are compared by their JSON text, e.g. 5 matches "5").

Typed event columns that users think of as properties (`$browser`, `$pathname`,
...) are plain text columns: their text form is the column, `gt`/`lt` and
number or boolean values for `eq` are refused.
"""

import enum
import json
import math
from dataclasses import dataclass

from query.analytics._params import Params
from query.errors import BadUserInputError

MAX_FILTERS = 20
"""Most filters one query (or one series) may carry."""

MAX_IN_VALUES = 100
"""Most values one `in` filter may list."""

MAX_KEY_LENGTH = 200
"""Longest property key accepted."""

TYPED_COLUMNS = {
    "$browser": "browser",
    "$browser_version": "browser_version",
    "$os": "os",
    "$os_version": "os_version",
    "$device_type": "device_type",
    "$country": "country",
    "$region": "region",
    "$city": "city",
    "$referring_domain": "referrer_domain",
    "$referrer_channel": "referrer_channel",
    "$utm_source": "utm_source",
    "$utm_medium": "utm_medium",
    "$utm_campaign": "utm_campaign",
    "$utm_term": "utm_term",
    "$utm_content": "utm_content",
    "$pathname": "page_path",
    "$current_url": "page_url",
    "$referrer": "page_referrer",
    "$title": "page_title",
}
"""Event property names served by typed columns of `events` (enriched context), name -> column."""


class PropertyType(enum.Enum):
    EVENT = "event"
    PERSON = "person"


class Operator(enum.Enum):
    EQ = "eq"
    NEQ = "neq"
    CONTAINS = "contains"
    NOT_CONTAINS = "not_contains"
    GT = "gt"
    LT = "lt"
    IS_SET = "is_set"
    IS_NOT_SET = "is_not_set"
    IN = "in"


@dataclass(frozen=True)
class PropertyRef:
    """One property of an event (a typed column or a key of `properties`) or of its person (a trait)."""

    key: str
    type: PropertyType = PropertyType.EVENT

    @property
    def column(self) -> str | None:
        """The typed column serving this property, if it is one."""
        return TYPED_COLUMNS.get(self.key) if self.type is PropertyType.EVENT else None


@dataclass(frozen=True)
class PropertyFilter:
    key: str
    operator: Operator
    # A JSON scalar, or a list for `in`, or None for `is_set`/`is_not_set`.
    value: object = None
    type: PropertyType = PropertyType.EVENT

    @property
    def ref(self) -> PropertyRef:
        return PropertyRef(self.key, self.type)


@dataclass(frozen=True)
class Sources:
    """The SQL expressions filters are written against: the events row and the person's traits."""

    properties: str = "e.properties"
    traits: str = "p.traits"
    table: str = "e"


def _is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def text_form(value: object) -> str:
    """How a JSON scalar reads as text (`->>`): strings as they are, other scalars as their JSON."""
    return value if isinstance(value, str) else json.dumps(value)


def validate_key(key: str, what: str = "property") -> None:
    if not key or len(key) > MAX_KEY_LENGTH:
        raise BadUserInputError(f"{what} key must be 1 to {MAX_KEY_LENGTH} characters")


def validate_filters(filters: list[PropertyFilter] | tuple[PropertyFilter, ...], where: str = "filters") -> None:
    """Refuses too many filters, unknown operators and values of the wrong type for their operator."""
    if len(filters) > MAX_FILTERS:
        raise BadUserInputError(f"at most {MAX_FILTERS} {where}, got {len(filters)}")
    for item in filters:
        _validate_filter(item)


def _validate_filter(item: PropertyFilter) -> None:
    validate_key(item.key, "filter")
    op, value, name = item.operator, item.value, f"filter on {item.key!r}"
    if not isinstance(op, Operator):
        raise BadUserInputError(f"{name}: unknown operator {op!r}")
    typed = item.ref.column is not None
    if op in (Operator.IS_SET, Operator.IS_NOT_SET):
        if value is not None:
            raise BadUserInputError(f"{name}: {op.value} takes no value")
    elif op in (Operator.GT, Operator.LT):
        if typed:
            raise BadUserInputError(f"{name}: {op.value} needs a numeric property; {item.key} is text")
        if not _is_number(value):
            raise BadUserInputError(f"{name}: {op.value} needs a number value")
    elif op in (Operator.CONTAINS, Operator.NOT_CONTAINS):
        if not isinstance(value, str) or not value:
            raise BadUserInputError(f"{name}: {op.value} needs a non-empty string value")
    elif op is Operator.IN:
        if not isinstance(value, list) or not 1 <= len(value) <= MAX_IN_VALUES:
            raise BadUserInputError(f"{name}: in needs a list of 1 to {MAX_IN_VALUES} values")
        if not all(isinstance(v, str) or _is_number(v) for v in value):
            raise BadUserInputError(f"{name}: in takes only strings and numbers")
    else:  # EQ, NEQ
        if typed and not isinstance(value, str):
            raise BadUserInputError(f"{name}: {op.value} needs a string value; {item.key} is text")
        if not (isinstance(value, str | bool) or _is_number(value)):
            raise BadUserInputError(f"{name}: {op.value} needs a string, number or boolean value")


def property_json(ref: PropertyRef, params: Params, sources: Sources) -> str:
    """The property as jsonb (not for typed columns)."""
    container = sources.traits if ref.type is PropertyType.PERSON else sources.properties
    return f"({container} -> {params.add(ref.key, 'text')})"


def property_text(ref: PropertyRef, params: Params, sources: Sources) -> str:
    """The property's text form (NULL when missing)."""
    if ref.column is not None:
        return f"{sources.table}.{ref.column}"
    container = sources.traits if ref.type is PropertyType.PERSON else sources.properties
    return f"({container} ->> {params.add(ref.key, 'text')})"


def property_number(ref: PropertyRef, params: Params, sources: Sources) -> str:
    """The property as double precision when it is a JSON number, else NULL."""
    if ref.column is not None:
        raise BadUserInputError(f"{ref.key} is a text property, not a number")
    value = property_json(ref, params, sources)
    return f"(CASE WHEN jsonb_typeof({value}) = 'number' THEN ({value} #>> '{{}}')::float8 END)"


def filter_sql(item: PropertyFilter, params: Params, sources: Sources) -> str:
    """A boolean SQL expression, never NULL, true for the rows the filter keeps."""
    op, ref = item.operator, item.ref
    if op in (Operator.IS_SET, Operator.IS_NOT_SET):
        if ref.column is not None:
            present = f"({sources.table}.{ref.column} IS NOT NULL)"
        else:
            present = f"(coalesce(jsonb_typeof({property_json(ref, params, sources)}), 'null') <> 'null')"
        return present if op is Operator.IS_SET else f"(NOT {present})"
    if op in (Operator.GT, Operator.LT):
        sign = ">" if op is Operator.GT else "<"
        return f"coalesce({property_number(ref, params, sources)} {sign} {params.add(item.value, 'float8')}, false)"
    if op in (Operator.CONTAINS, Operator.NOT_CONTAINS):
        found = f"coalesce(strpos({property_text(ref, params, sources)}, {params.add(item.value, 'text')}) > 0, false)"
        return found if op is Operator.CONTAINS else f"(NOT {found})"
    if op is Operator.IN:
        values = [text_form(v) for v in item.value]  # type: ignore[union-attr]
        return f"coalesce({property_text(ref, params, sources)} = ANY({params.add(values, 'text[]')}), false)"
    # EQ / NEQ
    value = item.value
    if isinstance(value, bool):
        equal = f"({property_json(ref, params, sources)} = {params.add(json.dumps(value), 'jsonb')})"
    elif isinstance(value, str):
        equal = f"({property_text(ref, params, sources)} = {params.add(value, 'text')})"
    else:
        equal = f"({property_number(ref, params, sources)} = {params.add(value, 'float8')})"
    equal = f"coalesce({equal}, false)"
    return equal if op is Operator.EQ else f"(NOT {equal})"


def filters_sql(filters: list[PropertyFilter] | tuple[PropertyFilter, ...], params: Params, sources: Sources) -> str:
    """All filters ANDed (`true` when there are none)."""
    if not filters:
        return "true"
    return " AND ".join(filter_sql(item, params, sources) for item in filters)


def needs_person(
    filters: list[PropertyFilter] | tuple[PropertyFilter, ...], *refs: PropertyRef | None
) -> bool:
    """Whether the SQL must join the event's person for these filters and property references."""
    return any(item.type is PropertyType.PERSON for item in filters) or any(
        ref is not None and ref.type is PropertyType.PERSON for ref in refs
    )
