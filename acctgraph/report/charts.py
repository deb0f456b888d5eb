"""Small bar charts as geometry, drawn as inline SVG by the report template (no JavaScript, no requests).

A chart is a :class:`Chart` of plain numbers and labels; the HTML template
turns it into ``<svg>`` elements with autoescaping on (labels never become
markup), and the Markdown template uses its :attr:`Chart.spark` line.

Examples
--------
>>> chart = hour_chart([0] * 6 + [10] * 12 + [0] * 6, title="hour of day")
>>> len(chart.bars), chart.y_max
(24, '10')
>>> chart.spark
'▁▁▁▁▁▁████████████▁▁▁▁▁▁'
>>> import datetime as dt
>>> days = [dt.datetime(2026, 5, d, tzinfo=dt.timezone.utc) for d in (1, 2, 5)]
>>> timeline = time_chart(days, [3, 1, 2], bin="day", title="exchanges per day", unit="exchanges")
>>> [bar.title for bar in timeline.bars]
['2026-05-01: 3 exchanges', '2026-05-02: 1 exchanges', '2026-05-05: 2 exchanges']
>>> timeline.spark  # zero-filled between the first and last bin
'█▃▁▁▆'
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass

WIDTH = 560
HEIGHT = 150
LEFT = 44
RIGHT = 8
TOP = 10
BOTTOM = 22
SPARKS = "▁▂▃▄▅▆▇█"
BIN_SECONDS = {"hour": 3600, "day": 86400, "week": 7 * 86400, "month": 30.44 * 86400}
_BIN_FORMAT = {
    "hour": "%Y-%m-%d %H:00",
    "day": "%Y-%m-%d",
    "week": "week of %Y-%m-%d",
    "month": "%Y-%m",
}
_MAX_SPARK = 120


@dataclass(frozen=True)
class Bar:
    """One bar: position and size in SVG user units, and its tooltip text."""

    x: float
    y: float
    width: float
    height: float
    title: str


@dataclass(frozen=True)
class Tick:
    """A label under the x axis."""

    x: float
    label: str
    anchor: str = "middle"


@dataclass(frozen=True)
class Chart:
    """Geometry of one bar chart (``plot_*`` is the drawing area inside the axes)."""

    title: str
    width: int
    height: int
    plot_left: float
    plot_top: float
    plot_width: float
    plot_height: float
    bars: tuple[Bar, ...]
    ticks: tuple[Tick, ...]
    y_max: str
    spark: str

    @property
    def empty(self) -> bool:
        return not self.bars

    @property
    def baseline(self) -> float:
        return round(self.plot_top + self.plot_height, 1)


def _number(value: float) -> str:
    return f"{value:,.0f}" if float(value).is_integer() else f"{value:,.1f}"


def sparkline(values: Sequence[float]) -> str:
    """One block character per value, scaled to the largest (Markdown's chart).

    Examples
    --------
    >>> sparkline([0, 1, 2, 4])
    '▁▃▅█'
    """
    top = max(values, default=0)
    if top <= 0:
        return SPARKS[0] * len(values)
    return "".join(SPARKS[min(len(SPARKS) - 1, round(v / top * (len(SPARKS) - 1)))] for v in values)


def _chart(
    title: str,
    positions: Sequence[tuple[float, float]],
    values: Sequence[float],
    titles: Sequence[str],
    ticks: Sequence[tuple[float, str, str]],
    spark: str,
) -> Chart:
    """``positions``: (left, width) of each bar as fractions of the plot width."""
    plot_width = WIDTH - LEFT - RIGHT
    plot_height = HEIGHT - TOP - BOTTOM
    top = max(values, default=0)
    bars = []
    for (start, span), value, text in zip(positions, values, titles):
        height = plot_height * value / top if top > 0 else 0.0
        width = max(1.0, plot_width * span - 1.0)
        bars.append(
            Bar(
                x=round(LEFT + plot_width * start, 1),
                y=round(TOP + plot_height - height, 1),
                width=round(width, 1),
                height=round(height, 1),
                title=text,
            )
        )
    return Chart(
        title=title,
        width=WIDTH,
        height=HEIGHT,
        plot_left=LEFT,
        plot_top=TOP,
        plot_width=plot_width,
        plot_height=plot_height,
        bars=tuple(bars),
        ticks=tuple(
            Tick(x=round(LEFT + plot_width * x, 1), label=label, anchor=anchor)
            for x, label, anchor in ticks
        ),
        y_max=_number(top),
        spark=spark,
    )


def hour_chart(counts: Sequence[float], *, title: str, unit: str = "exchanges") -> Chart:
    """24 bars, hour 0 to 23 (UTC)."""
    if len(counts) != 24:
        raise ValueError(f"hour_chart needs 24 values, got {len(counts)}")
    positions = [(h / 24, 1 / 24) for h in range(24)]
    titles = [f"{h:02d}:00–{h:02d}:59 UTC: {_number(v)} {unit}" for h, v in enumerate(counts)]
    ticks = [((h + 0.5) / 24, f"{h:02d}", "middle") for h in (0, 6, 12, 18, 23)]
    return _chart(title, positions, counts, titles, ticks, sparkline(counts))


def _as_datetime(value: dt.datetime | dt.date) -> dt.datetime:
    if isinstance(value, dt.datetime):
        return value if value.tzinfo else value.replace(tzinfo=dt.UTC)
    return dt.datetime(value.year, value.month, value.day, tzinfo=dt.UTC)


def time_chart(
    starts: Sequence[dt.datetime | dt.date],
    values: Sequence[float],
    *,
    bin: str,
    title: str,
    unit: str,
) -> Chart:
    """Bars placed on a time axis (gaps stay empty); ``bin`` is hour, day, week or month.

    ``starts`` are the bins' starts in ascending order (a month counts as
    :data:`BIN_SECONDS` ``["month"]`` seconds). The spark line is zero-filled
    between the first and last bin when that spans at most 120 bins, and has
    one character per bar otherwise.
    """
    if bin not in BIN_SECONDS:
        raise ValueError(f"unknown bin {bin!r}; expected one of {sorted(BIN_SECONDS)}")
    if not starts:
        return _chart(title, [], [], [], [], "")
    times = [_as_datetime(t) for t in starts]
    step = BIN_SECONDS[bin]
    first = times[0]
    total = (times[-1] - first).total_seconds() + step
    positions = [((t - first).total_seconds() / total, step / total) for t in times]
    fmt = _BIN_FORMAT[bin]
    titles = [f"{t.strftime(fmt)}: {_number(v)} {unit}" for t, v in zip(times, values)]
    label_format = (
        "%m-%d %H:00" if bin == "hour" else "%Y-%m-%d" if bin in ("day", "week") else "%Y-%m"
    )
    ticks = [(positions[0][0], times[0].strftime(label_format), "start")]
    if len(times) > 1:
        ticks.append((positions[-1][0] + positions[-1][1], times[-1].strftime(label_format), "end"))
    n_bins = round(total / step)
    if n_bins <= _MAX_SPARK:
        filled = [0.0] * n_bins
        for (start, _), value in zip(positions, values):
            filled[min(n_bins - 1, round(start * n_bins))] += value
        spark = sparkline(filled)
    else:
        spark = sparkline(values)
    return _chart(title, positions, values, titles, ticks, spark)
