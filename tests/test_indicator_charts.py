"""Honest indicator charts (issue 14, item 4): a line joins only the same thing, year after year.

The rules on constructed targets (`kechuang.serve.site.charts`), then every indicator page of the real
data and of the test sample, checked against the database: each drawn line joins targets of one
indicator, one place, one kind of period and one comparator family, stated, in distinct years (two
totals only when each document spans one year); every point's text alternative names its kind of
period; the table beside the chart gives each target's document, period, comparator and figure as
written.
"""

from __future__ import annotations

import sqlite3
from html.parser import HTMLParser
from itertools import pairwise
from pathlib import Path

import pytest
import yaml

from conftest import ROOT, InProcessPortal
from kechuang.model.comparability import COMPARATOR_FAMILY, PERIOD_KIND, spans_one_year
from kechuang.serve.site.charts import ChartTarget, timeline_chart

KIND_NAMES = {
    lang: yaml.safe_load((ROOT / "site" / "i18n" / f"{lang}.yaml").read_text(encoding="utf-8"))["moves"]["period_kind"]
    for lang in ("zh", "en")
}


def target(target_id, year, value, *, metric="fund-a:CNY", place="wuhan", kind="level", family="floor", **more):
    return ChartTarget(
        target_id=target_id,
        metric=metric,
        metric_name=metric.split(":")[0],
        place=place,
        place_name=place.title(),
        period_kind=kind,
        kind_name=kind,
        family=family,
        deadline_year=year,
        value_base=value,
        masked=value is None,
        href=f"/targets/{target_id}",
        label=target_id,
        **more,
    )


def joined(rows: list[ChartTarget]) -> list[list[str]]:
    chart = timeline_chart(rows, "en", "yuan", 1.0)
    return [line.target_ids for s in chart.series for line in s.lines]


# --- the rules, on constructed targets ----------------------------------------------------------------


def test_the_same_place_kind_and_metric_are_joined_year_by_year_through_the_points():
    rows = [
        target("w26", 2026, 30.0),
        target("w23", 2023, 10.0),
        target("w23-masked", 2023, None),  # masked: in the band below the axis, never on a line
        target("w25", 2025, 20.0),
        target("h23", 2023, 12.0, place="huangshi"),
        target("h30", 2030, 40.0, place="huangshi"),
    ]
    chart = timeline_chart(rows, "en", "yuan", 1.0)
    by_place = {s.key[1]: s for s in chart.series}
    assert [line.target_ids for line in by_place["wuhan"].lines] == [["w23", "w25", "w26"]]
    assert [line.target_ids for line in by_place["huangshi"].lines] == [["h23", "h30"]]
    points = {p.target_id: p for s in chart.series for p in s.points}
    for s in chart.series:  # the polyline passes through the markers of the targets it names, left to right
        for line in s.lines:
            vertices = [tuple(float(c) for c in v.split(",")) for v in line.points.split()]
            assert vertices == [(points[t].x, points[t].y) for t in line.target_ids]
            assert all(a[0] < b[0] for a, b in pairwise(vertices))
    assert by_place["wuhan"].index != by_place["huangshi"].index  # one colour a place


def test_two_funds_are_never_joined():
    rows = [target("a", 2023, 30e8, metric="fund-a:CNY"), target("b", 2025, 100e8, metric="fund-b:CNY")]
    chart = timeline_chart(rows, "en", "yuan", 1.0)
    assert joined(rows) == []
    assert len(chart.series) == 2 and {s.name for s in chart.series} == {
        "fund-a · Wuhan · level",
        "fund-b · Wuhan · level",
    }
    assert joined([*rows, target("c", 2026, 300e8, metric="fund-c:CNY")]) == []


@pytest.mark.parametrize("one_year", [False, True])
def test_annual_and_cumulative_are_never_joined(one_year):
    rows = [
        target("total", 2023, 30e4, kind="total", one_year=one_year),
        target("yearly", 2026, 30e4, kind="per_year", one_year=one_year),
    ]
    chart = timeline_chart(rows, "en", "persons", 1.0)
    assert joined(rows) == []
    assert [s.name for s in chart.series] == ["Wuhan · total", "Wuhan · per_year"]


def test_totals_are_joined_only_when_each_is_one_years_total():
    multi_year = [target("t25", 2025, 100.0, kind="total"), target("t30", 2030, 150.0, kind="total")]
    assert joined(multi_year) == []  # totals over different periods are different quantities
    one_year = [target(t.target_id, t.deadline_year, t.value_base, kind="total", one_year=True) for t in multi_year]
    assert joined(one_year) == [["t25", "t30"]]
    mixed = [multi_year[0], one_year[1]]
    assert joined(mixed) == []


def test_a_floor_and_a_ceiling_or_two_targets_in_one_year_break_the_line():
    assert joined([target("floor", 2023, 10.0), target("ceiling", 2025, 5.0, family="ceiling")]) == []
    rows = [target("a", 2023, 1.0), target("b1", 2025, 2.0), target("b2", 2025, 3.0), target("c", 2026, 4.0)]
    assert joined(rows) == []  # which of 2025's two the line would pass through is unknown
    assert joined([*rows, target("d", 2027, 5.0)]) == [["c", "d"]]


# --- every indicator page, checked against the database ------------------------------------------------


class ChartReader(HTMLParser):
    """The chart's series (points, lines, labels) and the table's rows, from a rendered indicator page."""

    def __init__(self) -> None:
        super().__init__()
        self.series: list[dict[str, list]] = []
        self.labels: dict[str, str] = {}
        self.rows: list[list[dict]] = []  # table cells: their text and links
        self._in_svg = self._in_table = False
        self._label = ""
        self._cell: dict | None = None

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "svg" and "chart" in (a.get("class") or "").split():
            self._in_svg = True
        elif self._in_svg and tag == "g" and "series" in (a.get("class") or "").split():
            self.series.append({"points": [], "lines": []})
        elif self._in_svg and tag == "polyline":
            self.series[-1]["lines"].append((a["data-targets"].split(), a["points"].split()))
        elif self._in_svg and tag == "a":
            self._label = a.get("aria-label") or ""
        elif self._in_svg and tag == "path" and "data-target" in a:
            self.series[-1]["points"].append(a["data-target"])
            self.labels[a["data-target"]] = self._label
        elif tag == "table" and "data-table" in (a.get("class") or ""):
            self._in_table = True
        elif self._in_table and tag == "tr":
            self.rows.append([])
        elif self._in_table and tag in ("td", "th") and self.rows:
            self._cell = {"text": "", "links": [], "lang": []}
            self.rows[-1].append(self._cell)
        elif self._cell is not None and tag == "a":
            self._cell["links"].append(a["href"])
        elif self._cell is not None and a.get("lang"):
            self._cell["lang"].append(a["lang"])

    def handle_endtag(self, tag):
        if tag == "svg":
            self._in_svg = False
        elif tag == "table":
            self._in_table = False
        elif tag in ("td", "th"):
            self._cell = None

    def handle_data(self, data):
        if self._cell is not None:
            self._cell["text"] += data


def read_page(portal: InProcessPortal, path: str) -> ChartReader:
    response = portal.get(path)
    assert response.status_code == 200, path
    reader = ChartReader()
    reader.feed(response.text)
    return reader


def facts(db: Path) -> tuple[dict[str, dict], list[str]]:
    """Every target with its place and whether its document spans one year; the indicators with targets."""
    conn = sqlite3.connect(db)
    conn.row_factory = sqlite3.Row
    one_year = {p["id"]: spans_one_year(dict(p)) for p in conn.execute("select * from policies")}
    targets = {
        r["id"]: {**dict(r), "one_year": one_year[r["policy_id"]]}
        for r in conn.execute("select t.*, p.jurisdiction_id from targets t join policies p on p.id = t.policy_id")
    }
    indicators = [
        r[0] for r in conn.execute("select distinct indicator_id from targets where indicator_id is not null")
    ]
    conn.close()
    return targets, sorted(indicators)


def misleading_joins(reader: ChartReader, targets: dict[str, dict]) -> list[str]:
    """Why each drawn line (if any) joins what is not one series; empty when every line is honest."""
    problems = []
    for series in reader.series:
        for ids, vertices in series["lines"]:
            if len(ids) != len(vertices) or len(ids) < 2 or not set(ids) <= set(series["points"]):
                problems.append(f"{ids}: a line's targets are not the points of its series")
            for a, b in pairwise(targets[i] for i in ids):
                kind = PERIOD_KIND[a["period"]]
                checks = {
                    "metric": a["indicator_id"] == b["indicator_id"] and a["base_unit"] == b["base_unit"],
                    "place": a["jurisdiction_id"] == b["jurisdiction_id"],
                    "period kind": kind == PERIOD_KIND[b["period"]],
                    "comparator": COMPARATOR_FAMILY[a["comparator"]] == COMPARATOR_FAMILY[b["comparator"]],
                    "stated": a["status"] == b["status"] == "stated",
                    "years in order": a["deadline_year"] < b["deadline_year"],
                    "totals of one year": kind != "total" or (a["one_year"] and b["one_year"]),
                    "commitments": not a["restates_target_id"] and not b["restates_target_id"],
                }
                problems += [f"{a['id']} – {b['id']}: {what}" for what, ok in checks.items() if not ok]
    return problems


def check_every_indicator_page(portal: InProcessPortal, db: Path, lang: str) -> int:
    targets, indicators = facts(db)
    lines = 0
    for indicator in indicators:
        reader = read_page(portal, f"/indicators/{indicator}?lang={lang}")
        assert misleading_joins(reader, targets) == [], indicator
        lines += sum(len(s["lines"]) for s in reader.series)
        for target_id, label in reader.labels.items():  # the text alternative names the kind of period
            assert KIND_NAMES[lang][PERIOD_KIND[targets[target_id]["period"]]] in label, target_id
        points = [p for s in reader.series for p in s["points"]]
        assert len(reader.rows) == len(points) + 1  # the header, then one row a point
    return lines


def test_no_line_on_a_real_indicator_page_joins_different_things(portal: InProcessPortal, built_db: Path):
    lines = check_every_indicator_page(portal, built_db, "en")
    assert lines > 0  # the real data has series worth a line (e.g. Wuhan's technology contract turnover)


def test_no_line_on_a_sample_indicator_page_joins_different_things(sample_portal: InProcessPortal, sample_db: Path):
    check_every_indicator_page(sample_portal, sample_db, "zh")


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_the_table_gives_document_year_period_comparator_and_figure_as_written(
    portal: InProcessPortal, built_db: Path, lang
):
    conn = sqlite3.connect(built_db)
    conn.row_factory = sqlite3.Row
    # the indicator with the most commitments among those with a masked figure
    (indicator,) = conn.execute(
        """select indicator_id from targets where indicator_id is not null and restates_target_id is null
           group by 1 having sum(status = 'redacted') > 0 order by count(*) desc, 1 limit 1"""
    ).fetchone()
    rows = conn.execute(
        """select t.*, j.name_zh as place_zh, j.name_en as place_en from targets t join policies p on p.id = t.policy_id
           join jurisdictions j on j.id = p.jurisdiction_id
           where t.indicator_id = ? and t.restates_target_id is null""",
        (indicator,),
    ).fetchall()
    conn.close()
    strings = yaml.safe_load((ROOT / "site" / "i18n" / f"{lang}.yaml").read_text(encoding="utf-8"))
    reader = read_page(portal, f"/indicators/{indicator}?lang={lang}")
    header, *body = reader.rows
    assert [c["text"].strip() for c in header[:5]] == [
        strings["target"]["jurisdiction"],
        strings["target"]["year"],
        strings["chart"]["period_kind"],
        strings["chart"]["comparator"],
        strings["chart"]["as_written"],
    ]
    by_target = {next(link for c in row for link in c["links"] if link.startswith("/targets/")): row for row in body}
    assert len(by_target) == len(rows)
    for t in rows:
        place, year, period, comparator, figure, _what, document = by_target[f"/targets/{t['id']}"]
        assert place["text"].strip() == t[f"place_{lang}"] and year["text"].strip() == str(t["deadline_year"])
        assert period["text"].strip().startswith(strings["moves"]["period_kind"][PERIOD_KIND[t["period"]]])
        assert comparator["text"].strip() == strings["comparator"][t["comparator"]]
        assert t["figure_zh"] in figure["text"] and "zh-Hans" in figure["lang"]  # verbatim, as the source prints it
        assert (strings["target"]["masked"] in figure["text"]) == (t["status"] == "redacted")
        assert document["links"] == [f"/policies/{t['policy_id']}#t-{t['id']}"]
