"""How each promise moved (issue 15): the build's `indicator_steps`, the API and the indicator pages.

The steps are computed from the real data; these tests pin the rules on series the curation fixes
(Wuhan's technology contract turnover: a masked goal, 1450 亿元 in 2023, 3000 by 2026, 2700 by 2025).
A step is a move between documents; a one-year document's total is that year's figure.
"""

from __future__ import annotations

import re
import sqlite3
from pathlib import Path

import pytest

from conftest import InProcessPortal
from kechuang.compile.steps import Commitment, compare

TURNOVER = "technology-contract-turnover"


@pytest.fixture(scope="module")
def conn(built_db: Path):
    connection = sqlite3.connect(built_db)
    connection.row_factory = sqlite3.Row
    yield connection
    connection.close()


def steps_of(conn: sqlite3.Connection, indicator: str, place: str) -> list[sqlite3.Row]:
    return conn.execute(
        "select * from indicator_steps where indicator_id = ? and jurisdiction_id = ? order by sequence",
        (indicator, place),
    ).fetchall()


def test_every_commitment_is_one_step_and_restatements_are_none(conn):
    """Except a masked goal that may be the same as a stated commitment of its series: that is on the card."""
    commitments = {
        r[0]
        for r in conn.execute("select id from targets where indicator_id is not null and restates_target_id is null")
    }
    on_card = {
        r[0]
        for r in conn.execute(
            """select t.id from targets t join targets s on s.id = t.possibly_same_as_id
               where t.status = 'redacted' and s.indicator_id = t.indicator_id and s.restates_target_id is null"""
        )
    }
    stepped = [r[0] for r in conn.execute("select target_id from indicator_steps where target_id is not null")]
    assert "wuhan-2023-tech-contract-turnover-goal" in on_card
    assert sorted(stepped) == sorted(commitments - on_card)
    restated = {r[0] for r in conn.execute("select id from targets where restates_target_id is not null")}
    assert restated and not restated & set(stepped)


def test_a_series_is_classified_against_the_step_before(conn):
    steps = steps_of(conn, TURNOVER, "wuhan")
    assert [s["change"] for s in steps] == ["new", "raised", "not_comparable"]
    stated, raised, milestone = steps
    assert stated["target_id"] == "wuhan-2023-tech-contract-turnover"  # the masked goal of the same text is no step
    assert raised["sentence_en"] == (
        "Wuhan raised its target for technology contract turnover from more than 145 billion yuan by 2023 "
        "(2023 work points [year and issuer inferred]) to 300 billion yuan by 2026 (2024 opinions)."
    )
    assert "earlier year (2025)" in milestone["reason_en"] and "2700亿元" in milestone["sentence_zh"]


def test_a_one_year_documents_total_is_that_years_figure(conn):
    """Wuhan's 300,000 graduates in the 2023 work points (one year) and 300,000 a year to 2026 are "kept"."""
    steps = steps_of(conn, "graduates-employed-locally", "wuhan")
    assert [s["change"] for s in steps] == ["new", "kept", "not_restated"]
    assert steps[2]["policy_id"] == "wuhan-2025-motion-1-work-plan" and steps[2]["target_id"] is None
    projects = steps_of(conn, "major-science-technology-projects", "wuhan")  # 10 (2023), 10 a year, 10 (2025)
    assert [s["change"] for s in projects] == ["new", "kept", "kept"]


def test_figures_of_another_kind_of_period_are_not_compared(conn):
    """A total over 2024–2026 and the same figure a year are not "kept"; a one-year document's total is."""
    row = dict(
        conn.execute(
            "select * from targets where id = 'wuhan-2026-research-result-transfer-centres-annually'"
        ).fetchone()
    )
    per_year = Commitment(row, "2024年意见", "2024 opinions", ())
    total = {**row, "period": "cumulative", "deadline_year": 2026}
    assert compare(Commitment(total, "", "", ()), per_year, "flow")[:2] == (
        "not_comparable",
        "一为期内累计，一为每年数",
    )
    assert compare(Commitment(total, "", "", (), one_year=True), per_year, "flow")[0] == "kept"


def test_commitments_of_one_document_share_a_position_and_are_not_compared(conn):
    """Huangshi's draft: 50 key projects by 2030 and 10 or more a year stand side by side."""
    steps = steps_of(conn, "key-core-technology-projects", "huangshi")
    assert [(s["sequence"], s["change"], s["previous_target_id"]) for s in steps] == [(1, "new", None)] * 2


def test_the_indicator_item_embeds_its_steps_and_the_collection_lists_them(portal: InProcessPortal, conn):
    item = portal.get(f"/api/v1/indicators/{TURNOVER}").json()["item"]
    embedded = [(s["jurisdiction_id"], s["sequence"], s["change"]) for s in item["indicator_steps"]]
    expected = conn.execute(
        "select jurisdiction_id, sequence, change from indicator_steps where indicator_id = ? order by sequence, id",
        (TURNOVER,),
    ).fetchall()
    assert embedded == [tuple(r) for r in expected]
    listed = portal.get("/api/v1/indicator_steps?change=raised&indicator=" + TURNOVER).json()
    assert [s["id"] for s in listed["items"]] == ["wuhan-2026-tech-contract-turnover"]


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_the_indicator_page_tells_each_step_and_links_both_sentences(portal: InProcessPortal, conn, lang):
    body = portal.get(f"/indicators/{TURNOVER}?lang={lang}").text
    step = body[body.index('id="step-wuhan-2026-tech-contract-turnover"') :]
    step = step[: step.index("</li>")]
    sentence = conn.execute(
        f"select sentence_{lang} from indicator_steps where id = 'wuhan-2026-tech-contract-turnover'"
    ).fetchone()[0]
    assert sentence.replace("'", "&#39;") in step
    links = re.findall(r'href="([^"]+)"', step)
    assert links == [
        "/policies/wuhan-2024-sci-edu-talent-opinions#t-wuhan-2026-tech-contract-turnover",
        "/policies/wuhan-2023-sci-tech-work-points#t-wuhan-2023-tech-contract-turnover",
    ]


def test_the_steps_of_document_001_carry_its_caveat(portal: InProcessPortal):
    body = portal.get(f"/indicators/{TURNOVER}?lang=en").text
    moves = body[body.index('id="moves-title"') : body.index('id="targets-title"')]
    assert "2023 work points [year and issuer inferred]" in moves
    assert "About this document" in moves and "states neither its year nor its issuer" in moves


def test_a_chart_line_joins_only_one_place_and_one_kind_of_period(portal: InProcessPortal):
    """Wuhan's graduates: a 2023 total and a 2026 yearly figure are two series, with no line between."""
    body = portal.get("/indicators/graduates-employed-locally?lang=en").text
    svg = body[body.index('<svg class="chart"') : body.index("</svg>", body.index('<svg class="chart"'))]
    assert "<polyline" not in svg
    legend = body[body.index("</svg>") :]
    assert "Wuhan · total over the period" in legend and "Wuhan · per year" in legend


def test_a_target_of_document_001_shows_its_inferred_deadline_and_the_caveat(portal: InProcessPortal):
    body = portal.get("/targets/wuhan-2023-tech-contract-turnover-goal?lang=en").text
    assert "Deadline from: inferred from outside the text" in body
    assert "states neither its year nor its issuer" in body
    assert 'href="/targets/wuhan-2023-tech-contract-turnover"' in body  # possibly the same commitment


def test_the_policy_page_of_document_001_states_its_gaps(portal: InProcessPortal):
    assert (
        "states neither its year nor its issuer" in portal.get("/policies/wuhan-2023-sci-tech-work-points?lang=en").text
    )
