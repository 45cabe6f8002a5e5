"""SQL shared by the trends paths that answer a broken-down series, raw (get_trends.py) or from the hourly
values rollup (trends_breakdown_rollup.py): the same ranking of values, the same `Other`, the same grid of
(period, group, bucket) rows, so both paths give one answer."""

from datetime import timedelta

from query.analytics._params import Params


def shifted(column: str, shift: timedelta, params: Params) -> str:
    """`column` moved by `shift`: a pure time interval (no days part), so DST never stretches it."""
    if not shift:
        return column
    return f"({column} + {params.add(shift / timedelta(microseconds=1), 'float8')} * interval '1 microsecond')"


def breakdown_groups_sql(source: str, weight: str, limit: str, other_rank: str) -> str:
    """CTEs `top`, `tagged` and `groups` over `source` (rows with `is_compare` and the value `bd`): the top
    `limit` values by `weight` (an aggregate) in the current period, ties by value in code-point order, no
    value last, then `Other` (rank `other_rank`) when any row holds another value. `key` makes NULL (no
    value) a joinable value."""
    return f"""
        top AS (
            SELECT bd, coalesce('v' || bd, 'n') AS key,
                   row_number() OVER (ORDER BY {weight} DESC, bd COLLATE "C" NULLS LAST) AS rank
            FROM {source} WHERE NOT is_compare
            GROUP BY bd
            ORDER BY rank
            LIMIT {limit}
        ),
        tagged AS (
            SELECT {source}.*, coalesce(top.rank, {other_rank}) AS rank
            FROM {source} LEFT JOIN top ON top.key = coalesce('v' || {source}.bd, 'n')
        ),
        groups AS (
            SELECT rank, bd AS value, false AS is_other FROM top
            UNION ALL
            SELECT {other_rank}, NULL, true WHERE EXISTS (SELECT 1 FROM tagged WHERE rank = {other_rank})
        )
    """


def series_grid_sql(compare: bool, buckets_sql: str) -> str:
    """The last CTEs and the SELECT: one row per (period, group, bucket), 0 where `agg` has no value, as
    (is_compare, rank, breakdown_value, is_other, bucket, value). Needs CTEs `groups` and `agg`."""
    periods = "SELECT false AS is_compare" + (" UNION ALL SELECT true" if compare else "")
    return f"""
        periods AS ({periods}),
        buckets AS ({buckets_sql})
        SELECT periods.is_compare, groups.rank, groups.value AS breakdown_value, groups.is_other,
               buckets.bucket, coalesce(agg.value, 0)::float8 AS value
        FROM periods CROSS JOIN groups CROSS JOIN buckets
        LEFT JOIN agg ON agg.is_compare = periods.is_compare AND agg.rank = groups.rank
                     AND agg.bucket = buckets.bucket
        ORDER BY periods.is_compare, groups.rank, buckets.bucket
    """
