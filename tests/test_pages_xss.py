"""Records that contain HTML and script are shown as text: nothing they carry ever runs.

Hostile rows are added to a copy of the real datasets (every text field of a few tables, rows
generated from the schemas so they pass validation), built with `kechuang build` and served.
Chromium then opens the pages that show them, and pages that echo visitor input, twice: once with
the Content-Security-Policy bypassed, so escaping alone must hold, and once with it, where no
violation may even be reported (a violation would mean markup got through escaping).
"""

from __future__ import annotations

import csv
import shutil
from pathlib import Path
from urllib.parse import quote

import pytest
from datasette.utils import tilde_encode

from kechuang.compile import build_database
from kechuang.project import Project
from kechuang.schemas import TableSchema, load_schemas

pytestmark = [pytest.mark.browser, pytest.mark.slow]

# Fields that rules tie to other text (a figure must occur in its quote, a source file must exist).
RULE_BOUND = frozenset({"figure_zh", "source_file", "source_id"})
PAYLOADS = [
    '<script>window.__pwned="{tag}"</script>',
    '<img src=x onerror="window.__pwned=\'{tag}\'">',
    '"><svg onload="window.__pwned=\'{tag}\'">',
    "'><iframe srcdoc=\"<script>parent.__pwned='{tag}'</script>\"></iframe>",
    '</textarea></title><script>alert("{tag}")</script>',
    '<a href="javascript:window.__pwned=\'{tag}\'">{tag}</a>',
    "{{{{7*7}}}} {{% raw %}}{tag}",
]
WATCH = """
window.__violations = [];
document.addEventListener("securitypolicyviolation", (e) => {
  window.__violations.push(e.violatedDirective + " " + (e.blockedURI || "inline"));
});
"""


def first_values(datasets: Path, table: str, column: str) -> str:
    with (datasets / f"{table}.csv").open(encoding="utf-8", newline="") as f:
        return next(csv.DictReader(f))[column]


def is_free_text(schema: TableSchema, name: str) -> bool:
    """A text field no rule constrains: any string passes validation there."""
    field = schema.field(name)
    return (
        field.type == "string"
        and not (field.verbatim or field.enum or field.pattern)
        and name not in schema.primary_key
        and schema.foreign_key_for(name) is None
        and name not in RULE_BOUND
    )


def hostile_row(schema: TableSchema, datasets: Path, serial: int) -> dict[str, str]:
    """A new row that passes validation with a script payload in every free-text field."""
    row: dict[str, str] = {}
    for position, field in enumerate(schema.fields):
        fk = schema.foreign_key_for(field.name)
        if field.name in schema.primary_key and field.type == "string":
            row[field.name] = f"xss-{schema.name}-{serial}"
        elif fk is not None:
            row[field.name] = first_values(datasets, fk.table, fk.columns[0])
        elif field.enum:
            row[field.name] = field.enum[0]
        elif field.type in ("integer", "number"):
            row[field.name] = str(int(field.minimum or 1))
        elif field.type == "boolean":
            row[field.name] = "false"
        elif field.type == "date":
            row[field.name] = "2024-01-01"
        else:
            tag = f"{schema.name}.{field.name}.{serial}"
            row[field.name] = PAYLOADS[(position + serial) % len(PAYLOADS)].format(tag=tag)
    return row


def poison(schema: TableSchema, datasets: Path) -> list[dict[str, str]]:
    """Make the table hostile; return its hostile rows.

    A table with verbatim text or patterned fields gets payloads in the free-text fields of its first
    row (its quotes must stay true to the source); any other table gets two new rows of payloads.
    """
    path = datasets / f"{schema.name}.csv"
    with path.open(encoding="utf-8", newline="") as f:
        reader = csv.DictReader(f)
        header, rows = list(reader.fieldnames or []), list(reader)
    bound = any(f.verbatim or (f.pattern and f.name != "id") or f.name in RULE_BOUND for f in schema.fields)
    if bound or schema.primary_key != ("id",):
        if not rows:
            return []
        for position, name in enumerate(header):
            if is_free_text(schema, name) and rows[0][name]:
                rows[0][name] = PAYLOADS[position % len(PAYLOADS)].format(tag=f"{schema.name}.{name}")
        hostile = [rows[0]]
    else:
        hostile = [hostile_row(schema, datasets, serial) for serial in range(2)]
        rows += hostile
    with path.open("w", encoding="utf-8", newline="") as f:
        writer = csv.DictWriter(f, header, lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
    return hostile


@pytest.fixture(scope="module")
def hostile(project: Project, tmp_path_factory, start_portal):
    """The real datasets with payloads in every table, built and served; returns the portal and the rows."""
    root = tmp_path_factory.mktemp("hostile")
    datasets = root / "datasets"
    shutil.copytree(project.datasets, datasets)
    rows = {name: poison(schema, datasets) for name, schema in load_schemas(project.schemas).items()}
    db = build_database(Project(root=project.root, datasets=datasets, schemas=project.schemas), root / "kechuang.db")
    return start_portal(db.path), {name: table_rows for name, table_rows in rows.items() if table_rows}


SITE_ITEM_ROUTES = ("targets", "policies", "indicators", "agencies", "platforms", "funds", "events")
SITE_PAGES = ("/", "/targets", "/policies", "/indicators", "/agencies", "/data-dictionary", "/downloads", "/about")


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
    paths += [f"/targets?{name}={quote(payload)}" for name in ("jurisdiction", "policy", "indicator", "agency")]
    paths += [f"/{route}/{quote(payload, safe='')}" for route in SITE_ITEM_ROUTES]
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
            assert page.evaluate("window.__pwned") is None, path
            assert page.evaluate("document.querySelectorAll('[onerror], [onload], iframe[srcdoc]').length") == 0, path
            assert page.evaluate("[...document.links].filter(a => a.protocol === 'javascript:').length") == 0, path
            if enforce_policy:
                assert page.evaluate("window.__violations") == [], path
            shown += "window.__pwned" in page.evaluate("document.body.innerText")
    finally:
        context.close()
    assert dialogs == []
    assert shown >= len(rows) * 2, "the hostile records were not displayed: the test would prove nothing"
