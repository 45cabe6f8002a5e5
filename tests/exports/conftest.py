"""The exports run on the query service of `tests/query`: the same session server, organization and callers."""

from tests.query.conftest import caller, client, module_db, project, query_settings, query_url

__all__ = ["caller", "client", "module_db", "project", "query_settings", "query_url"]
