"""The indicator timeline: every target of one indicator by jurisdiction and year, drawn on the server.

The chart is computed here as plain numbers and strings; the template writes the SVG elements, so every
label is escaped like any other text. One point per target, grouped by place (one colour a place) and
kind of period (one marker shape a series, so the chart reads without colour), a band below the axis for
targets whose figure the source masks (never drawn as zero), and the same targets in a table beside it.

A line says "the same thing, year after year", so it joins two points only when they are the same metric,
the same place, the same kind of period and the same comparator family (a floor with a floor, never with a
ceiling), the figures are stated, and no other target of the series shares either year; two totals only
when each is one year's total (`kechuang.model.comparability.spans_one_year`), since totals over different
periods are different quantities. Everything else stands alone, named in the legend by place and period.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from kechuang.serve.site.figures import group_digits
from kechuang.text.numerals import format_number

WIDTH, HEIGHT = 560, 340
LEFT, RIGHT, TOP = 76, 20, 28
SHAPES = ("circle", "square", "triangle", "diamond", "triangle-down", "cross")
SERIES_CLASSES = 6
# Each point link has an invisible disc this wide around the marker, so a finger can tap it: the chart is
# WIDTH units drawn about 343 px wide on a 375 px phone, so radius 21 is a target of about 26 px (WCAG 2.5.8
# asks 24).
HIT_RADIUS = 21.0


@dataclass
class Tick:
    position: float
    label: str


@dataclass(frozen=True)
class ChartTarget:
    """One target as the chart needs it: what it measures, where, for which kind of period, and its value."""

    target_id: str
    metric: str  # what is counted, in which base unit: targets of different metrics are never joined
    place: str  # jurisdiction id
    place_name: str
    period_kind: str  # kechuang.model.comparability.PERIOD_KIND of its period
    kind_name: str  # the period kind in the page's language, for the legend
    family: str  # kechuang.model.comparability.COMPARATOR_FAMILY of its comparator
    deadline_year: int
    value_base: float | None
    masked: bool
    href: str
    label: str  # what a pointer or screen reader announces for the point (with the period kind)
    value_max_base: float | None = None
    one_year: bool = False  # stated by a document whose span is one year: a total is that year's figure
    metric_name: str = ""  # named in the legend only when a chart holds several metrics


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
class Line:
    points: str  # SVG polyline points
    target_ids: list[str]  # the targets it joins, left to right


@dataclass
class Series:
    key: tuple[str, str, str]  # (metric, place, period kind)
    name: str
    index: int  # colour class: one a place
    shape: str
    swatch: str  # the marker drawn at (8, 8) for the legend
    period_kind: str
    points: list[Point] = field(default_factory=list)
    lines: list[Line] = field(default_factory=list)  # stretches of the same thing, year by year


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
    hit_radius: float = HIT_RADIUS

    @property
    def has_lines(self) -> bool:
        return any(s.lines for s in self.series)


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


def joinable(a: ChartTarget, b: ChartTarget) -> bool:
    """Whether a line may join two stated targets of one series (same metric, place and period kind):
    the same comparator family, and for totals only one year's total with another."""
    if a.family != b.family or a.deadline_year == b.deadline_year:
        return False
    return a.period_kind != "total" or (a.one_year and b.one_year)


def series_lines(targets: list[ChartTarget], points: dict[str, Point]) -> list[Line]:
    """The lines of one series: consecutive years, one stated target each, joinable, as polylines."""
    by_year: dict[int, list[ChartTarget]] = {}
    for t in targets:
        if not t.masked:
            by_year.setdefault(t.deadline_year, []).append(t)
    runs: list[list[ChartTarget]] = []
    run: list[ChartTarget] = []
    for year in sorted(by_year):
        alone = by_year[year][0] if len(by_year[year]) == 1 else None  # two in one year: which to join is unknown
        if alone and run and joinable(run[-1], alone):
            run.append(alone)
            continue
        runs.append(run)
        run = [alone] if alone else []
    runs.append(run)
    return [
        Line(
            " ".join(f"{format_number(points[t.target_id].x)},{format_number(points[t.target_id].y)}" for t in run),
            [t.target_id for t in run],
        )
        for run in runs
        if len(run) > 1
    ]


def timeline_chart(rows: list[ChartTarget], lang: str, unit_label: str, unit_factor: float) -> Chart:
    """Lay out the targets of one indicator; values are drawn in units of `unit_factor`."""
    has_masked = any(r.masked for r in rows)
    bottom = HEIGHT - (76 if has_masked else 44)
    masked_y = bottom + 50 if has_masked else None
    plot_width = WIDTH - LEFT - RIGHT
    years = [r.deadline_year for r in rows] or [0]
    first, last = min(years), max(years)
    slots = last - first + 1

    def x_of(year: int) -> float:
        return LEFT + (year - first + 0.5) * plot_width / slots

    values = [v / unit_factor for r in rows if not r.masked for v in (r.value_base, r.value_max_base) if v is not None]
    y_values = nice_ticks(max(values) if values else 0)
    top_value = y_values[-1] or 1.0

    def y_of(value: float) -> float:
        return bottom - (value / top_value) * (bottom - TOP)

    every = max(1, math.ceil(slots / 10))
    x_ticks = [Tick(x_of(year), str(year)) for year in range(first, last + 1) if (year - first) % every == 0]
    y_ticks = [Tick(y_of(v), tick_label(v, lang)) for v in y_values]

    # series grouped by place (in order of first appearance), then by metric and kind of period as they come
    places = list(dict.fromkeys(r.place for r in rows))
    keys = sorted(dict.fromkeys((r.metric, r.place, r.period_kind) for r in rows), key=lambda k: places.index(k[1]))
    metrics = {k[0] for k in keys}
    first_of = {k: next(r for r in rows if (r.metric, r.place, r.period_kind) == k) for k in keys}
    series: dict[tuple[str, str, str], Series] = {}
    for number, key in enumerate(keys):
        row = first_of[key]
        shape = SHAPES[number % len(SHAPES)]
        parts = [row.metric_name] if len(metrics) > 1 and row.metric_name else []
        series[key] = Series(
            key=key,
            name=" · ".join([*parts, row.place_name, row.kind_name]),
            index=places.index(row.place) % SERIES_CLASSES,
            shape=shape,
            swatch=marker_path(shape, 8, 8, 5),
            period_kind=row.period_kind,
        )
    # targets sharing a year (and band) sit side by side, not on top of each other
    crowd: dict[tuple[int, bool], int] = {}
    for row in rows:
        slot = (row.deadline_year, row.masked)
        crowd[slot] = crowd.get(slot, 0) + 1
    seen: dict[tuple[int, bool], int] = {}
    placed: dict[str, Point] = {}
    for row in sorted(
        rows, key=lambda r: (r.deadline_year, keys.index((r.metric, r.place, r.period_kind)), r.target_id)
    ):
        slot = (row.deadline_year, row.masked)
        position = seen.get(slot, 0)
        seen[slot] = position + 1
        spread = min(14.0, (plot_width / slots) * 0.7 / max(crowd[slot], 1))
        x = x_of(row.deadline_year) + (position - (crowd[slot] - 1) / 2) * spread
        one = series[(row.metric, row.place, row.period_kind)]
        if row.masked or row.value_base is None:
            y, range_to = float(masked_y or bottom), None
        else:
            y = y_of(row.value_base / unit_factor)
            range_to = y_of(row.value_max_base / unit_factor) if row.value_max_base is not None else None
        point = Point(
            x=round(x, 2),
            y=round(y, 2),
            target_id=row.target_id,
            href=row.href,
            label=row.label,
            masked=row.masked,
            shape=one.shape,
            path=marker_path(one.shape, x, y),
            range_to=round(range_to, 2) if range_to is not None else None,
        )
        one.points.append(point)
        placed[row.target_id] = point
    for key, one in series.items():
        one.lines = series_lines([r for r in rows if (r.metric, r.place, r.period_kind) == key], placed)
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
