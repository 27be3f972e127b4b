"""Accessibility of every page type, the portal's and Datasette's, checked by axe-core in real Chromium.

axe-core (npm) is installed by `scripts/bootstrap --test` into the user's cache, outside the checkout; it is
injected into each page by Playwright. Every page type, in both languages, at phone and desktop width, has
no critical and no serious violation and declares its language. One browser page does it all, on the
small sample portal (Datasette's table pages limited to a few rows: axe's time grows with the nodes).
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from site_support import first
from site_support import page_types as site_page_types

from conftest import Portal

pytest.importorskip("playwright.sync_api")

pytestmark = [pytest.mark.browser, pytest.mark.slow]
CACHE = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "kechuang"
AXE = Path(os.environ.get("KECHUANG_AXE") or CACHE / "npm" / "node_modules" / "axe-core" / "axe.min.js")
VIEWPORTS = ({"width": 375, "height": 812}, {"width": 1280, "height": 900})
HTML_LANG = {"zh": "zh-Hans", "en": "en"}
# pages checked in English only (the API reference now speaks both languages: none left)
ENGLISH_ONLY: set[str] = set()
RUN_AXE = """async () => {
  const result = await axe.run(document, {resultTypes: ['violations']});
  return result.violations.filter(v => v.impact === 'critical' || v.impact === 'serious').map(v =>
    `${v.impact} ${v.id} (${v.nodes.length}): ${v.nodes[0].target.join(' ')}: ${v.nodes[0].failureSummary}`);
}"""


def page_types(db: Path) -> dict[str, str]:
    """One address per page type, ids from the served database, and Datasette's."""
    return {
        **site_page_types(db),
        "targets keyword": "/targets?q=" + first(db, "select name_zh from indicators order by id") + "&jurisdiction=wuhan",
        "search": "/-/search?q=" + first(db, "select name_zh from indicators order by id"),
        "search empty": "/-/search?q=zzqqxxjj",
        "site error": "/targets/no-such-target",
        "datasette database": "/kechuang",
        "datasette table": "/kechuang/targets?_facet=status&deadline_year__gte=2000&_sort=id&_size=5",
        "datasette row": "/kechuang/agencies/" + first(db, "select id from agencies order by id"),
        "datasette query": "/kechuang?sql=select+id,+name_zh+from+agencies+limit+5",
        "datasette canned query": "/kechuang/targets_due_by_year?year=2025",
        "datasette error": "/kechuang/no_such_table",
    }


@pytest.fixture(scope="module")
def axe_source() -> Path:
    if not AXE.exists():
        pytest.skip(f"axe-core is not installed at {AXE}: run scripts/bootstrap --test")
    return AXE


def test_every_page_type_has_no_serious_accessibility_violation(chromium, live_sample_portal: Portal, axe_source):
    portal = live_sample_portal
    # bypass_csp: the portal's Content-Security-Policy would refuse the injected axe script
    context = chromium.new_context(bypass_csp=True)
    context.add_init_script(path=str(axe_source))
    page = context.new_page()
    found: dict[str, list[str]] = {}
    try:
        for lang in ("zh", "en"):
            context.add_cookies([{"name": "kechuang_lang", "value": lang, "url": portal.base_url}])
            for name, path in page_types(portal.db).items():
                if name in ENGLISH_ONLY and lang != "en":
                    continue
                page.set_viewport_size(VIEWPORTS[0])
                response = page.goto(portal.base_url + path)
                problems = [] if response and response.status < 500 else [f"status {response and response.status}"]
                if (declared := page.locator("html").get_attribute("lang")) != HTML_LANG[lang]:
                    problems.append(f"<html lang={declared!r}>")
                for viewport in VIEWPORTS:  # the same page resized: no second load
                    page.set_viewport_size(viewport)
                    if seen := problems + page.evaluate(RUN_AXE):
                        found[f"{name} ({lang}, {viewport['width']}px) {path}"] = seen
    finally:
        context.close()
    assert found == {}
