"""Property filters: validation, and SQL that binds every key and value as a parameter."""

import pytest

from query.analytics._params import Params
from query.analytics.filters import (
    Operator,
    PropertyFilter,
    PropertyRef,
    PropertyType,
    Sources,
    filter_sql,
    property_text,
    validate_filters,
)
from query.errors import BadUserInputError

HOSTILE = "x'); DROP TABLE events; --"


@pytest.mark.parametrize("operator", list(Operator))
def test_keys_and_values_never_reach_the_sql_text(operator: Operator) -> None:
    value = {
        Operator.GT: 1.5,
        Operator.LT: 1.5,
        Operator.IS_SET: None,
        Operator.IS_NOT_SET: None,
        Operator.IN: [HOSTILE, 3],
    }.get(operator, HOSTILE)
    item = PropertyFilter(key=HOSTILE, operator=operator, value=value, type=PropertyType.PERSON)
    validate_filters([item])
    params = Params()

    sql = filter_sql(item, params, Sources())

    assert "DROP" not in sql
    assert HOSTILE in params.values
    assert "$1" in sql


def test_typed_columns_come_from_the_whitelist_only() -> None:
    params = Params()

    assert property_text(PropertyRef("$pathname"), params, Sources()) == "e.page_path"
    assert property_text(PropertyRef("$pathname", PropertyType.PERSON), params, Sources()).startswith("(p.traits ->>")
    assert property_text(PropertyRef("$not_a_column"), params, Sources()).startswith("(e.properties ->>")


def test_unknown_operator_is_bad_user_input() -> None:
    with pytest.raises(BadUserInputError, match="unknown operator"):
        validate_filters([PropertyFilter(key="plan", operator="starts_with", value="a")])  # type: ignore[arg-type]


def test_booleans_are_not_numbers_for_gt() -> None:
    with pytest.raises(BadUserInputError, match="number"):
        validate_filters([PropertyFilter(key="amount", operator=Operator.GT, value=True)])
