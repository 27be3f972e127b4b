"""What record pages say in words (issue 14's audit): ids in curators' notes read as linked names, counts agree
with their nouns ("1 measure"), a single year is written once, English pages show no Chinese figure or
ordinal, a theme has a page, a glossary term's records say where they come from, the chart's rule is worded
once and its markers are finger-sized. In process on the real data (fixture `portal`), against the database."""

from __future__ import annotations

import html as html_lib
import re
import sqlite3
from collections import Counter
from pathlib import Path

import pytest

from conftest import InProcessPortal
from kechuang.serve.site import i18n
from kechuang.serve.site.charts import HIT_RADIUS, WIDTH
from kechuang.serve.site.outline import section_label
from kechuang.serve.site.record_links import ID_LIKE, Known, link


def rows(db: Path, sql: str, *params) -> list[tuple]:
    with sqlite3.connect(db) as conn:
        return conn.execute(sql, params).fetchall()


def meta_description(page: str) -> str:
    return html_lib.unescape(re.search(r'<meta name="description" content="([^"]*)"', page).group(1))


def visible_text(page: str) -> str:
    """The page's text without tags or attribute values (an id in an href is fine, in the text it is not)."""
    main = page[page.index("<main") :] if "<main" in page else page
    return html_lib.unescape(re.sub(r"<[^>]+>", " ", main))


# --- ids in notes (item 4) ----------------------------------------------------------------------------------


def test_link_replaces_known_ids_and_escapes_the_rest():
    known = {"wuhan-x-bureau": Known(name="市X局", href="/agencies/wuhan-x-bureau")}
    linked = link('写作"市X局"（wuhan-x-bureau），另见 unknown-id <b>', known)
    assert str(linked.html) == (
        "写作&#34;<a href=\"/agencies/wuhan-x-bureau\" class=\"record-ref\">市X局</a>&#34;，另见 unknown-id &lt;b&gt;"
    ), "a name written before its bracketed id is the link; an unknown id and markup stay text"
    assert linked.plain == '写作"市X局"，另见 unknown-id <b>'
    inline = link("counted by wuhan-x-bureau and not by wuhan-x-bureau-2", known)
    assert inline.plain == "counted by 市X局 and not by wuhan-x-bureau-2"


@pytest.mark.parametrize(
    ("url", "linked_id", "name_sql"),
    [
        (
            "/agencies/wuhan-science-technology-bureau?lang=zh",
            "/agencies/wuhan-science-technology-innovation-bureau",
            "select name_zh from agencies where id = 'wuhan-science-technology-innovation-bureau'",
        ),
        (
            "/events/seedling-programme?lang=zh",
            "/events/startup-seedling-action",
            "select name_zh from events where id = 'startup-seedling-action'",
        ),
        (
            "/indicators/high-tech-enterprises?lang=en",
            "/indicators/high-tech-enterprises-net-increase",
            "select name_en from indicators where id = 'high-tech-enterprises-net-increase'",
        ),
    ],
)
def test_a_note_naming_a_record_by_id_links_its_name(portal: InProcessPortal, url, linked_id, name_sql):
    page = portal.get(url).text
    (name,) = rows(portal.db, name_sql)[0]
    assert f'<a href="{linked_id}" class="record-ref">{html_lib.escape(name, quote=False)}</a>' in page.replace(
        "&#34;", '"'
    )
    slug = linked_id.rsplit("/", 1)[1]
    assert slug not in visible_text(page), "the id is not shown as text"
    assert slug not in meta_description(page), "a description names the record, without markup"


def test_no_note_of_an_agency_platform_fund_or_event_shows_a_record_id(portal: InProcessPortal):
    """Every note of the data that names a record by id, on its page in both languages: the id is gone."""
    ids = {r[0] for r in rows(portal.db, "select id from search_records where type in "
                              "('agencies','targets','indicators','platforms','funds','events','measures')")}
    checked = 0
    for table in ("agencies", "platforms", "funds", "events"):
        for key, note_zh, note_en in rows(portal.db, f"select id, note_zh, note_en from {table}"):
            for lang, note in (("zh", note_zh), ("en", note_en)):
                named = {m.group(0) for m in ID_LIKE.finditer(note or "")} & ids
                if not named or checked >= 12:  # a sample of pages keeps the test fast
                    continue
                checked += 1
                page = portal.get(f"/{table}/{key}?lang={lang}").text
                text = visible_text(page) + meta_description(page)
                assert not {i for i in named if i != key and i in text}, (table, key, lang)
    assert checked >= 6, "the data has notes that name records by id (the audit counted about 30)"


# --- counts and years (item 14) -----------------------------------------------------------------------------


def test_counted_picks_one_or_other_and_a_single_year_is_written_once():
    en = {"one": "{n} measure", "other": "{n} measures"}
    assert [i18n.counted(en, n) for n in (0, 1, 2)] == ["0 measures", "1 measure", "2 measures"]
    assert i18n.counted({"other": "{n} 条措施"}, 1) == "1 条措施"
    years = {"one": "{first}", "other": "{first}–{last}"}
    assert i18n.year_span(years, 2023, 2023) == "2023" and i18n.year_span(years, 2023, 2025) == "2023–2025"


SINGULAR_WRONG = re.compile(r"(?<![\d.,])1 (commitments|places|measures|targets|mentions|documents|records|terms)\b")


@pytest.mark.parametrize(
    "url",
    [
        "/indicators?lang=en",
        "/agencies/wuhan-data-bureau?lang=en",
        "/platforms/auto-valley?lang=en",
        "/funds/huangshi-sci-tech-investment-fund-cluster?lang=en",
    ],
)
def test_english_counts_agree_and_single_years_are_not_ranges(portal: InProcessPortal, url):
    page = portal.get(url).text
    text = visible_text(page) + " " + meta_description(page)
    assert not SINGULAR_WRONG.search(text), SINGULAR_WRONG.search(text)
    assert not re.search(r"\b(\d{4})[–—-]\1\b", text)
    place = re.search(r"\(([^()]+)\) \(\1\)", meta_description(page))
    assert place is None, "a name that says its place is not followed by the place again"


def test_chinese_indicator_cards_write_a_single_year_once(portal: InProcessPortal):
    page = portal.get("/indicators?lang=zh").text
    single = rows(portal.db, """select count(*) from (select i.id from indicators i join targets t on t.indicator_id = i.id
                                 where t.restates_target_id is null group by i.id
                                 having min(t.deadline_year) = max(t.deadline_year))""")[0][0]
    assert single and not re.search(r"(\d{4})—\1 年", page)
    assert len(re.findall(r"项承诺，\d{4} 年，", page)) == single


# --- the chart's rule and tap targets (items 12, 13) ---------------------------------------------------------


def test_the_chart_states_the_rule_it_applies_in_one_wording(portal: InProcessPortal):
    for lang in ("zh", "en"):
        strings = i18n.load_catalogue(Path(__file__).parents[1] / "site" / "i18n", lang)["chart"]
        page = html_lib.unescape(portal.get(f"/indicators/technology-contract-turnover?lang={lang}").text)
        desc = re.search(r'<desc id="chart-desc">(.*?)</desc>', page, re.S).group(1)
        legend = re.search(r'<ul class="chart-legend".*?</ul>', page, re.S).group(0)
        assert strings["line_rule"] in desc and strings["line_rule"] in legend
    assert "comparator" not in strings["line_rule"], "the code groups by comparator family, not comparator"


def test_every_chart_point_has_a_finger_sized_hit_area(portal: InProcessPortal):
    page = portal.get("/indicators/technology-contract-turnover?lang=en").text
    links = re.findall(r'<a href="[^"]+" class="point-link".*?</a>', page, re.S)
    assert links and all('class="hit"' in a and f'r="{HIT_RADIUS}"' in a for a in links)
    assert 2 * HIT_RADIUS * 343 / WIDTH >= 24, "at 375 px the chart is about 343 px wide"


# --- English figures and ordinals (item 15) ------------------------------------------------------------------


def test_the_search_answer_gives_the_figure_in_the_page_language(portal: InProcessPortal):
    (figure_zh,) = rows(portal.db, "select figure_zh from targets where id = 'huangshi-2030-invention-patents-per-10k-people'")[0]
    query = "/-/search?q=Huangshi+invention+patents+target"
    english = re.search(r'<strong class="kc-figure"[^>]*>(.*?)</strong>', portal.get(query + "&lang=en").text).group(1)
    chinese = re.search(r'<strong class="kc-figure"[^>]*>(.*?)</strong>', portal.get(query + "&lang=zh").text).group(1)
    assert "15 patents per 10,000 people" in english and figure_zh not in english
    assert figure_zh in chinese
    answer = portal.get("/api/v1/search?q=Huangshi+invention+patents+target").json()["answer"]
    assert answer["targets"][0]["figure_en"] == "15 patents per 10,000 people"


def test_measure_labels_use_the_outline_of_the_page_language(portal: InProcessPortal):
    assert section_label("二、(四)9", "en") == "2.4.9" and section_label("二、(四)9", "zh") == "二、（四）9"
    assert section_label("一、", "en") == "1" and section_label("附件", "en") == "附件"
    english = visible_text(portal.get("/agencies/wuhan-science-technology-innovation-bureau?lang=en").text)
    assert not re.search(r"[一二三四五六七八九十]、", english)
    fund = visible_text(portal.get("/funds/huangshi-sci-tech-investment-fund-cluster?lang=zh").text)
    assert not re.search(r"、\([一二三四五六七八九十]+\)", fund), "one kind of bracket on a Chinese page"


# --- themes (item 17) and glossary uses (item 18) ------------------------------------------------------------


def test_a_theme_lands_on_the_indicators_of_that_theme(portal: InProcessPortal):
    themes = rows(portal.db, "select id, page_url from search_records where type = 'themes'")
    assert themes and all(url == f"/indicators?theme={key}" for key, url in themes)
    key = themes[0][0]
    expected = {r[0] for r in rows(portal.db, "select id from indicators where theme_id = ?", key)}
    page = portal.get(f"/indicators?theme={key}&lang=en").text
    assert set(re.findall(r'<h2 id="i-[^"]+" class="card-title"><a href="/indicators/([^"]+)">', page)) == expected
    assert portal.get("/indicators?theme=no-such-theme").status_code == 400


def test_a_glossary_terms_records_say_where_they_come_from(portal: InProcessPortal):
    for lang in ("zh", "en"):
        page = portal.get(f"/glossary/above-designated-size?lang={lang}").text
        uses = page[page.index('id="uses-title"') :]
        for group in re.findall(r'<ul data-type="([^"]+)">(.*?)</ul>', uses, re.S):
            items = re.findall(r'<li><a href="[^"]+">([^<]*)</a>(?: <span class="meta">([^<]*)</span>)?</li>', group[1])
            assert items and all(where for _name, where in items if group[0] != "indicators"), group[0]
            names = Counter(name for name, _where in items)
            told_apart = Counter(items)
            assert max(told_apart.values()) == 1, f"same name, same place and year: {told_apart.most_common(1)}"
            if group[0] == "targets":
                assert max(names.values()) > 1, "the audit's case: one name, several targets"
