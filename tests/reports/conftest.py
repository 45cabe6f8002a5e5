"""The report tests run on the query service of `tests/query` (the same session server, organization and
callers), over one project of generated data (`data.py`). The schedule tests add the alerting fixtures (a
real SMTP server, a movable clock, alerting replicas) and a query server of their own that mails through a
module-wide SMTP server (for `sendReportNow`)."""

from collections.abc import AsyncIterator, Iterator

import asyncpg
import httpx
import pytest
from aiosmtpd.controller import Controller

from config import Settings
from tests.alerting.conftest import SmtpSink, _free_port, alert_settings, clock, smtp, start_replica
from tests.query.conftest import caller, client, module_db, project, query_settings, query_url
from tests.query.servers import start_server, stop_server
from tests.query.tenant import Caller
from tests.reports.data import Dataset, create_dataset

__all__ = ["alert_settings", "caller", "client", "clock", "module_db", "project", "query_settings", "query_url",
           "smtp", "start_replica"]


@pytest.fixture(scope="session")
async def dataset(database_url: str, caller: Caller) -> Dataset:
    """Once per session: its persons' ids are fixed (a seeded generator), so a second copy would collide."""
    connection = await asyncpg.connect(database_url)
    try:
        return await create_dataset(connection, caller)
    finally:
        await connection.close()


@pytest.fixture(scope="module")
def module_smtp() -> Iterator[SmtpSink]:
    sink = SmtpSink("127.0.0.1", _free_port())
    controller = Controller(sink, hostname=sink.host, port=sink.port)
    controller.start()
    try:
        yield sink
    finally:
        controller.stop()


@pytest.fixture(scope="module")
async def mailing_client(query_settings: Settings, module_smtp: SmtpSink, caller: Caller
                         ) -> AsyncIterator[httpx.AsyncClient]:
    """A client (as `caller`) of a query server whose `sendReportNow` mails to `module_smtp`."""
    settings = query_settings.model_copy(update={"smtp_host": module_smtp.host, "smtp_port": module_smtp.port,
                                                 "smtp_tls": "none", "alerting_delivery_timeout_seconds": 2.0})
    server, task, url = await start_server(settings)
    try:
        async with httpx.AsyncClient(base_url=url, timeout=60, headers=caller.headers) as http:
            yield http
    finally:
        await stop_server(server, task)
