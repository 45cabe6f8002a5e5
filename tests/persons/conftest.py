"""The persons tests reuse the query suite's real query service, caller and owned projects."""

from tests.query.conftest import caller, client, module_db, project, query_settings, query_url  # noqa: F401
