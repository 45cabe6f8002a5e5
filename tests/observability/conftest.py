"""The query service's settings of the query suite (a small pool, no NATS)."""

from tests.query.conftest import query_settings  # noqa: F401
