"""Hostile data: script and markup payloads in every table of the test sample.

New rows of payloads where the schema allows free text everywhere; elsewhere (verbatim quotes,
patterned fields, compound keys) the free-text fields of the first row. The result passes
validation, so it is built and served like real data (fixture `sample` in conftest.py) and used by
the browser tests, the API fuzzing and the site's escaping tests.
"""

from __future__ import annotations

import csv
from pathlib import Path

from kechuang.model.schema import TableSchema, load_schemas

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


def poison_all(datasets: Path, schemas: Path) -> dict[str, list[dict[str, str]]]:
    """Make every table of `datasets` hostile, in place; return the hostile rows by table."""
    rows = {name: poison(schema, datasets) for name, schema in load_schemas(schemas).items() if schema.curated}
    return {name: table_rows for name, table_rows in rows.items() if table_rows}


# Records whose English text is markup, under ids the site's escaping tests open (tests/test_site_pages.py).
MARKUP = '<script>alert("x")</script><img src=x onerror=alert(1)>'


def markup_rows(datasets: Path) -> dict[str, list[dict[str, str]]]:
    """A target, an agency, a platform (and its mention) and an indicator that carry markup in their text."""

    def first(table: str, condition=lambda row: True) -> dict[str, str]:
        with (datasets / f"{table}.csv").open(encoding="utf-8", newline="") as f:
            return dict(next(row for row in csv.DictReader(f) if condition(row)))

    target = first("targets", lambda row: bool(row["measure_id"])) | {
        "id": "hostile-target",
        "name_en": MARKUP,
        "quote_en": MARKUP,
        "note_en": MARKUP,
        "indicator_id": "hostile-indicator",
    }
    agency = first("agencies") | {"id": "hostile-agency", "name_en": MARKUP, "note_en": MARKUP}
    platform = first("platforms") | {"id": "hostile-platform", "name_en": MARKUP}
    mention = first("platform_mentions") | {"platform_id": "hostile-platform", "quote_en": MARKUP}
    indicator = {
        "id": "hostile-indicator",
        "name_zh": "指标",
        "name_en": MARKUP,
        "base_unit": "CNY",
        "measure_kind": "annual_amount",  # the kind of the sample's first target (turnover by the deadline)
        "description_zh": "说明",
        "description_en": MARKUP,
    }
    return {
        "targets": [target],
        "agencies": [agency],
        "measure_agencies": [
            {"measure_id": target["measure_id"], "agency_id": "hostile-agency", "role": "lead", "position": "9"}
        ],
        "platforms": [platform],
        "platform_mentions": [mention],
        "indicators": [indicator],
    }
