"""A gathered report as PDF bytes: A4, a title block (project, range and timezone), the KPIs, then per section
its heading, chart and tables; page numbers in the footer.

Rendering is CPU work of a few hundred milliseconds; callers on an event loop run it in a thread.
"""

import io
import re
from datetime import datetime
from xml.sax.saxutils import escape

from reportlab.lib import colors
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.pdfgen.canvas import Canvas
from reportlab.platypus import Flowable, KeepTogether, Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

from query.reports import fonts
from query.reports.charts import drawing
from query.reports.content import Kpi, Report, Section
from query.reports.content import Table as ReportTable

MARGIN = 16 * mm
_INK = colors.HexColor("#212529")
_MUTED = colors.HexColor("#6c757d")
_RULE = colors.HexColor("#dee2e6")
_HEAD = colors.HexColor("#f1f3f5")


def _styles() -> dict[str, ParagraphStyle]:
    fonts.register()
    return {
        "title": ParagraphStyle("title", fontName=fonts.BOLD, fontSize=18, leading=22, textColor=_INK),
        "meta": ParagraphStyle("meta", fontName=fonts.REGULAR, fontSize=9, leading=12, textColor=_MUTED),
        "heading": ParagraphStyle("heading", fontName=fonts.BOLD, fontSize=12, leading=15, textColor=_INK,
                                  spaceBefore=10, spaceAfter=2),
        "note": ParagraphStyle("note", fontName=fonts.REGULAR, fontSize=8, leading=10, textColor=_MUTED,
                               spaceAfter=4),
        "kpi_label": ParagraphStyle("kpi_label", fontName=fonts.REGULAR, fontSize=8, leading=10, textColor=_MUTED),
        "kpi_value": ParagraphStyle("kpi_value", fontName=fonts.BOLD, fontSize=16, leading=19, textColor=_INK),
        "cell": ParagraphStyle("cell", fontName=fonts.REGULAR, fontSize=7.5, leading=9, textColor=_INK),
    }


def render_pdf(report: Report) -> bytes:
    styles = _styles()
    buffer = io.BytesIO()
    document = SimpleDocTemplate(
        buffer, pagesize=A4, leftMargin=MARGIN, rightMargin=MARGIN, topMargin=MARGIN, bottomMargin=MARGIN + 4 * mm,
        title=report.title, author="TrackMint", subject=f"{report.project_name} {report.range_text}",
        creator="TrackMint reports",
    )
    width = document.width
    story: list[Flowable] = [
        Paragraph(escape(report.title), styles["title"]),
        Paragraph(f"{escape(report.project_name)} · {escape(report.range_text)}", styles["meta"]),
        Paragraph(f"Generated {report.generated_at:%Y-%m-%d %H:%M} UTC", styles["meta"]),
        Spacer(1, 8),
    ]
    if report.kpis:
        story += [_kpis(report.kpis, width, styles), Spacer(1, 4)]
    for section in report.sections:
        story += _section(section, width, styles)

    def footer(canvas: Canvas, _document: SimpleDocTemplate) -> None:
        canvas.saveState()
        canvas.setFont(fonts.REGULAR, 7)
        canvas.setFillColor(_MUTED)
        canvas.drawString(MARGIN, MARGIN / 2, f"TrackMint · {report.project_name} · {report.title}"[:120])
        canvas.drawRightString(A4[0] - MARGIN, MARGIN / 2, f"page {canvas.getPageNumber()}")
        canvas.restoreState()

    document.build(story, onFirstPage=footer, onLaterPages=footer)
    return buffer.getvalue()


def _kpis(kpis: list[Kpi], width: float, styles: dict[str, ParagraphStyle]) -> Table:
    cells = [[Paragraph(escape(kpi.label), styles["kpi_label"]), Paragraph(escape(kpi.value), styles["kpi_value"]),
              Paragraph(escape(kpi.note), styles["kpi_label"])] for kpi in kpis]
    table = Table([cells], colWidths=[width / len(kpis)] * len(kpis))
    table.setStyle(TableStyle([
        ("BOX", (0, 0), (-1, -1), 0.5, _RULE),
        ("INNERGRID", (0, 0), (-1, -1), 0.5, _RULE),
        ("VALIGN", (0, 0), (-1, -1), "TOP"),
        ("TOPPADDING", (0, 0), (-1, -1), 6),
        ("BOTTOMPADDING", (0, 0), (-1, -1), 6),
    ]))
    return table


def _section(section: Section, width: float, styles: dict[str, ParagraphStyle]) -> list[Flowable]:
    head: list[Flowable] = [Paragraph(escape(section.title), styles["heading"])]
    if section.note:
        head.append(Paragraph(escape(section.note), styles["note"]))
    if section.chart is not None and section.chart.labels:
        head.append(drawing(section.chart, width))
    tables = [_table(table, width, styles) for table in section.tables if table.rows]
    # The heading and chart stay with the first rows of the first table; long tables then flow on.
    first = tables[:1]
    return [KeepTogether([*head, Spacer(1, 4), *first]), *(flow for table in tables[1:]
                                                            for flow in (Spacer(1, 6), table)), Spacer(1, 6)]


def _table(table: ReportTable, width: float, styles: dict[str, ParagraphStyle]) -> Table:
    columns = len(table.header)
    first = min(width * 0.4, max(width / columns, 110)) if columns > 1 else width
    rest = (width - first) / (columns - 1) if columns > 1 else 0
    data = [[Paragraph(f"<b>{escape(cell)}</b>", styles["cell"]) for cell in table.header]]
    data += [[Paragraph(escape(cell), styles["cell"]) for cell in row] for row in table.rows]
    result = Table(data, colWidths=[first, *([rest] * (columns - 1))], repeatRows=1)
    result.setStyle(TableStyle([
        ("BACKGROUND", (0, 0), (-1, 0), _HEAD),
        ("LINEBELOW", (0, 0), (-1, -1), 0.25, _RULE),
        ("VALIGN", (0, 0), (-1, -1), "MIDDLE"),
        ("TOPPADDING", (0, 0), (-1, -1), 2),
        ("BOTTOMPADDING", (0, 0), (-1, -1), 2),
    ]))
    return result


def pdf_filename(title: str, now: datetime) -> str:
    """A safe attachment name from the title: letters, digits and dashes only (it goes into a header)."""
    slug = re.sub(r"[^A-Za-z0-9]+", "-", title).strip("-").lower()[:60] or "report"
    return f"{slug}-{now:%Y%m%d-%H%M}.pdf"
