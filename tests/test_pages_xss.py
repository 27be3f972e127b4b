"""Records that contain HTML and script are shown as text: nothing they carry ever runs.

Hostile rows are in the test sample (tests/hostile.py: payloads in every table, generated from the
schemas so they pass validation), built with the pipeline and served by a real Datasette process.
Chromium then opens the pages that show them, and pages that echo visitor input, twice: once with
the Content-Security-Policy bypassed, so escaping alone must hold, and once with it, where no
violation may even be reported (a violation would mean markup got through escaping).
"""

from __future__ import annotations

from urllib.parse import quote

import pytest
from datasette.utils import tilde_encode
from hostile import PAYLOADS

from kechuang.model.schema import TableSchema, load_schemas
from kechuang.project import Project

pytestmark = [pytest.mark.browser, pytest.mark.slow]

WATCH = """
window.__violations = [];
document.addEventListener("securitypolicyviolation", (e) => {
  window.__violations.push(e.violatedDirective + " " + (e.blockedURI || "inline"));
});
"""


# What a page shows of the payloads: whether one ran, left an element that runs script, or is shown as text.
PROBE = """() => ({
  pwned: window.__pwned ?? null,
  markup: document.querySelectorAll('[onerror], [onload], iframe[srcdoc]').length,
  javascript_links: [...document.links].filter(a => a.protocol === 'javascript:').length,
  violations: window.__violations,
  shown: document.body.innerText.includes('window.__pwned'),
})"""


SITE_ITEM_ROUTES = ("targets", "policies", "indicators", "agencies", "platforms", "funds", "events", "glossary")
SITE_PAGES = (
    "/", "/targets", "/policies", "/indicators", "/agencies", "/data-dictionary", "/downloads", "/about", "/glossary"
)


def hostile_paths(rows: dict[str, list[dict[str, str]]], schemas: dict[str, TableSchema]) -> list[str]:
    """Pages that show the hostile records, and pages that echo hostile visitor input."""
    payload = PAYLOADS[0].format(tag="reflected")
    paths = list(SITE_PAGES)
    for table, table_rows in rows.items():
        keys = schemas[table].primary_key
        paths.append(f"/kechuang/{table}")
        paths += [f"/kechuang/{table}/" + ",".join(tilde_encode(r[k]) for k in keys) for r in table_rows]
        paths.append(f"/kechuang?sql={quote(f'select * from {table} limit 20')}")
        text_column = next((name for name, value in table_rows[0].items() if "<" in value), None)
        if text_column:
            paths.append(f"/kechuang/{table}?_facet={text_column}&{text_column}__contains=%3C")
        if table in SITE_ITEM_ROUTES:
            paths += [f"/{table}/{quote(r['id'], safe='')}" for r in table_rows]
    paths.append(f"/kechuang?sql={quote(f'select {chr(39)}{payload}{chr(39)} as x')}")
    paths.append(f"/kechuang/{quote(payload, safe='')}")
    paths.append(f"/kechuang/jurisdictions?_where={quote(payload)}")
    paths.append(f"/kechuang/jurisdictions?name_en__contains={quote(payload)}")
    paths += [f"/targets?{name}={quote(payload)}" for name in ("jurisdiction", "policy", "indicator", "agency", "q")]
    # hostile records in the list; a hostile filter value named in the empty state and its "remove" links
    paths += [f"/targets?q={quote('pwned window')}", f"/targets?q={quote('pwned window')}&jurisdiction={quote(payload)}"]
    paths += [f"/{route}/{quote(payload, safe='')}" for route in SITE_ITEM_ROUTES]
    paths += [f"/-/search?q={quote(words)}" for words in ("pwned window", "script alert", "onerror img", payload)]
    return paths


@pytest.mark.parametrize("enforce_policy", [False, True], ids=["escaping alone", "with the policy"])
def test_hostile_records_never_execute(chromium, hostile, enforce_policy):
    portal, rows = hostile
    context = chromium.new_context(bypass_csp=not enforce_policy)
    context.add_init_script(WATCH)
    page = context.new_page()
    dialogs: list[str] = []

    def dismiss(dialog) -> None:
        dialogs.append(dialog.message)
        dialog.dismiss()

    page.on("dialog", dismiss)
    shown = 0
    try:
        for path in hostile_paths(rows, load_schemas(Project.locate().schemas)):
            page.goto(portal.base_url + path)
            page.wait_for_load_state("load")
            seen = page.evaluate(PROBE)  # one round trip to the page for all the checks
            assert seen["pwned"] is None, path
            assert seen["markup"] == 0, path
            assert seen["javascript_links"] == 0, path
            if enforce_policy:
                assert seen["violations"] == [], path
            shown += seen["shown"]
    finally:
        context.close()
    assert dialogs == []
    assert shown >= len(rows) * 2, "the hostile records were not displayed: the test would prove nothing"
