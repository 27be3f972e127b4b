"""The targets browser (/targets) over HTTP, on the real build in process: keywords through the bilingual
search, each sort, dropdown counts under the other filters, the empty state's way out, and the export links
that hand the same filters to /api/v1/targets (CSV for Excel and JSON)."""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
import sqlite3
from html import unescape
from urllib.parse import parse_qsl, quote, urlsplit

import pytest

from conftest import InProcessPortal as Portal
from kechuang.serve.search.matching import matching_ids
from kechuang.serve.search.service import load_search_index
from kechuang.serve.site.targets_browser import PAGE_SIZE

# one term in the forms a reader may type it: simplified, traditional, pinyin, English
TERM = {
    "simplified": "高新技术企业",
    "traditional": "高新技術企業",
    "pinyin": "gaoxin jishu qiye",
    "english": "high-tech enterprises",
}


def rows(body: str) -> list[str]:
    """The target ids of a page of the browser, in order."""
    return re.findall(r'<li class="tb-row" id="row-([a-z0-9-]+)"', body)


def options(body: str, name: str) -> dict[str, int]:
    """A dropdown's choices: value → the count it shows."""
    select = re.search(rf'<select id="f-{name}" name="{name}">(.*?)</select>', body, re.S)
    assert select, name
    found = re.findall(r'<option value="([^"]+)"(?: selected)?>.*? \((\d+)\)</option>', select.group(1), re.S)
    return {unescape(value): int(n) for value, n in found}


def link(body: str, css_class: str) -> list[str]:
    return [unescape(h) for h in re.findall(rf'<a class="{css_class}" href="([^"]+)"', body)]


def db_rows(portal: Portal, sql: str, *params) -> list[tuple]:
    with sqlite3.connect(portal.db) as conn:
        return conn.execute(sql, params).fetchall()


@pytest.fixture(scope="module")
def searched(portal: Portal) -> list[str]:
    """What the search finds for the term with every word, best first (kechuang.serve.search.matching)."""
    with sqlite3.connect(portal.db) as conn:
        found = matching_ids(conn, TERM["simplified"], load_search_index(conn), "targets")
    assert 0 < len(found) <= PAGE_SIZE, "the term should find one page of targets in the curated data"
    return found


def test_keywords_find_the_same_targets_in_every_script_and_language(portal: Portal, searched):
    by_form = {form: rows(portal.get(f"/targets?q={quote(text)}").text) for form, text in TERM.items()}
    assert by_form["simplified"] == searched  # best match first by default, as search ranks them
    for form, found in by_form.items():
        assert found == searched, form
    api = portal.get(f"/api/v1/search?q={quote(TERM['traditional'])}&type=targets&limit=100").json()
    assert set(searched) <= {r["id"] for r in api["results"]}  # the same search, every word required
    wuhan = set(rows(portal.get(f"/targets?q={quote(TERM['pinyin'])}&jurisdiction=wuhan").text))
    expected = {
        r[0]
        for r in db_rows(
            portal, "select t.id from targets t join policies p on p.id = t.policy_id where p.jurisdiction_id = 'wuhan'"
        )
    } & set(searched)
    assert wuhan == expected and wuhan


def test_each_sort_orders_the_list(portal: Portal, searched):
    facts = {
        r[0]: r[1:]
        for r in db_rows(
            portal,
            """select t.id, t.deadline_year, p.jurisdiction_id, j.parent_id, t.base_unit, t.value_base, p.issued_on
               from targets t join policies p on p.id = t.policy_id join jurisdictions j on j.id = p.jurisdiction_id""",
        )
    }
    parents = dict(db_rows(portal, "select id, parent_id from jurisdictions"))

    def place_path(place: str) -> str:
        return place if not parents[place] else place_path(parents[place]) + "/" + place

    def day(issued_on: str | None) -> int:
        return dt.date.fromisoformat(issued_on).toordinal() if issued_on else 0

    keys = {
        "deadline": lambda f: f[0],
        "-deadline": lambda f: -f[0],
        "place": lambda f: place_path(f[1]),
        "-value": lambda f: (f[4] is None, f[3] or "", -(f[4] or 0)),  # figures compared within a unit
        "value": lambda f: (f[4] is None, f[3] or "", f[4] or 0),
        "-document": lambda f: (f[5] is None, -day(f[5])),
        "document": lambda f: (f[5] is None, day(f[5])),
    }
    default = rows(portal.get("/targets").text)
    assert default == rows(portal.get("/targets?sort=deadline").text)  # the default order is unchanged
    for sort, key in keys.items():
        shown = rows(portal.get(f"/targets?sort={quote(sort)}").text)
        assert len(shown) == PAGE_SIZE, sort
        values = [key(facts[i]) for i in shown]
        assert values == sorted(values), sort
        assert shown[0] in {i for i in facts if key(facts[i]) == min(key(f) for f in facts.values())}, sort
    assert rows(portal.get(f"/targets?q={quote(TERM['english'])}&sort=relevance").text) == searched
    assert portal.get("/targets?sort=relevance").status_code == 400  # best match needs keywords
    assert portal.get("/targets?sort=nonsense").status_code == 400


def test_dropdown_counts_follow_the_other_filters_and_the_keywords(portal: Portal, searched):
    year, place, n = db_rows(
        portal,
        """select t.deadline_year, p.jurisdiction_id, count(*) from targets t join policies p on p.id = t.policy_id
           group by 1, 2 order by 3 desc limit 1""",
    )[0]
    body = portal.get(f"/targets?jurisdiction={place}&year={year}").text
    by_year = dict(
        db_rows(
            portal,
            "select t.deadline_year, count(*) from targets t join policies p on "
            "p.id = t.policy_id where p.jurisdiction_id = ? group by 1",
            place,
        )
    )
    by_place = dict(
        db_rows(
            portal,
            "select p.jurisdiction_id, count(*) from targets t join policies p on "
            "p.id = t.policy_id where t.deadline_year = ? group by 1",
            year,
        )
    )
    assert options(body, "year") == {str(y): c for y, c in by_year.items()}  # the place kept, the year free
    assert options(body, "jurisdiction") == by_place  # the year kept, the place free
    assert options(body, "status") == dict(
        db_rows(
            portal,
            "select t.status, count(*) from targets t join policies p on p.id = t.policy_id "
            "where t.deadline_year = ? and p.jurisdiction_id = ? group by 1",
            year,
            place,
        )
    )
    assert len(rows(body)) == min(n, PAGE_SIZE)
    keyed = portal.get(f"/targets?q={quote(TERM['simplified'])}").text
    assert sum(options(keyed, "status").values()) == len(searched)  # the keywords narrow every dropdown


def test_an_empty_result_says_which_filter_to_remove(portal: Portal):
    years = dict(db_rows(portal, "select deadline_year, count(*) from targets group by 1"))
    places = dict(
        db_rows(
            portal, "select p.jurisdiction_id, count(*) from targets t join policies p on p.id = t.policy_id group by 1"
        )
    )
    pairs = {
        (y, p)
        for y, p in db_rows(
            portal, "select t.deadline_year, p.jurisdiction_id from targets t join policies p on p.id = t.policy_id"
        )
    }
    year, place = next((y, p) for y in sorted(years) for p in sorted(places) if (y, p) not in pairs)
    body = portal.get(f"/targets?jurisdiction={place}&year={year}&lang=en").text
    assert rows(body) == [] and "No target matches all of" in body
    relax = dict(re.findall(r'<li><a href="([^"]+)">Remove “[^”]+” → (\d+) targets</a></li>', body))
    assert {unescape(h): int(n) for h, n in relax.items()} == {
        f"/targets?jurisdiction={place}": places[place],  # remove the year: the place alone
        f"/targets?year={year}": years[year],  # remove the place: the year alone
    }
    nothing = portal.get("/targets?q=zzqqxxjj&lang=zh").text
    assert "没有同时符合以下条件的目标" in nothing
    assert 'href="/targets">去掉“关键词：zzqqxxjj”' in nothing  # remove the keywords: every target


def test_export_links_carry_the_filters_and_give_the_filtered_set(portal: Portal, searched):
    page = f"/targets?q={quote(TERM['pinyin'])}&status=stated&sort=-deadline"
    body = portal.get(page).text
    shown = set(rows(body))
    assert shown
    exports = dict(re.findall(r'<a href="(/api/v1/targets[^"]*)"(?: download)?>([^<]+)</a>', body))
    assert len(exports) == 3, exports
    for href in exports:
        params = dict(parse_qsl(urlsplit(unescape(href)).query))
        assert params == {"search": TERM["pinyin"], "status": "stated", "sort": "-deadline_year", "limit": "500"}
    by_path = {urlsplit(unescape(h)).path: unescape(h) for h in exports}
    excel = portal.get(by_path["/api/v1/targets.excel_csv"])
    assert excel.status_code == 200 and excel.content.startswith("\ufeff".encode())
    records = list(csv.DictReader(io.StringIO(excel.content.decode("utf-8-sig"))))
    assert {r["id"] for r in records} == shown and {r["status"] for r in records} == {"stated"}
    years = [int(r["deadline_year"]) for r in records]
    assert years == sorted(years, reverse=True)
    data = portal.get(by_path["/api/v1/targets"]).json()
    assert {i["id"] for i in data["items"]} == shown and data["count"] == len(shown) and data["next"] is None
    assert shown <= set(searched)


def test_the_api_search_filter(portal: Portal, searched):
    ids = portal.get(f"/api/v1/targets?search={quote(TERM['traditional'])}&fields=id&limit=500").json()
    assert sorted(i["id"] for i in ids["items"]) == sorted(searched)
    assert portal.get("/api/v1/targets?search=%20&limit=1").json()["count"] == len(
        db_rows(portal, "select id from targets")
    )
    assert portal.get("/api/v1/targets?search=!!!").json()["count"] == 0  # nothing searchable: nothing found
    too_long = portal.get("/api/v1/targets?search=" + "a" * 201)
    assert too_long.status_code == 400 and too_long.json()["error"]["param"] == "search"
    assert portal.get("/api/v1/indicator_steps?search=x").status_code == 400  # not a collection search indexes
