"""One project of generated data for the report tests, and reading a PDF back: its text (`pdftotext`) and
its pages as images (`pdftoppm`), as a person would see them."""

import random
import subprocess
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import asyncpg
from PIL import Image

from storage.projects import CreatedProject
from tests.query.event_data import GeneratedEvent, insert_events, insert_persons, random_persons
from tests.query.reference_sessions import insert_sessions, random_sessions
from tests.query.tenant import Caller, create_owned_project

ZONE = "Europe/Berlin"
DATE_FROM = datetime(2026, 10, 22, tzinfo=ZoneInfo(ZONE))
DATE_TO = datetime(2026, 10, 29, tzinfo=ZoneInfo(ZONE))
"""A week across Berlin's switch back to standard time (Oct 25), so one day has 25 hours."""

PAGES = ("/", "/pricing", "/docs", "/blog", "/signup")
REFERRERS = ("google.com", "news.ycombinator.com", "twitter.com", None)
COUNTRIES = ("DE", "US", "FR", "GB", None)
BROWSERS = ("Chrome", "Firefox", "Safari")
EVENTS = ("$pageview", "signup", "purchase")


@dataclass(frozen=True)
class Dataset:
    project: CreatedProject
    zone: ZoneInfo

    @property
    def project_id(self) -> str:
        return str(self.project.project_id)

    @staticmethod
    def date_range() -> dict[str, str]:
        return {"from": DATE_FROM.isoformat(), "to": DATE_TO.isoformat()}


async def create_dataset(connection: asyncpg.Connection, caller: Caller, count: int = 1500) -> Dataset:
    rng = random.Random(16)
    project = await create_owned_project(connection, caller.organization_id, "reports", ZONE)
    zone = ZoneInfo(ZONE)
    people = random_persons(rng, 80)
    distinct_ids = [distinct_id for person in people for distinct_id in person.distinct_ids]
    await insert_persons(connection, project.project_id, people)
    span = (DATE_TO - DATE_FROM).total_seconds()
    events = []
    for index in range(count):
        # A few outside the range, which the report must leave out.
        event_time = DATE_FROM + timedelta(seconds=rng.uniform(-0.05 * span, 1.05 * span))
        name = rng.choices(EVENTS, weights=(6, 2, 1))[0]
        events.append(GeneratedEvent(
            event_time=event_time.astimezone(UTC), message_id=f"report{index:06d}", event=name,
            properties={"amount": rng.randint(1, 200)}, distinct_id=rng.choice(distinct_ids),
            browser=rng.choice(BROWSERS), page_path=rng.choice(PAGES) if name == "$pageview" else None,
            referrer_domain=rng.choice(REFERRERS), country=rng.choice(COUNTRIES),
        ))
    await insert_events(connection, project.project_id, events)
    middle = DATE_FROM + (DATE_TO - DATE_FROM) / 2
    await insert_sessions(connection, project.project_id,
                          random_sessions(rng, middle.astimezone(UTC), zone, 200, [DATE_FROM, DATE_TO]))
    return Dataset(project, zone)


def pdf_text(pdf: bytes, folder: Path) -> str:
    """The PDF's text, laid out as on the page."""
    path = folder / "report.pdf"
    path.write_bytes(pdf)
    return subprocess.run(["pdftotext", "-layout", str(path), "-"], check=True, capture_output=True,
                          text=True, timeout=60).stdout


def text_lines(text: str) -> set[str]:
    """Every line of `pdftotext -layout` output with its runs of spaces squeezed to one."""
    return {" ".join(line.split()) for line in text.splitlines() if line.strip()}


def pdf_pages(pdf: bytes, folder: Path, resolution: int = 60) -> list[Image.Image]:
    """The PDF's pages as PNG images (`pdftoppm -png -r 60`), in order."""
    path = folder / "report.pdf"
    path.write_bytes(pdf)
    subprocess.run(["pdftoppm", "-png", "-r", str(resolution), str(path), str(folder / "page")], check=True,
                   capture_output=True, timeout=60)
    return [Image.open(page).convert("RGB") for page in sorted(folder.glob("page-*.png"))]


def colour_bands(page: Image.Image, colour: str, tolerance: int = 40, gap: int = 12) -> list[tuple[int, int]]:
    """The vertical extents (top, bottom rows) of the page's regions painted in `colour`: one band per chart,
    since charts are stacked and separated by text."""
    target = tuple(int(colour[index:index + 2], 16) for index in (1, 3, 5))
    width, height = page.size
    pixels = page.load()
    rows = [y for y in range(height) if sum(
        1 for x in range(width) if all(abs(pixels[x, y][c] - target[c]) <= tolerance for c in range(3))) >= 2]
    bands: list[tuple[int, int]] = []
    for y in rows:
        if bands and y - bands[-1][1] <= gap:
            bands[-1] = (bands[-1][0], y)
        else:
            bands.append((y, y))
    # Legend swatches are a few pixels tall; a chart's bars or lines span more.
    return [band for band in bands if band[1] - band[0] >= 6]
