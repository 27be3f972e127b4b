"""Records that contain HTML and script are shown as text: nothing they carry ever runs.

Hostile rows are added to a copy of the real datasets (every text field of a few tables, rows
generated from the schemas so they pass validation), built with `kechuang build` and served.
Chromium then opens the pages that show them, and pages that echo visitor input, twice: once with
the Content-Security-Policy bypassed, so escaping alone must hold, and once with it, where no
violation may even be reported (a violation would mean markup got through escaping).
"""

from __future__ import annotations

import csv
from pathlib import Path
from urllib.parse import quote

import pytest

from kechuang.compile import build_database
from kechuang.project import Project
from kechuang.schemas import TableSchema, load_schemas

pytestmark = [pytest.mark.browser, pytest.mark.slow]

# Tables whose text fields carry no verbatim-quote rule, so any text passes validation.
HOSTILE_TABLES = ("jurisdictions", "indicators", "glossary")
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


def hostile_row(schema: TableSchema, schemas: dict[str, TableSchema], datasets: Path, serial: int) -> dict[str, str]:
    """A row that passes validation with a script payload in every free-text field."""
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


def append_rows(path: Path, rows: list[dict[str, str]]) -> None:
    with path.open(encoding="utf-8", newline="") as f:
        header = next(csv.reader(f))
    with path.open("a", encoding="utf-8", newline="") as f:
        writer = csv.writer(f, lineterminator="\n")
        for row in rows:
            writer.writerow([row.get(name, "") for name in header])


@pytest.fixture(scope="module")
def hostile(project: Project, tmp_path_factory, start_portal):
    """The real datasets plus hostile rows, built and served; returns the portal and the rows."""
    root = tmp_path_factory.mktemp("hostile")
    datasets = root / "datasets"
    import shutil

    shutil.copytree(project.datasets, datasets)
    schemas = load_schemas(project.schemas)
    rows = {}
    for table in HOSTILE_TABLES:
        rows[table] = [hostile_row(schemas[table], schemas, datasets, serial) for serial in range(2)]
        append_rows(datasets / f"{table}.csv", rows[table])
    db = build_database(Project(root=project.root, datasets=datasets, schemas=project.schemas), root / "kechuang.db")
    return start_portal(db.path), rows


def hostile_paths(rows: dict[str, list[dict[str, str]]]) -> list[str]:
    """Pages that show the hostile records, and pages that echo hostile visitor input."""
    payload = PAYLOADS[0].format(tag="reflected")
    paths = []
    for table, table_rows in rows.items():
        paths.append(f"/kechuang/{table}")
        paths.append(f"/kechuang/{table}?_sort_desc=id")
        paths += [f"/kechuang/{table}/{row['id']}" for row in table_rows]
        paths.append(f"/kechuang?sql={quote(f'select * from {table}')}")
        text_column = next(name for name, value in table_rows[0].items() if "<" in value)
        paths.append(f"/kechuang/{table}?_facet={text_column}")
        paths.append(f"/kechuang/{table}?{text_column}__contains={quote(payload)}")
    paths.append("/kechuang/agencies?_facet=jurisdiction_id")
    paths.append(f"/kechuang?sql={quote(f'select {chr(39)}{payload}{chr(39)} as x')}")
    paths.append(f"/kechuang/{quote(payload, safe='')}")
    paths.append(f"/kechuang/jurisdictions?_where={quote(payload)}")
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
        for path in hostile_paths(rows):
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
    assert shown >= len(rows) * 3, "the hostile records were not displayed: the test would prove nothing"
