"""Datasette's own pages work under the Content-Security-Policy, with no violation in the console.

Datasette 0.65 carries three inline scripts (table settings, SQL editor set-up, menu closing); our
templates load the same code from site/static instead. These tests drive the table page and the SQL
editor in Chromium, and check that the copies still match the Datasette version installed.
"""

from __future__ import annotations

import re
from pathlib import Path

import datasette
import pytest

from conftest import ROOT

pytestmark = pytest.mark.browser

DATASETTE_TEMPLATES = Path(datasette.__file__).parent / "templates"
LISTEN = """
window.__violations = [];
document.addEventListener("securitypolicyviolation", (e) => {
  window.__violations.push(e.violatedDirective + " " + (e.blockedURI || "inline"));
});
"""


@pytest.fixture(scope="module")
def portal(live_portal):
    """A browser needs a served portal: the real data, served by a real `datasette serve` process."""
    return live_portal


@pytest.fixture
def page(chromium):
    context = chromium.new_context()
    context.add_init_script(LISTEN)
    page = context.new_page()
    page.problems = []
    page.on("console", lambda m: page.problems.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: page.problems.append(str(e)))
    yield page
    context.close()


def assert_clean(page) -> None:
    assert page.evaluate("window.__violations") == []
    assert page.problems == []


@pytest.mark.parametrize(
    ("template", "copy"),
    [("_codemirror_foot.html", "datasette-codemirror.js"), ("_close_open_menus.html", "datasette-close-menus.js")],
)
def test_static_copies_match_datasettes_inline_scripts(template, copy):
    inline = re.search(r"<script>\n?(.*?)</script>", (DATASETTE_TEMPLATES / template).read_text(), re.S).group(1)
    ours = (ROOT / "site" / "static" / copy).read_text()
    code = "".join(line + "\n" for line in ours.splitlines() if not line.startswith("//"))
    assert code == inline, f"Datasette's {template} changed: update site/static/{copy}"


def test_table_page_works_under_the_policy(portal, page):
    page.goto(portal.base_url + "/kechuang/units")
    assert page.evaluate("window.DATASETTE_ALLOW_FACET") is True
    first = page.locator("th.col-unit_en")
    first.hover()
    first.locator("svg.dropdown-menu-icon").click()
    menu = page.locator(".dropdown-menu")
    assert menu.is_visible()
    assert menu.get_by_text("Facet by this").count() == 1
    menu.get_by_text("Sort descending").click()
    page.wait_for_url("**_sort_desc=unit_en**")
    values = page.locator("td.col-unit_en").all_inner_texts()
    assert values == sorted(values, reverse=True)
    assert_clean(page)


def test_sql_editor_works_under_the_policy(portal, page):
    count = portal.get("/kechuang/units.json?_size=0").json()["filtered_table_rows_count"]
    page.goto(portal.base_url + "/kechuang")
    assert page.locator(".CodeMirror").count() == 1
    page.evaluate("document.querySelector('.CodeMirror').CodeMirror.setValue('select count(*) as n from units')")
    format_button = page.locator("button#sql-format")
    assert format_button.is_visible()
    format_button.click()
    assert "\n" in page.evaluate("document.querySelector('.CodeMirror').CodeMirror.getValue()")
    page.locator(".CodeMirror textarea").focus()
    page.keyboard.press("Shift+Enter")
    page.wait_for_url("**sql=**")
    assert page.locator("td.col-n").inner_text() == str(count)
    assert_clean(page)


def test_open_menus_close_on_outside_click(portal, page):
    page.goto(portal.base_url + "/kechuang/units")
    page.evaluate(
        "document.querySelector('section.content').insertAdjacentHTML('afterbegin',"
        " '<details id=probe open><summary>menu</summary>items</details>')"
    )
    page.locator("h1").click()
    assert page.evaluate("document.getElementById('probe').open") is False
    assert_clean(page)


@pytest.mark.parametrize(
    "path",
    [
        "/",
        "/kechuang",
        "/kechuang/units",
        "/kechuang/units?_facet=base_unit",
        "/kechuang/jurisdictions/wuhan",
        "/kechuang?sql=select+*+from+units",
        "/kechuang/no_such_table",
        "/kechuang?sql=with+recursive+r(i)+as+(select+1+union+all+select+i%2B1+from+r)+select+count(*)+from+r&_timelimit=20",
        "/-/metadata",
    ],
)
def test_datasette_pages_raise_no_policy_violation(portal, page, path):
    page.goto(portal.base_url + path)
    page.wait_for_load_state("load")
    assert page.evaluate("window.__violations") == []
    assert [p for p in page.problems if "Failed to load resource" not in p] == []


def test_every_page_linked_from_the_home_page_raises_no_policy_violation(portal, page):
    """The site's pages (and whatever else the home page links to) keep to the policy too."""
    page.goto(portal.base_url + "/")
    links = page.evaluate(
        "[...new Set([...document.querySelectorAll('a[href]')].map(a => a.href)"
        ".filter(h => h.startsWith(location.origin) && !h.endsWith('.db') && !h.includes('/releases/')))]"
    )
    assert len(links) >= 5, links
    for link in [portal.base_url + "/", *links[:40]]:
        page.goto(link)
        page.wait_for_load_state("load")
        assert page.evaluate("window.__violations") == [], link
    assert [p for p in page.problems if "Failed to load resource" not in p] == []
