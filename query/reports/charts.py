"""A report section's chart as a reportlab drawing: a line (or column) chart over time, horizontal bars for
top lists, columns for funnel steps and retention; axes with labels, and a legend when there are several lines.
"""

import math

from reportlab.graphics.charts.barcharts import HorizontalBarChart, VerticalBarChart
from reportlab.graphics.charts.legends import Legend
from reportlab.graphics.charts.linecharts import HorizontalLineChart
from reportlab.graphics.shapes import Drawing, String
from reportlab.lib import colors

from query.reports import fonts
from query.reports.content import Chart

PALETTE = ("#2f6fed", "#e8590c", "#2b8a3e", "#ae3ec9", "#e03131", "#1098ad", "#f08c00", "#5c7cfa", "#868e96",
           "#a61e4d", "#0b7285")
"""Line colours in order; the first is every single-line chart's (tests look for its pixels)."""

MAX_AXIS_LABELS = 12
"""Time labels written under an axis; the others are left blank so labels never overlap."""

MAX_BAR_LABEL = 40
_FONT = fonts.REGULAR
_GRID = colors.HexColor("#e9ecef")
_TEXT = colors.HexColor("#495057")


def colour(index: int) -> colors.Color:
    return colors.HexColor(PALETTE[index % len(PALETTE)])


def drawing(chart: Chart, width: float) -> Drawing:
    fonts.register()
    if chart.kind == "bars":
        return _bars(chart, width)
    if chart.kind == "columns" or (chart.kind == "time" and len(chart.lines) == 1 and len(chart.labels) <= 31):
        return _columns(chart, width)
    return _lines(chart, width)


def _value_axis(axis: object, values: list[float], percent: bool) -> None:
    top = max([0.0, *values])
    axis.valueMin = 0  # type: ignore[attr-defined]
    if percent:
        axis.valueMax = 1  # type: ignore[attr-defined]
        axis.valueStep = 0.25  # type: ignore[attr-defined]
        axis.labelTextFormat = lambda value: f"{value * 100:.0f}%"  # type: ignore[attr-defined]
    else:
        axis.valueMax = _nice_top(top)  # type: ignore[attr-defined]
        axis.valueStep = axis.valueMax / 4  # type: ignore[attr-defined]
        axis.labelTextFormat = _axis_number  # type: ignore[attr-defined]
    axis.labels.fontName = _FONT  # type: ignore[attr-defined]
    axis.labels.fontSize = 7  # type: ignore[attr-defined]
    axis.labels.fillColor = _TEXT  # type: ignore[attr-defined]
    axis.visibleGrid = True  # type: ignore[attr-defined]
    axis.gridStrokeColor = _GRID  # type: ignore[attr-defined]
    axis.strokeColor = _GRID  # type: ignore[attr-defined]


def _nice_top(top: float) -> float:
    """The top of a value axis with four grid steps of 1, 2, 2.5 or 5 times a power of ten, at or above `top`.
    Counts (whole numbers) never get a fractional step."""
    if top <= 0:
        return 4.0
    step = top / 4
    scale = 10.0 ** math.floor(math.log10(step))
    for factor in (1, 2, 2.5, 5, 10):
        nice = scale * factor
        if nice >= step and (not float(top).is_integer() or float(nice).is_integer()):
            return 4 * nice
    return 40 * scale


def _axis_number(value: float) -> str:
    if abs(value) >= 1_000_000:
        return f"{value / 1_000_000:g}M"
    if abs(value) >= 10_000:
        return f"{value / 1000:g}k"
    return f"{value:g}"


def _sparse(labels: list[str]) -> list[str]:
    step = max(1, -(-len(labels) // MAX_AXIS_LABELS))
    return [label if index % step == 0 else "" for index, label in enumerate(labels)]


def _category_axis(axis: object, labels: list[str], angle: int = 0) -> None:
    axis.categoryNames = labels  # type: ignore[attr-defined]
    # A tick per bucket is a comb past a few dozen; the labels alone place the time.
    axis.visibleTicks = len(labels) <= MAX_AXIS_LABELS * 3  # type: ignore[attr-defined]
    axis.labels.fontName = _FONT  # type: ignore[attr-defined]
    axis.labels.fontSize = 7  # type: ignore[attr-defined]
    axis.labels.fillColor = _TEXT  # type: ignore[attr-defined]
    axis.strokeColor = colors.HexColor("#adb5bd")  # type: ignore[attr-defined]
    if angle:
        axis.labels.angle = angle  # type: ignore[attr-defined]
        axis.labels.boxAnchor = "ne"  # type: ignore[attr-defined]
        axis.labels.dx = 2  # type: ignore[attr-defined]


def _legend(chart: Chart, drawing_: Drawing, x: float, y: float, width: float) -> None:
    """One row of swatches above the plot (wrapping onto more rows when they do not fit)."""
    if len(chart.lines) < 2:
        return
    legend = Legend()
    legend.x, legend.y = x, y
    legend.alignment = "right"
    legend.fontName = _FONT
    legend.fontSize = 7
    legend.dx = legend.dy = 6
    legend.dxTextSpace = 4
    names = [line.name[:40] for line in chart.lines]
    legend.deltax = max(60, 12 + 4.2 * max(len(name) for name in names))
    per_row = max(1, int(width // legend.deltax))
    # Legend fills columns top to bottom: `columnMaximum` rows per column.
    legend.columnMaximum = -(-len(names) // per_row)
    legend.deltay = 10
    legend.colorNamePairs = [(colour(index), name) for index, name in enumerate(names)]
    drawing_.add(legend)


def _legend_height(chart: Chart, width: float) -> float:
    if len(chart.lines) < 2:
        return 0
    longest = max(len(line.name[:40]) for line in chart.lines)
    per_row = max(1, int(width // max(60, 12 + 4.2 * longest)))
    return 10 * -(-len(chart.lines) // per_row) + 6


def _lines(chart: Chart, width: float) -> Drawing:
    legend = _legend_height(chart, width - 54)
    height = 190 + legend
    result = Drawing(width, height)
    plot = HorizontalLineChart()
    plot.x, plot.y = 42, 44
    plot.width, plot.height = width - 54, height - 56 - legend
    plot.data = [line.values for line in chart.lines] or [[0.0]]
    plot.joinedLines = True
    for index in range(len(plot.data)):
        plot.lines[index].strokeColor = colour(index)
        plot.lines[index].strokeWidth = 1.8
    _category_axis(plot.categoryAxis, _sparse(chart.labels), angle=30)
    _value_axis(plot.valueAxis, [value for line in chart.lines for value in line.values], chart.percent)
    result.add(plot)
    _legend(chart, result, 42, height - 4, width - 54)
    return result


def _columns(chart: Chart, width: float) -> Drawing:
    legend = _legend_height(chart, width - 54)
    many = len(chart.labels) > 8
    bottom = 44 if many else 22  # room for slanted labels only when there are many
    height = 168 + bottom + legend
    result = Drawing(width, height)
    plot = VerticalBarChart()
    plot.x, plot.y = 42, bottom
    plot.width, plot.height = width - 54, height - bottom - 18 - legend
    plot.data = [line.values for line in chart.lines] or [[0.0]]
    plot.barSpacing = 1
    plot.groupSpacing = 4
    for index in range(len(plot.data)):
        plot.bars[index].fillColor = colour(index)
        plot.bars[index].strokeColor = None
    _category_axis(plot.categoryAxis, _sparse([label[:24] for label in chart.labels]), angle=30 if many else 0)
    _value_axis(plot.valueAxis, [value for line in chart.lines for value in line.values], chart.percent)
    if not many:
        plot.barLabelFormat = (lambda value: f"{value * 100:.1f}%") if chart.percent else _axis_number
        plot.barLabels.fontName = _FONT
        plot.barLabels.fontSize = 7
        plot.barLabels.nudge = 6
    result.add(plot)
    _legend(chart, result, 42, height - 4, width - 54)
    return result


def _bars(chart: Chart, width: float) -> Drawing:
    count = max(1, len(chart.labels))
    height = 24 + 16 * count
    result = Drawing(width, height)
    plot = HorizontalBarChart()
    label_width = min(170, width * 0.35)
    plot.x, plot.y = label_width, 16
    plot.width, plot.height = width - label_width - 30, height - 22
    # Top of the list first: the category axis draws its first entry at the bottom.
    plot.data = [list(reversed(line.values)) for line in chart.lines] or [[0.0]]
    plot.bars[0].fillColor = colour(0)
    plot.bars[0].strokeColor = None
    plot.barSpacing = 2
    names = [_clip(label) for label in reversed(chart.labels)]
    _category_axis(plot.categoryAxis, names)
    plot.categoryAxis.labels.boxAnchor = "e"
    plot.categoryAxis.labels.dx = -4
    _value_axis(plot.valueAxis, [value for line in chart.lines for value in line.values], chart.percent)
    plot.barLabelFormat = _axis_number
    plot.barLabels.fontName = _FONT
    plot.barLabels.fontSize = 7
    plot.barLabels.boxAnchor = "w"
    plot.barLabels.dx = 3
    result.add(plot)
    if not chart.labels:
        result.add(String(width / 2, height / 2, "no data", fontName=_FONT, fontSize=8, textAnchor="middle"))
    return result


def _clip(label: str) -> str:
    return label if len(label) <= MAX_BAR_LABEL else label[: MAX_BAR_LABEL - 1] + "\N{HORIZONTAL ELLIPSIS}"
