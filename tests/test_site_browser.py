"""The citizens' site in a real browser: headless Chromium from Debian driven by Playwright.

Every page type loads without console errors in both languages and at phone width, its text with enough
contrast (screenshots go to dist/screenshots/), the toggle switches and persists the language, a search from
the home page reaches results, a target's source link lands on its highlighted sentence and the chart draws
every target.
"""

from __future__ import annotations

import re
import sqlite3
from pathlib import Path

import httpx
import pytest
from site_support import first
from site_support import page_types as site_page_types

from conftest import ROOT, Portal

playwright_api = pytest.importorskip("playwright.sync_api")

pytestmark = [pytest.mark.browser, pytest.mark.slow]
SCREENSHOTS = ROOT / "dist" / "screenshots"
WIDTHS = {"desktop": 1280, "phone": 375}
FULL_PAGE_SHOTS = {"home", "target", "indicator", "fund", "event", "about"}


@pytest.fixture(scope="module")
def portal(live_portal):
    """A browser needs a served portal: the real data, served by a real `datasette serve` process."""
    return live_portal


@pytest.fixture(scope="module")
def browser(chromium):
    return chromium


def new_page(browser, width: int = 1280, locale: str = "zh-CN"):
    context = browser.new_context(viewport={"width": width, "height": 900 if width > 600 else 812}, locale=locale)
    page = context.new_page()
    problems: list[str] = []
    page.on("console", lambda message: problems.append(message.text) if message.type == "error" else None)
    page.on("pageerror", lambda error: problems.append(str(error)))
    page.on("dialog", lambda dialog: (problems.append("dialog: " + dialog.message), dialog.dismiss()))
    return context, page, problems


def one(db: Path, sql: str, *params):
    with sqlite3.connect(db) as conn:
        row = conn.execute(sql, params).fetchone()
    assert row, sql
    return row


def page_types(db: Path) -> dict[str, str]:
    """Every page type of the site, plus Datasette's table page."""
    return {**site_page_types(db), "search": "/-/search?q=" + first(db, "select name_zh from indicators order by id"), "datasette-table": "/kechuang/targets_detail"}


@pytest.mark.parametrize("width_name", list(WIDTHS))
@pytest.mark.parametrize("lang", ["zh", "en"])
def test_every_page_type_loads_cleanly_and_fits_the_screen(browser, portal: Portal, lang, width_name):
    """At desktop width, every visible text of every page type (and of Datasette's table and database
    pages, which carry our chrome) also stands out from its background as WCAG 2 AA asks: 4.5:1, 3:1
    for large text."""
    width = WIDTHS[width_name]
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    context, page, problems = new_page(browser, width, "zh-CN" if lang == "zh" else "en-GB")
    try:
        for name, path in page_types(portal.db).items():
            response = page.goto(portal.base_url + path)
            assert response is not None and response.status == 200, f"{name}: {response and response.status}"
            assert page.locator("html").get_attribute("lang") == {"zh": "zh-Hans", "en": "en"}[lang], name
            assert page.locator("header.kc-header").is_visible(), name
            header_fits = "(h => h.scrollWidth <= h.clientWidth)(document.querySelector('header.kc-header'))"
            assert page.locator("header .kc-find input[name=q]").is_visible() and page.evaluate(header_fits), name
            assert problems == [], f"{name}: console errors {problems}"
            overflow = page.evaluate("document.documentElement.scrollWidth - document.documentElement.clientWidth")
            if not name.startswith("datasette"):  # Datasette's wide tables scroll sideways by design
                assert overflow <= 0, f"{name} is {overflow}px wider than a {width}px screen"
            if width_name == "desktop":
                assert page.evaluate(CONTRAST_SCRIPT) == [], f"{name}: contrast"
            whole = name in FULL_PAGE_SHOTS  # short pages whole; long ones (lists, the reader) their first screen
            page.screenshot(path=str(SCREENSHOTS / f"{name}-{lang}-{width_name}.png"), full_page=whole)
        if width_name == "desktop":
            page.goto(portal.base_url + "/kechuang")
            assert page.evaluate(CONTRAST_SCRIPT) == [], "datasette-database: contrast"
    finally:
        context.close()


def test_the_toggle_switches_language_and_remembers_it(browser, portal: Portal):
    context, page, problems = new_page(browser, locale="zh-CN")
    try:
        page.goto(portal.base_url + "/targets")
        assert page.locator("html").get_attribute("lang") == "zh-Hans"
        page.locator("a.kc-lang").click()
        page.wait_for_load_state()
        assert page.url.endswith("/targets")
        assert page.locator("html").get_attribute("lang") == "en"
        assert page.locator("h1").inner_text() == "Targets"
        assert {c["name"]: c["value"] for c in context.cookies()}.get("kechuang_lang") == "en"
        page.goto(portal.base_url + "/indicators")  # a new page, no parameter: the cookie decides
        assert page.locator("html").get_attribute("lang") == "en"
        page.goto(portal.base_url + "/kechuang/targets")  # Datasette's own page has the toggle too
        assert page.locator("a.kc-lang").inner_text().strip().endswith("中文")
        page.locator("a.kc-lang").click()
        page.wait_for_load_state()
        assert "/kechuang/targets" in page.url
        page.goto(portal.base_url + "/")
        assert page.locator("html").get_attribute("lang") == "zh-Hans"
        assert problems == []
    finally:
        context.close()


def test_lang_parameter_overrides_cookie_and_browser_language(browser, portal: Portal):
    context, page, _ = new_page(browser, locale="zh-CN")
    try:
        context.add_cookies([{"name": "kechuang_lang", "value": "zh", "url": portal.base_url}])
        page.goto(portal.base_url + "/targets?lang=en")
        assert page.locator("html").get_attribute("lang") == "en"
        assert page.locator("h1").inner_text() == "Targets"
    finally:
        context.close()


def test_keyboard_users_can_skip_to_the_content(browser, portal: Portal):
    context, page, _ = new_page(browser)
    try:
        page.goto(portal.base_url + "/targets")
        page.keyboard.press("Tab")
        focused = page.evaluate("document.activeElement.className")
        assert "skip-link" in focused
        assert page.locator("a.skip-link").is_visible()
        outline = page.evaluate("getComputedStyle(document.activeElement).backgroundColor")
        assert outline not in ("rgba(0, 0, 0, 0)", "transparent")  # the focus is visible
        page.keyboard.press("Enter")
        assert page.evaluate("document.activeElement.id") == "main"
        page.keyboard.press("Tab")  # the next stop is inside the page, not back in the header
        inside = page.evaluate("document.getElementById('main').contains(document.activeElement)")
        assert inside
    finally:
        context.close()


def test_a_search_from_the_home_page_reaches_results(browser, portal: Portal):
    if httpx.get(portal.base_url + "/-/search?q=x", timeout=30).status_code == 404:
        pytest.skip("the search page /-/search is not on this branch yet")
    term = one(portal.db, "select name_zh from targets where indicator_id is not null order by id")[0]
    context, page, problems = new_page(browser)
    try:
        page.goto(portal.base_url + "/")
        box = page.locator("#home-q")  # the home page's own box (the header has one too)
        box.fill(term)
        with page.expect_navigation():
            box.press("Enter")
        assert "/-/search?" in page.url and "q=" in page.url
        body = page.locator("body").inner_text()
        assert term in body
        assert page.locator("a[href^='/targets/'], a[href*='/targets/']").count() > 0, "no target among the results"
        assert problems == []
    finally:
        context.close()


@pytest.mark.parametrize("width_name", list(WIDTHS))
def test_a_target_source_link_lands_on_the_highlighted_sentence(browser, portal: Portal, width_name):
    year, place = one(
        portal.db,
        """select t.deadline_year, p.jurisdiction_id from targets t join policies p on p.id = t.policy_id
           where t.quote_start is not null group by 1, 2 order by count(*) desc""",
    )
    context, page, problems = new_page(browser, WIDTHS[width_name])
    try:
        page.goto(f"{portal.base_url}/targets?jurisdiction={place}&year={year}")
        links = page.locator("a.tb-source")  # the browser's rows: the sentence one tap away
        assert links.count() > 0
        link = links.last  # the last card: the link must scroll far into the document
        href = link.get_attribute("href")
        anchor = href.split("#", 1)[1]
        target_id = anchor.removeprefix("t-")
        quote = one(portal.db, "select quote_zh from targets where id = ?", target_id)[0]
        link.click()
        page.wait_for_load_state()
        assert page.url.endswith("#" + anchor)
        mark = page.locator(f"mark:has(#{anchor}), mark#{anchor}").first
        assert mark.evaluate("m => m.tagName") == "MARK"
        assert mark.evaluate("m => m.matches(':target') || m.querySelector(':target') !== null")
        assert mark.evaluate("m => getComputedStyle(m).outlineStyle") == "solid"  # the :target highlight
        assert mark.evaluate("m => getComputedStyle(m).backgroundColor") not in ("rgba(0, 0, 0, 0)", "transparent")
        box = mark.bounding_box()
        viewport = page.viewport_size
        assert box is not None and box["y"] >= 0 and box["y"] + min(box["height"], 40) <= viewport["height"]
        sentence = page.evaluate(
            """a => { const target = document.getElementById(a); const m = target.closest('mark');
                  let text = m.textContent, next = m.nextElementSibling;
                  while (next && next.tagName === 'MARK') { text += next.textContent; next = next.nextElementSibling; }
                  return text; }""",
            anchor,
        )
        assert quote.startswith(sentence) or sentence.startswith(quote)
        page.screenshot(path=str(SCREENSHOTS / f"source-sentence-{width_name}.png"))
        assert problems == []
    finally:
        context.close()


def test_the_chart_draws_one_point_per_target(browser, portal: Portal):
    indicator, n = one(
        portal.db,
        "select indicator_id, count(*) from targets where indicator_id is not null group by 1 order by 2 desc",
    )
    ids = {
        r[0] for r in sqlite3.connect(portal.db).execute("select id from targets where indicator_id = ?", (indicator,))
    }
    context, page, problems = new_page(browser, locale="en-GB")
    try:
        page.goto(f"{portal.base_url}/indicators/{indicator}")
        svg = page.locator("svg.chart")
        assert svg.get_attribute("role") == "group"
        assert svg.locator("title").first.text_content().strip()
        points = svg.locator("path.point")
        assert points.count() == n
        assert {points.nth(i).get_attribute("data-target") for i in range(n)} == ids
        box = svg.bounding_box()
        assert box and box["width"] > 300 and box["height"] > 150
        for i in range(n):  # every point is drawn inside the chart
            point = points.nth(i).bounding_box()
            assert point and box["x"] <= point["x"] <= box["x"] + box["width"]
            assert box["y"] <= point["y"] <= box["y"] + box["height"]
        assert page.locator("table.data-table tbody tr").count() == n
        first = page.locator("svg.chart a.point-link").first
        first.focus()
        assert page.evaluate("document.activeElement.getAttribute('href')").startswith("/targets/")
        page.screenshot(path=str(SCREENSHOTS / "chart-en-desktop.png"))
        assert problems == []
        assert not re.search(r"fonts\.googleapis|cdn\.", page.content())
    finally:
        context.close()


def test_chart_markers_are_tap_targets_and_the_chart_table_fits_a_phone(browser, portal: Portal):
    """At 375 px every point link is at least 24 px each way (its invisible disc), and the table under the
    chart is stacked into cards instead of scrolling sideways (the audit: 6.6-8.1 px markers, an 864 px table)."""
    indicator, _n = one(
        portal.db,
        "select indicator_id, count(*) from targets where indicator_id is not null group by 1 order by 2 desc",
    )
    context, page, problems = new_page(browser, width=375, locale="en-GB")
    try:
        page.goto(f"{portal.base_url}/indicators/{indicator}?lang=en")
        boxes = page.locator("svg.chart a.point-link").evaluate_all(
            "links => links.map(a => { const r = a.getBoundingClientRect(); return [r.width, r.height]; })"
        )
        assert boxes and min(min(w, h) for w, h in boxes) >= 24, boxes
        widths = page.evaluate(
            """() => { const wrap = document.querySelector('.chart-layout .table-wrap');
                       return [wrap.scrollWidth, wrap.clientWidth, document.documentElement.scrollWidth]; }"""
        )
        assert widths[0] <= widths[1] + 1 and widths[2] <= 375, widths
        figure = page.locator(".chart-table td.figure").first.bounding_box()
        assert figure and figure["x"] + figure["width"] <= 375, "the figure as written is on screen"
        assert problems == []
    finally:
        context.close()


CONTRAST_SCRIPT = """
() => {
  const parse = c => { const m = c.match(/rgba?\\(([^)]+)\\)/); if (!m) return null;
    const p = m[1].split(',').map(Number); return {r: p[0], g: p[1], b: p[2], a: p.length > 3 ? p[3] : 1}; };
  const lum = c => { const f = v => { v /= 255; return v <= 0.03928 ? v / 12.92 : Math.pow((v + 0.055) / 1.055, 2.4); };
    return 0.2126 * f(c.r) + 0.7152 * f(c.g) + 0.0722 * f(c.b); };
  const background = el => { for (let e = el; e; e = e.parentElement) {
      const c = parse(getComputedStyle(e).backgroundColor); if (c && c.a > 0.5) return c; }
    return {r: 255, g: 255, b: 255, a: 1}; };
  const failures = [];
  for (const el of document.querySelectorAll('body *')) {
    if (el.closest('svg') || !el.offsetParent && getComputedStyle(el).position !== 'fixed') continue;
    const own = [...el.childNodes].some(n => n.nodeType === 3 && n.textContent.trim());
    if (!own) continue;
    const style = getComputedStyle(el);
    if (style.visibility === 'hidden' || el.closest('.visually-hidden')) continue;
    const fg = parse(style.color), bg = background(el);
    const [hi, lo] = [lum(fg), lum(bg)].sort((a, b) => b - a);
    const ratio = (hi + 0.05) / (lo + 0.05);
    const size = parseFloat(style.fontSize), bold = parseInt(style.fontWeight) >= 700;
    const needed = size >= 24 || (bold && size >= 18.66) ? 3 : 4.5;
    if (ratio < needed) failures.push(`${el.tagName}.${el.className} "${el.textContent.trim().slice(0, 30)}" ${ratio.toFixed(2)}`);
  }
  return failures;
}
"""


# --- the reader, the agencies and the layout (issue 14, item 5) ---------------------------------------------


def highlighted(page, anchor: str) -> bool:
    """Whether the sentence carrying `anchor` (on its mark, or on a marker inside it) wears the :target style."""
    mark = page.locator(f"mark:has(#{anchor}), mark#{anchor}").first
    return mark.evaluate("m => getComputedStyle(m).outlineStyle") == "solid"


def test_the_toggle_keeps_the_anchor_and_the_sentence_is_highlighted_in_both_languages(browser, portal: Portal):
    target_id, policy_id = one(
        portal.db,
        """select t.id, t.policy_id from targets t join measures m on m.id = t.measure_id
           where t.quote_start is not null and instr(m.text_en, t.quote_en) > 0 order by t.id""",
    )
    anchor = f"t-{target_id}"
    context, page, problems = new_page(browser, WIDTHS["phone"], "zh-CN")
    try:
        page.goto(f"{portal.base_url}/policies/{policy_id}#{anchor}")
        assert highlighted(page, anchor) and highlighted(page, f"en-{anchor}")
        assert page.locator("a.kc-lang").get_attribute("href").endswith(f"#{anchor}")
        page.locator("a.kc-lang").click()
        page.wait_for_load_state()
        assert page.locator("html").get_attribute("lang") == "en"
        assert page.url == f"{portal.base_url}/policies/{policy_id}#{anchor}"
        assert highlighted(page, anchor) and highlighted(page, f"en-{anchor}")
        page.evaluate("location.hash = '#sec-1'")  # the reader follows a link inside the page
        assert page.locator("a.kc-lang").get_attribute("href").endswith("#sec-1")
        assert problems == []
    finally:
        context.close()


def test_the_targets_of_a_document_are_not_a_scroll_box_on_a_phone(browser, portal: Portal):
    policy_id, n = one(portal.db, "select policy_id, count(*) from targets group by 1 order by 2 desc")
    context, page, problems = new_page(browser, WIDTHS["phone"])
    try:
        page.goto(f"{portal.base_url}/policies/{policy_id}")
        page.locator(".target-index-box > summary").click()
        index = page.locator("ol.target-index")
        assert index.locator("li").count() == n
        assert index.evaluate("e => getComputedStyle(e).overflowY") == "visible"
        assert index.evaluate("e => e.scrollHeight <= e.clientHeight + 1")
        last = index.locator("li").last
        last.scroll_into_view_if_needed()
        box, row = index.bounding_box(), last.bounding_box()
        assert box and row and row["y"] + row["height"] <= box["y"] + box["height"] + 1  # its last row whole
        assert problems == []
    finally:
        context.close()


def canned_query() -> str:
    import yaml

    metadata = yaml.safe_load((ROOT / "metadata.yml").read_text(encoding="utf-8"))
    return "/kechuang/" + next(iter(metadata["databases"]["kechuang"]["queries"]))


CONTENT_LEFT = """() => {
  const main = document.getElementById('main');
  const column = main.querySelector(':scope > section.content') || main;
  return [document.querySelector('.kc-brand').getBoundingClientRect().x,
          column.firstElementChild.getBoundingClientRect().x];
}"""


def test_api_docs_and_canned_queries_fit_a_phone_and_content_lines_up_with_the_header(browser, portal: Portal):
    context, page, problems = new_page(browser, WIDTHS["phone"])
    try:
        for path in ("/api/v1/docs", canned_query()):
            page.goto(portal.base_url + path)
            assert page.evaluate("document.documentElement.scrollWidth") <= WIDTHS["phone"], path
    finally:
        context.close()
    context, page, problems = new_page(browser, WIDTHS["desktop"])
    try:
        for path in ("/-/search?q=AI", "/kechuang/units", canned_query(), "/api/v1/docs"):
            page.goto(portal.base_url + path)
            brand, content = page.evaluate(CONTENT_LEFT)
            assert brand > 16 and abs(content - brand) <= 1, f"{path}: content at {content}px, header at {brand}px"
        assert problems == []
    finally:
        context.close()


# --- the targets browser on a phone (issue 14, item 3) -------------------------------------------------------


def tap_count_samples(db: Path) -> list[tuple[str, str, str, str, str]]:
    """A target of each of four documents, and Wuhan's high-tech enterprises (the issue's 7-tap example):
    (id, policy, name_zh, name_en, quote_zh), each with its sentence located in the text."""
    with sqlite3.connect(db) as conn:
        sql = """select id, policy_id, name_zh, name_en, quote_zh from targets where quote_start is not null
                 and id in (select min(id) from targets where quote_start is not null group by policy_id)
                 order by id limit 3"""
        samples = conn.execute(sql).fetchall()
        samples += conn.execute(
            """select t.id, t.policy_id, t.name_zh, t.name_en, t.quote_zh from targets t
               join policies p on p.id = t.policy_id where p.jurisdiction_id = 'wuhan' and t.quote_start is not null
               and t.name_zh like '%高新技术企业%' order by t.id limit 1"""
        ).fetchall()
    assert len(samples) == 4
    return samples


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_a_phone_reaches_a_targets_sentence_from_home_in_three_taps(browser, portal: Portal, lang):
    """From the home page at 375 px: type the target's name (typing is not a tap), tap "find", then tap the
    row's sentence link, or first tap the row open to read it; never more than three taps."""
    context, page, problems = new_page(browser, WIDTHS["phone"], "zh-CN" if lang == "zh" else "en-GB")
    try:
        for n, (target_id, policy_id, name_zh, name_en, quote_zh) in enumerate(tap_count_samples(portal.db)):
            taps = 0

            def tap(locator) -> None:
                nonlocal taps
                taps += 1
                locator.click()

            page.goto(f"{portal.base_url}/?lang={lang}")
            page.locator("#home-targets-q").fill(name_zh if lang == "zh" else name_en)
            with page.expect_navigation():
                tap(page.locator("form.tb-home button[type=submit]"))
            assert "/targets?" in page.url
            row = page.locator(f"#row-{target_id}")
            assert row.count() == 1, f"{target_id} is not on the first page of results for its name"
            source = row.locator("a.tb-source")
            assert source.is_visible()  # one tap away without opening the row
            if n % 2:  # open the row: its sentence, quoted, and the same link
                tap(row.locator("summary"))
                assert row.locator("blockquote").is_visible()
                assert row.locator("blockquote").inner_text().strip() == quote_zh
            with page.expect_navigation():
                tap(source)
            anchor = f"t-{target_id}"
            assert page.url.endswith(f"/policies/{policy_id}#{anchor}")
            mark = page.locator(f"mark:has(#{anchor}), mark#{anchor}").first
            assert mark.evaluate("m => m.matches(':target') || m.querySelector(':target') !== null")
            assert mark.evaluate("m => getComputedStyle(m).outlineStyle") == "solid"  # highlighted
            box = mark.bounding_box()
            assert box is not None and 0 <= box["y"] < page.viewport_size["height"]  # on the screen
            assert taps <= 3, f"{target_id}: {taps} taps"
            if n == 0:
                page.screenshot(path=str(SCREENSHOTS / f"targets-tap-{lang}-phone.png"))
        assert problems == []
    finally:
        context.close()
