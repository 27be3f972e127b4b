"""What changed between two releases, record by record: added, removed and changed per table by primary key.

Both databases describe themselves (their `_meta` table holds the schemas they were built with),
so a release compares with any older one even after the data model moved on. Only the curated
fields are compared: the built columns (offsets, base values, source texts) follow from them.
"""

from __future__ import annotations

import re
import sqlite3
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kechuang.model.meta import read_meta
from kechuang.model.schema import TableSchema
from kechuang.text.numerals import format_number

Key = tuple[Any, ...]
MARKDOWN_LIMIT = 200  # records listed per section in CHANGELOG.md; changes.json always lists all


@dataclass
class TableChanges:
    """The changes to one table, each record named by its primary key."""

    table: str
    title_zh: str
    primary_key: tuple[str, ...]
    label_column: str | None
    added: list[dict[str, Any]] = field(default_factory=list)
    removed: list[dict[str, Any]] = field(default_factory=list)
    changed: list[tuple[dict[str, Any], dict[str, tuple[Any, Any]], str]] = field(default_factory=list)
    columns_added: list[str] = field(default_factory=list)
    columns_removed: list[str] = field(default_factory=list)
    withdrawn: dict[str, dict[str, str]] = field(default_factory=dict)  # id → withdrawn_in and reasons

    @property
    def empty(self) -> bool:
        return not (self.added or self.removed or self.changed or self.columns_added or self.columns_removed)

    def key_of(self, record: dict[str, Any]) -> dict[str, Any]:
        return {k: record[k] for k in self.primary_key}


@dataclass
class ReleaseInfo:
    version: str
    date: str


def database_schemas(conn: sqlite3.Connection) -> dict[str, TableSchema]:
    """The schemas a built database was compiled from, as recorded in its `_meta` table."""
    return read_meta(conn).model.tables


def release_info(conn: sqlite3.Connection) -> ReleaseInfo:
    meta = read_meta(conn)
    return ReleaseInfo(meta.get("release_version"), meta.get("release_date"))


def plain(value: Any, type_: str) -> Any:
    """A stored value as the schema means it: booleans as true/false, whole numbers without `.0`."""
    if value is None:
        return None
    if type_ == "boolean":
        return bool(value)
    if type_ == "number" and isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def read_records(conn: sqlite3.Connection, schema: TableSchema, columns: list[str]) -> dict[Key, dict[str, Any]]:
    """Every row of a table keyed by primary key, with the given curated columns, typed as the schema says."""
    types = {f.name: f.type for f in schema.fields}
    names = ", ".join(f"[{c}]" for c in columns)
    rows = conn.execute(f"select {names} from [{schema.name}]")
    records = {}
    for row in rows:
        record = {c: plain(v, types[c]) for c, v in zip(columns, row, strict=True)}
        records[tuple(record[k] for k in schema.primary_key)] = record
    return records


def _sort_key(key: Key) -> tuple:
    return tuple((value is None, str(value)) for value in key)


def diff_table(
    old_conn: sqlite3.Connection | None, old: TableSchema | None, new_conn: sqlite3.Connection, new: TableSchema
) -> TableChanges:
    new_columns = list(new.field_names)
    changes = TableChanges(new.name, new.title_zh, new.primary_key, new.label_column)
    if old is None or old_conn is None:
        records = read_records(new_conn, new, new_columns)
        changes.added = [records[k] for k in sorted(records, key=_sort_key)]
        return changes
    old_columns = list(old.field_names)
    shared = [c for c in new_columns if c in old_columns and c not in new.primary_key]
    changes.columns_added = [c for c in new_columns if c not in old_columns]
    changes.columns_removed = [c for c in old_columns if c not in new_columns]
    before = read_records(old_conn, old, old_columns)
    after = read_records(new_conn, new, new_columns)
    for key in sorted(after.keys() - before.keys(), key=_sort_key):
        changes.added.append(after[key])
    for key in sorted(before.keys() - after.keys(), key=_sort_key):
        changes.removed.append(before[key])
    for key in sorted(after.keys() & before.keys(), key=_sort_key):
        fields = {c: (before[key][c], after[key][c]) for c in shared if before[key][c] != after[key][c]}
        if fields:
            label = str(after[key].get(new.label_column) or "") if new.label_column else ""
            changes.changed.append((changes.key_of(after[key]), fields, label))
    return changes


def withdrawals(conn: sqlite3.Connection) -> dict[str, dict[str, dict[str, str]]]:
    """table → id → {withdrawn_in, reason_zh, reason_en}, from the release's `withdrawn` table."""
    if not conn.execute("select 1 from sqlite_master where type = 'table' and name = 'withdrawn'").fetchone():
        return {}
    found: dict[str, dict[str, dict[str, str]]] = {}
    for table, id_, withdrawn_in, reason_zh, reason_en in conn.execute(
        "select [table], id, withdrawn_in, reason_zh, reason_en from withdrawn"
    ):
        found.setdefault(table, {})[id_] = {
            "withdrawn_in": withdrawn_in,
            "reason_zh": reason_zh,
            "reason_en": reason_en,
        }
    return found


def diff_databases(old_db: Path | None, new_db: Path) -> dict[str, TableChanges]:
    """Changes per table from `old_db` (None for the first release) to `new_db`."""
    new_conn = sqlite3.connect(f"file:{new_db}?mode=ro", uri=True)
    old_conn = sqlite3.connect(f"file:{old_db}?mode=ro", uri=True) if old_db else None
    try:
        new_schemas = database_schemas(new_conn)
        old_schemas = database_schemas(old_conn) if old_conn else {}
        result = {name: diff_table(old_conn, old_schemas.get(name), new_conn, s) for name, s in new_schemas.items()}
        for table, ids in withdrawals(new_conn).items():
            if table in result and len(result[table].primary_key) == 1:
                gone = {str(r[result[table].primary_key[0]]) for r in result[table].removed}
                result[table].withdrawn = {id_: why for id_, why in ids.items() if id_ in gone}
        for name, schema in old_schemas.items():
            if name not in new_schemas and old_conn is not None:
                gone = TableChanges(name, schema.title_zh, schema.primary_key, schema.label_column)
                records = read_records(old_conn, schema, list(schema.field_names))
                gone.removed = [records[k] for k in sorted(records, key=_sort_key)]
                gone.columns_removed = list(schema.field_names)
                result[name] = gone
        return result
    finally:
        new_conn.close()
        if old_conn:
            old_conn.close()


def changes_document(
    release: ReleaseInfo, previous: ReleaseInfo | None, tables: dict[str, TableChanges]
) -> dict[str, Any]:
    """changes.json: the same facts as CHANGELOG.md, complete, for programs."""
    body = {}
    for name, t in tables.items():
        body[name] = {
            "primary_key": list(t.primary_key),
            "columns_added": t.columns_added,
            "columns_removed": t.columns_removed,
            "added": [{"key": t.key_of(r), "record": r} for r in t.added],
            "removed": [_removed_entry(t, r) for r in t.removed],
            "changed": [
                {"key": key, "fields": {f: {"old": old, "new": new} for f, (old, new) in fields.items()}}
                for key, fields, _label in t.changed
            ],
        }
    return {
        "release": {"version": release.version, "date": release.date},
        "previous": {"version": previous.version, "date": previous.date} if previous else None,
        "summary": summary(tables),
        "tables": body,
    }


def _withdrawal_of(t: TableChanges, record: dict[str, Any]) -> dict[str, str] | None:
    return t.withdrawn.get(str(record[t.primary_key[0]])) if len(t.primary_key) == 1 else None


def _removed_entry(t: TableChanges, record: dict[str, Any]) -> dict[str, Any]:
    entry = {"key": t.key_of(record), "record": record}
    if withdrawal := _withdrawal_of(t, record):
        entry["withdrawn"] = withdrawal
    return entry


def summary(tables: dict[str, TableChanges]) -> dict[str, int]:
    return {
        "added": sum(len(t.added) for t in tables.values()),
        "removed": sum(len(t.removed) for t in tables.values()),
        "changed": sum(len(t.changed) for t in tables.values()),
    }


def _code(text: str) -> str:
    """A Markdown code span that holds `text` unchanged, whatever backticks it contains."""
    runs = [len(run) for run in re.findall(r"`+", text)]
    fence = "`" * (max(runs, default=0) + 1)
    return f"{fence} {text} {fence}" if runs or text.startswith(" ") else f"{fence}{text}{fence}"


def _shown(value: Any, width: int = 120) -> str:
    if value is None or value == "":
        return "*(empty)*"
    if isinstance(value, bool):
        text = "true" if value else "false"
    elif isinstance(value, float):
        text = format_number(value)
    else:
        text = str(value)
    return _code(text if len(text) <= width else text[: width - 1] + "…")


def _key_text(key: dict[str, Any]) -> str:
    return ", ".join(_code(str(v)) for v in key.values())


def _record_line(t: TableChanges, record: dict[str, Any]) -> str:
    label = record.get(t.label_column) if t.label_column and t.label_column not in t.primary_key else None
    line = f"- {_key_text(t.key_of(record))}" + (f" {label}" if label else "")
    if withdrawal := _withdrawal_of(t, record):
        line += f" — withdrawn: {withdrawal['reason_en']} · {withdrawal['reason_zh']}"
    return line


def _count(number: int, noun: str) -> str:
    return f"{number} {noun}" + ("" if number == 1 else "s")


def _more(total: int) -> list[str]:
    return [f"- … and {total - MARKDOWN_LIMIT} more (see changes.json)"] if total > MARKDOWN_LIMIT else []


def render_markdown(release: ReleaseInfo, previous: ReleaseInfo | None, tables: dict[str, TableChanges]) -> str:
    """CHANGELOG.md: a table of counts, then every added, removed and changed record by id."""
    out = [f"# Kechuang data release {release.version}", ""]
    if previous:
        out += [f"Released {release.date}, compared with release {previous.version} ({previous.date}).", ""]
    else:
        out += [f"Released {release.date}. This is the first release: every record is new.", ""]
    totals = summary(tables)
    out += [
        f"{_count(totals['added'], 'record')} added, {totals['removed']} removed, {totals['changed']} changed. "
        "Records are named by their primary key; `changes.json` lists the same changes for programs, "
        "with every field of added and removed records.",
        "",
    ]
    touched = {name: t for name, t in tables.items() if not t.empty}
    if not touched:
        return "\n".join([*out, "No record changed.", ""])
    out += ["| table | added | removed | changed |", "|---|---:|---:|---:|"]
    for name, t in touched.items():
        out.append(f"| `{name}` {t.title_zh} | {len(t.added)} | {len(t.removed)} | {len(t.changed)} |")
    out.append("")
    if previous is None:
        return "\n".join(out)
    for name, t in touched.items():
        out += [f"## `{name}` {t.title_zh}".rstrip(), ""]
        if t.columns_added or t.columns_removed:
            if t.columns_added:
                out.append("Columns added: " + ", ".join(f"`{c}`" for c in t.columns_added) + ".")
            if t.columns_removed:
                out.append("Columns removed: " + ", ".join(f"`{c}`" for c in t.columns_removed) + ".")
            out.append("")
        for heading, records in (("Added", t.added), ("Removed", t.removed)):
            if records:
                out += [f"### {heading}", ""]
                out += [_record_line(t, r) for r in records[:MARKDOWN_LIMIT]] + _more(len(records))
                out.append("")
        if t.changed:
            out += ["### Changed", ""]
            for key, fields, label in t.changed[:MARKDOWN_LIMIT]:
                out.append(f"- {_key_text(key)}" + (f" {label}" if label else ""))
                out += [f"  - `{f}`: {_shown(old)} → {_shown(new)}" for f, (old, new) in fields.items()]
            out += [*_more(len(t.changed)), ""]
    return "\n".join(out)
