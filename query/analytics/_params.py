"""Numbering of bound parameters while a query's SQL is assembled from fragments."""


class Params:
    """Collects values and hands out `$n` placeholders for them, with an explicit type."""

    def __init__(self) -> None:
        self.values: list[object] = []

    def add(self, value: object, sql_type: str) -> str:
        self.values.append(value)
        # The explicit cast tells PostgreSQL (and asyncpg's encoder) the type even
        # where the context would leave it ambiguous, as in `$n IS NULL`.
        return f"${len(self.values)}::{sql_type}"
