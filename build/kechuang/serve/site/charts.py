"""The indicator timeline: every target of one indicator by jurisdiction and year, drawn on the server.

The chart is computed here as plain numbers and strings; the template writes the SVG elements, so every
label is escaped like any other text. One point per target, one colour and shape per jurisdiction (so the
chart reads without colour), a band below the axis for targets whose figure the source masks (never
drawn as zero), and the same targets in a table beside it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from kechuang.serve.site.figures import group_digits
from kechuang.text.numerals import format_number

WIDTH, HEIGHT = 560, 340
LEFT, RIGHT, TOP = 76, 20, 28
SHAPES = ("circle", "square", "triangle", "diamond", "triangle-down", "cross")
SERIES_CLASSES = 6


@dataclass
class Tick:
    position: float
    label: str


@dataclass
class Point:
    x: float
    y: float
    target_id: str
    href: str
    label: str  # what a pointer or screen reader announces for the point
    masked: bool
    shape: str
    path: str  # the marker's outline, an SVG path centred on (x, y)
    range_to: float | None = None  # y of value_max for a span such as 1-2


@dataclass
class Series:
    key: str
    name: str
    index: int
    shape: str
    swatch: str  # the marker drawn at (8, 8) for the legend
    points: list[Point] = field(default_factory=list)
    line: str = ""  # polyline points joining the stated targets year by year


@dataclass
class Chart:
    width: int
    height: int
    left: float
    right: float
    top: float
    bottom: float
    masked_y: float | None
    x_ticks: list[Tick]
    y_ticks: list[Tick]
    series: list[Series]
    unit_label: str
    point_count: int


def marker_path(shape: str, x: float, y: float, size: float = 6.0) -> str:
    """An SVG path for a marker of `shape` centred on (x, y)."""
    s = size

    def fmt(v: float) -> str:
        return format_number(round(v, 2))

    if shape == "square":
        s *= 0.9
        return f"M{fmt(x - s)} {fmt(y - s)}h{fmt(2 * s)}v{fmt(2 * s)}h{fmt(-2 * s)}Z"
    if shape == "triangle":
        return f"M{fmt(x)} {fmt(y - s * 1.15)}L{fmt(x + s * 1.1)} {fmt(y + s * 0.85)}H{fmt(x - s * 1.1)}Z"
    if shape == "triangle-down":
        return f"M{fmt(x)} {fmt(y + s * 1.15)}L{fmt(x + s * 1.1)} {fmt(y - s * 0.85)}H{fmt(x - s * 1.1)}Z"
    if shape == "diamond":
        s *= 1.2
        return f"M{fmt(x)} {fmt(y - s)}L{fmt(x + s)} {fmt(y)}L{fmt(x)} {fmt(y + s)}L{fmt(x - s)} {fmt(y)}Z"
    if shape == "cross":
        t = s * 0.4
        return (
            f"M{fmt(x - t)} {fmt(y - s)}h{fmt(2 * t)}v{fmt(s - t)}h{fmt(s - t)}v{fmt(2 * t)}h{fmt(t - s)}"
            f"v{fmt(s - t)}h{fmt(-2 * t)}v{fmt(t - s)}h{fmt(t - s)}v{fmt(-2 * t)}h{fmt(s - t)}Z"
        )
    return f"M{fmt(x - s)} {fmt(y)}a{fmt(s)} {fmt(s)} 0 1 0 {fmt(2 * s)} 0a{fmt(s)} {fmt(s)} 0 1 0 {fmt(-2 * s)} 0Z"


def nice_ticks(maximum: float, count: int = 4) -> list[float]:
    """Round tick values from 0 up to at least `maximum` (1, 2, 2.5 or 5 times a power of ten apart)."""
    if maximum <= 0 or not math.isfinite(maximum):
        return [0.0, 1.0]
    raw = maximum / count
    power = 10 ** math.floor(math.log10(raw))
    step = next(m * power for m in (1, 2, 2.5, 5, 10) if m * power >= raw)
    top = math.ceil(maximum / step - 1e-9) * step
    ticks, value = [], 0.0
    while value <= top + step / 2:
        ticks.append(round(value, 10))
        value += step
    return ticks


def tick_label(value: float, lang: str) -> str:
    return group_digits(value) if lang == "en" else format_number(round(value, 6))


def timeline_chart(rows: list[dict[str, Any]], lang: str, unit_label: str, unit_factor: float) -> Chart:
    """Lay out the targets of one indicator; `rows` carry target_id, series_key, series_name, deadline_year,
    value_base, value_max_base, masked, href and label; values are drawn in units of `unit_factor`."""
    has_masked = any(r["masked"] for r in rows)
    bottom = HEIGHT - (76 if has_masked else 44)
    masked_y = bottom + 50 if has_masked else None
    plot_width = WIDTH - LEFT - RIGHT
    years = [r["deadline_year"] for r in rows] or [0]
    first, last = min(years), max(years)
    slots = last - first + 1

    def x_of(year: int) -> float:
        return LEFT + (year - first + 0.5) * plot_width / slots

    values = [
        v / unit_factor
        for r in rows
        if not r["masked"]
        for v in (r["value_base"], r["value_max_base"])
        if v is not None
    ]
    y_values = nice_ticks(max(values) if values else 0)
    top_value = y_values[-1] or 1.0

    def y_of(value: float) -> float:
        return bottom - (value / top_value) * (bottom - TOP)

    every = max(1, math.ceil(slots / 10))
    x_ticks = [Tick(x_of(year), str(year)) for year in range(first, last + 1) if (year - first) % every == 0]
    y_ticks = [Tick(y_of(v), tick_label(v, lang)) for v in y_values]

    series: dict[str, Series] = {}
    for row in rows:
        key = row["series_key"]
        if key not in series:
            index = len(series)
            shape = SHAPES[index % len(SHAPES)]
            series[key] = Series(key, row["series_name"], index % SERIES_CLASSES, shape, marker_path(shape, 8, 8, 5))
    # targets sharing a year (and band) sit side by side, not on top of each other
    crowd: dict[tuple[int, bool], int] = {}
    for row in rows:
        slot = (row["deadline_year"], row["masked"])
        crowd[slot] = crowd.get(slot, 0) + 1
    seen: dict[tuple[int, bool], int] = {}
    year_of = {row["target_id"]: row["deadline_year"] for row in rows}
    for row in sorted(rows, key=lambda r: (r["deadline_year"], list(series).index(r["series_key"]), r["target_id"])):
        slot = (row["deadline_year"], row["masked"])
        position = seen.get(slot, 0)
        seen[slot] = position + 1
        spread = min(14.0, (plot_width / slots) * 0.7 / max(crowd[slot], 1))
        x = x_of(row["deadline_year"]) + (position - (crowd[slot] - 1) / 2) * spread
        one = series[row["series_key"]]
        if row["masked"]:
            y, range_to = float(masked_y or bottom), None
        else:
            y = y_of(row["value_base"] / unit_factor)
            high = row.get("value_max_base")
            range_to = y_of(high / unit_factor) if high is not None else None
        one.points.append(
            Point(
                x=round(x, 2),
                y=round(y, 2),
                target_id=row["target_id"],
                href=row["href"],
                label=row["label"],
                masked=row["masked"],
                shape=one.shape,
                path=marker_path(one.shape, x, y),
                range_to=round(range_to, 2) if range_to is not None else None,
            )
        )
    for one in series.values():
        # a line only where it means "the same place, year after year": one stated target per year
        stated = sorted((p for p in one.points if not p.masked), key=lambda p: p.x)
        years = [y for y in (year_of[p.target_id] for p in stated)]
        if len(years) > 1 and len(set(years)) == len(years):
            one.line = " ".join(f"{format_number(p.x)},{format_number(p.y)}" for p in stated)
    return Chart(
        width=WIDTH,
        height=HEIGHT,
        left=LEFT,
        right=WIDTH - RIGHT,
        top=TOP,
        bottom=bottom,
        masked_y=masked_y,
        x_ticks=x_ticks,
        y_ticks=y_ticks,
        series=list(series.values()),
        unit_label=unit_label,
        point_count=len(rows),
    )
