"""Rendering alone: any text a project's data holds (markup, emoji, CJK, very long values) and empty sections
make a valid PDF that says what it was given."""

import shutil
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from query.reports.content import Chart, Kpi, Line, Report, Section, Table
from query.reports.render import pdf_filename, render_pdf
from tests.reports.data import pdf_pages, pdf_text

pytestmark = pytest.mark.skipif(shutil.which("pdftotext") is None, reason="needs poppler-utils (make installs it)")


def test_markup_unicode_and_long_values_render_as_text(tmp_path: Path) -> None:
    now = datetime(2026, 12, 1, tzinfo=UTC)
    odd = ["<b>bold?</b> & co", "/日本語/ページ", "launch 🚀", "/" + "very-long-path/" * 20]
    report = Report(
        "Q4 <review> & more", "Shop & Co", "Asia/Tokyo", now - timedelta(days=1), now, now,
        kpis=[Kpi("Events", "1,234", "<i>note</i>")],
        sections=[
            Section("Top pages", Chart("bars", odd, [Line("Events", [4.0, 3.0, 2.0, 1.0])]),
                    [Table(("page", "events"), [(value, str(4 - index)) for index, value in enumerate(odd)])]),
            Section("Nothing here", Chart("time", [], []), [Table(("bucket", "events"), [])], "No data in this range."),
            Section("Many buckets", Chart("time", [f"{hour:02d}:00" for hour in range(300)],
                                          [Line("a", [float(hour % 7) for hour in range(300)]),
                                           Line("b" * 80, [float(hour % 5) for hour in range(300)])]), []),
        ],
    )
    pdf = render_pdf(report)
    text = pdf_text(pdf, tmp_path)
    for expected in ("Q4 <review> & more", "Shop & Co", "<b>bold?</b> & co", "<i>note</i>", "No data in this range.",
                     "(Asia/Tokyo)"):
        assert expected in text, expected
    assert len(pdf_pages(pdf, tmp_path)) >= 1


def test_file_names_are_safe_for_a_header() -> None:
    at = datetime(2026, 12, 1, 8, 30, tzinfo=UTC)
    assert pdf_filename('Weekly "KPIs"\r\nX-Evil: 1', at) == "weekly-kpis-x-evil-1-20261201-0830.pdf"
    assert pdf_filename("日本語", at) == "report-20261201-0830.pdf"
