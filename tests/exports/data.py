"""One project with rich generated data for the export tests, and reading CSV answers back."""

import csv
import io
import random
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import asyncpg
import httpx

from storage.projects import CreatedProject
from tests.query.event_data import insert_events, insert_persons, random_persons, random_rich_events
from tests.query.reference_sessions import insert_sessions, random_sessions
from tests.query.tenant import Caller, create_owned_project

ZONE = "America/New_York"
CENTER = datetime(2026, 11, 1, 6, 30, tzinfo=UTC)
"""Around New York's switch back to standard time, so offsets differ within the data."""


@dataclass(frozen=True)
class Dataset:
    project: CreatedProject
    zone: ZoneInfo
    date_from: datetime
    date_to: datetime

    @property
    def project_id(self) -> str:
        return str(self.project.project_id)

    def date_range(self) -> dict[str, str]:
        return {"from": self.date_from.isoformat(), "to": self.date_to.isoformat()}


async def create_dataset(connection: asyncpg.Connection, caller: Caller) -> Dataset:
    rng = random.Random(8)
    project = await create_owned_project(connection, caller.organization_id, "exports", ZONE)
    zone = ZoneInfo(ZONE)
    people = random_persons(rng, 120)
    await insert_persons(connection, project.project_id, people)
    await insert_events(connection, project.project_id, random_rich_events(rng, CENTER, 2500, people, zone))
    date_from, date_to = CENTER - timedelta(days=50), CENTER + timedelta(days=50)
    await insert_sessions(connection, project.project_id, random_sessions(rng, CENTER, zone, 300, [CENTER]))
    return Dataset(project, zone, date_from, date_to)


def parse_csv(response: httpx.Response) -> list[dict[str, str]]:
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "text/csv; charset=utf-8"
    assert response.headers["content-disposition"].startswith("attachment; filename=")
    return list(csv.DictReader(io.StringIO(response.text, newline="")))


def text(value: object) -> str:
    """A GraphQL JSON value as the CSV writes it."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return str(value).lower()
    return str(value)
