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


# ---- the audit's findings (issue 14): places in the keywords, linked targets in words, the page beyond the
# last, exports in the chosen order, masked parts of names, unknown and repeated filter values ----


def result_count(body: str) -> int:
    found = re.search(r'<p class="result-count" role="status">\D*(\d+)', body)
    assert found, "no result count"
    return int(found.group(1))


def place_links(body: str) -> list[str]:
    return [unescape(h) for h in re.findall(r'<p class="tb-place"><a href="([^"]+)">', body)]


def test_keywords_that_name_a_place_lead_to_all_its_targets_in_one_tap(portal: Portal):
    (n,) = db_rows(
        portal,
        "select count(*) from targets t join policies p on p.id = t.policy_id where p.jurisdiction_id = ?",
        "huangshi",
    )[0]
    for typed in ("黄石", "黃石", "Huangshi", "huangshi"):
        body = portal.get(f"/targets?q={quote(typed)}&lang=en").text
        assert place_links(body) == ["/targets?jurisdiction=huangshi"], typed
        assert f"show all {n} targets of Huangshi" in body, typed
    tapped = portal.get("/targets?jurisdiction=huangshi&lang=zh").text
    assert result_count(tapped) == n and len(rows(tapped)) == min(n, PAGE_SIZE)
    # a place with other words: that place's targets matching the other words
    words = portal.get(f"/targets?q={quote('黄石 ' + TERM['simplified'])}&lang=zh").text
    (with_words,) = place_links(words)
    assert dict(parse_qsl(urlsplit(with_words).query)) == {"q": TERM["simplified"], "jurisdiction": "huangshi"}
    narrowed = set(rows(portal.get(with_words).text))
    huangshi = {
        r[0]
        for r in db_rows(
            portal,
            "select t.id from targets t join policies p on p.id = t.policy_id where p.jurisdiction_id = 'huangshi'",
        )
    }
    assert narrowed and narrowed <= huangshi
    # the place already chosen: nothing to offer
    assert place_links(portal.get(f"/targets?q={quote('黄石')}&jurisdiction=huangshi").text) == []


def test_links_to_restated_or_possibly_same_targets_read_as_targets_not_ids(portal: Portal):
    facts = {
        r[0]: r[1:]
        for r in db_rows(
            portal,
            """select t.id, t.name_zh, t.name_en, t.deadline_year, j.name_zh, j.name_en from targets t
               join policies p on p.id = t.policy_id join jurisdictions j on j.id = p.jurisdiction_id""",
        )
    }
    pairs = db_rows(
        portal,
        "select id, coalesce(restates_target_id, possibly_same_as_id) from targets "
        "where restates_target_id is not null or possibly_same_as_id is not null order by possibly_same_as_id is null",
    )
    assert pairs
    for source, other in (pairs[0], pairs[-1]):  # one "may be the same as", one "restates"
        name_zh, name_en, year, place_zh, place_en = facts[other]
        for lang, name, place in (("zh", name_zh, place_zh), ("en", name_en, place_en)):
            body = portal.get(f"/targets/{source}?lang={lang}").text
            found = re.search(rf'<a href="/targets/{other}">([^<]+)</a>', body)
            assert found, (source, lang)
            text = unescape(found.group(1))
            assert other not in text and str(year) in text and place in text, text
            assert name.replace("*", "") in text.replace("［遮蔽］", "").replace("[masked]", ""), text
    # the indicator page lists a commitment's restatements in words too
    restatement, indicator = db_rows(
        portal, "select id, indicator_id from targets where restates_target_id is not null and indicator_id is not null"
    )[0]
    body = portal.get(f"/indicators/{indicator}?lang=en").text
    found = re.search(rf'<a href="/policies/[^"#]+#t-{restatement}">([^<]+)</a>', body)
    assert found and restatement not in found.group(1) and str(facts[restatement][2]) in found.group(1)


def test_a_page_beyond_the_last_says_so_and_links_to_the_last(portal: Portal):
    (n,) = db_rows(portal, "select count(*) from targets where status = 'stated'")[0]
    last = -(-n // PAGE_SIZE)
    response = portal.get("/targets?status=stated&page=99999&lang=en")
    assert response.status_code == 200
    body = response.text
    assert f"There is no page 99999: these filters give {last} pages." in body
    expected = f"/targets?status=stated&page={last}"
    assert expected in [unescape(h) for h in re.findall(r'<a href="([^"]+)">Go to the last page', body)]
    assert [unescape(h) for h in re.findall(r'<a rel="prev" href="([^"]+)"', body)] == [expected]
    assert "page 99999 of" not in body and rows(body) == []
    assert len(rows(portal.get(expected).text)) == n - (last - 1) * PAGE_SIZE


def test_exports_keep_the_sort_or_say_their_order_and_the_two_csvs_have_their_own_names(portal: Portal):
    body = portal.get("/targets?status=stated&sort=-value&lang=en").text
    exports = [unescape(h) for h in re.findall(r'<a href="(/api/v1/targets[^"]*)"', body)]
    assert len(exports) == 3 and all(dict(parse_qsl(urlsplit(h).query))["sort"] == "-value_base" for h in exports)
    assert "The files list the targets in id order" not in body
    excel, plain = (
        portal.get(next(h for h in exports if urlsplit(h).path.endswith(s))) for s in (".excel_csv", ".csv")
    )
    values = [float(r["value_base"]) for r in csv.DictReader(io.StringIO(plain.text)) if r["value_base"]]
    assert values and values == sorted(values, reverse=True)
    assert "targets-excel.csv" in excel.headers["content-disposition"]
    assert "targets.csv" in plain.headers["content-disposition"]
    for sort, name in (("place", "Place"), ("relevance", "Best match")):
        shown = portal.get(f"/targets?q={quote(TERM['english'])}&sort={sort}&lang=en").text
        assert f"The files list the targets in id order (the API cannot sort by “{name}”)." in shown, sort


def test_masked_parts_of_names_are_marked_as_masked_figures_are(portal: Portal):
    (target_id, name_zh), *_ = db_rows(portal, "select id, name_zh from targets where name_zh like '%*%' order by id")
    for lang, label in (("zh", "（原文此处被遮蔽）"), ("en", "(words masked in the source)")):
        page = portal.get(f"/targets/{target_id}?lang={lang}").text
        h1 = re.search(r"<h1>(.*?)</h1>", page, re.S).group(1)
        assert "*" not in h1 and "[masked]" not in h1
        assert '<span class="masked-part"><span aria-hidden="true">' in h1 and label in h1
        title = re.search(r"<title>(.*?)</title>", page, re.S).group(1)
        assert "*" not in title
    listed = portal.get(f"/targets?q={quote(name_zh.strip('*')[:6])}&lang=zh").text
    row = re.search(rf'<li class="tb-row" id="row-{target_id}">(.*?)</summary>', listed, re.S)
    assert row and "masked-part" in row.group(1) and "*" not in row.group(1)


def test_unknown_or_repeated_filter_values(portal: Portal):
    for url, words in (
        ("/targets?jurisdiction=nowhere&lang=zh", "地区中没有“nowhere”这一项"),
        ("/targets?agency=nosuch&lang=en", "Agency has no choice “nosuch”"),
        ("/targets?status=nosuch&lang=en", "Figure has no choice “nosuch”"),
        ("/targets?jurisdiction=wuhan,nowhere&lang=en", "Place has no choice “nowhere”"),
        ("/targets?year=2023&year=2025&lang=en", "“year” is given more than once"),
        ("/targets?sort=place&sort=value&lang=zh", "参数“sort”出现了不止一次"),
    ):
        response = portal.get(url)
        assert response.status_code == 400, url
        assert words in unescape(response.text), url
    # a list filter, repeated or comma-separated, is any of its values (as the API reads it)
    counts = dict(
        db_rows(
            portal,
            "select p.jurisdiction_id, count(*) from targets t join policies p on p.id = t.policy_id group by 1",
        )
    )
    repeated = portal.get("/targets?jurisdiction=wuhan&jurisdiction=huangshi&lang=en").text
    assert result_count(repeated) == counts["wuhan"] + counts["huangshi"]
    assert result_count(portal.get("/targets?jurisdiction=wuhan,huangshi").text) == result_count(repeated)
    assert "Place: Wuhan, Huangshi" in repeated
