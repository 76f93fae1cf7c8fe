"""The dashboard's trend charts laid out in SVG units: the figures come from
``crm.services.dashboard`` (a ``Series`` per region and the nation); this module places them, and
the templates draw what it places."""
import math
from dataclasses import dataclass, field
from datetime import date
from typing import NamedTuple, Optional

from crm.services.dashboard import Series


class Tick(NamedTuple):
    """An axis tick: its position in SVG units and its label."""
    position: float
    label: str


@dataclass
class LineChart:
    """Coordinates for a trend chart in an SVG of ``width`` × ``height`` units."""

    width: int
    height: int
    left: int
    top: int
    right: int
    bottom: int
    polyline: str = ""
    markers: list[tuple[float, float]] = field(default_factory=list)
    target: Optional[tuple[float, float, float, float]] = None
    y_ticks: list[Tick] = field(default_factory=list)
    x_ticks: list[Tick] = field(default_factory=list)
    last: Optional[tuple[float, float, int]] = None
    target_end: Optional[tuple[float, float, int]] = None
    target_label: Optional[tuple[float, float, str]] = None  # x, y, text-anchor of "Mål 66"
    today_x: Optional[float] = None


LABEL_HEADROOM = 26  # above the top grid line: room for an 11-unit label over a point on it


def _nice_step(maximum: int, max_ticks: int) -> int:
    """A round tick step (1, 2, 5, 10, 20, 25, 50…) giving at most ``max_ticks`` intervals."""
    for step in (1, 2, 5, 10, 20, 25, 50, 100, 200, 500):
        if maximum / step <= max_ticks:
            return step
    return 1000


def line_chart(series: Series, on: date, width: int, height: int, month_label,
               max_y_ticks: int = 5) -> Optional[LineChart]:
    """Lay out ``series`` from its first month to the programme end (or ``on``, if later).

    ``month_label(date) -> str`` formats x-axis labels (the view passes a localised formatter).
    Returns None when there is nothing to draw.
    """
    if not series.points or series.target_line is None:
        return None
    chart = LineChart(width, height, left=34, top=LABEL_HEADROOM, right=width - 46, bottom=height - 24)
    start = series.points[0][0].replace(day=1)
    end = max(series.target_line.end, on)
    span = max(1, (end - start).days)
    top_value = max(series.target_line.end_value, max(v for _d, v in series.points), 1)
    step = _nice_step(top_value, max_y_ticks)
    y_max = step * math.ceil(top_value / step)

    first_day, plot_width = start.toordinal(), chart.right - chart.left

    def x(day: date) -> float:
        """A date's horizontal position."""
        return round(chart.left + plot_width * (day.toordinal() - first_day) / span, 1)

    def y(value: float) -> float:
        """A count's vertical position (SVG y grows downwards)."""
        return round(chart.bottom - (chart.bottom - chart.top) * value / y_max, 1)

    # Counts repeat month after month: each height is worked out (and written out) once. The
    # positions of some 120 months a chart are ``x`` written out in the loop (no call per point).
    heights = {value: y(value) for value in {v for _d, v in series.points}}
    height_text = {value: str(height) for value, height in heights.items()}
    left = chart.left
    xs = [round(left + plot_width * (d.toordinal() - first_day) / span, 1) for d, _v in series.points]
    chart.markers = [(px, heights[v]) for px, (_d, v) in zip(xs, series.points)]
    chart.polyline = " ".join([f"{px},{height_text[v]}" for px, (_d, v) in zip(xs, series.points)])
    line = series.target_line
    chart.target = (x(line.start), y(line.start_value), x(line.end), y(line.end_value))
    chart.target_end = (x(line.end), y(line.end_value), line.end_value)
    # Right-aligned to the SVG's edge and above the end point: a longer translation ("Target 66")
    # grows leftwards into the chart instead of past the viewBox, where it would be cut off.
    chart.target_label = (width - 2, round(chart.target_end[1] - 8, 1), "end")
    last_day, last_value = series.points[-1]
    chart.last = (x(last_day), y(last_value), last_value)
    chart.today_x = x(on)
    chart.y_ticks = [Tick(y(v), str(v)) for v in range(0, y_max + 1, step)]
    chart.x_ticks = _x_ticks(start, end, x, month_label, max(2, (chart.right - chart.left) // 70))
    return chart


def _x_ticks(start: date, end: date, x, month_label, max_ticks: int) -> list[Tick]:
    """Ticks on the first day of every 1, 3, 6 or 12 months, whichever keeps them apart (every
    1 January when even 12 months are too close)."""
    months = (end.year - start.year) * 12 + end.month - start.month + 1
    every = next((n for n in (1, 3, 6, 12) if months / n <= max_ticks), 12)
    first, last = start.year * 12 + start.month - 1, end.year * 12 + end.month - 1  # months since year 0
    ticks = []
    for index in range(-(-first // every) * every, last + 1, every):  # the months where (month - 1) % every == 0
        day = date(index // 12, index % 12 + 1, 1)
        if day >= start:
            ticks.append(Tick(x(day), month_label(day)))
    return ticks
