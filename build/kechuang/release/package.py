"""The release as a Frictionless Data Package: one CSV per table, exported from the released database.

The CSVs are written from the database, not copied from datasets/, so a download holds exactly
what the portal serves, built columns included; each table's schema is the Frictionless schema
from schemas/ with the built columns appended, so `frictionless validate` checks the download.
"""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import json
import re
import sqlite3
import zipfile
from pathlib import Path
from typing import Any

from kechuang.model.meta import read_meta
from kechuang.model.schema import TableSchema, frictionless_descriptor
from kechuang.text.numerals import format_number
from kechuang.text.spreadsheet import inert, workbook

DESCRIPTOR_FILE = "datapackage.json"
WORKBOOK_FILE = "kechuang.xlsx"
EXCEL_CSV_FILE = "kechuang-excel-csv.zip"
CHECKSUM_FILE = "SHA256SUMS"


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def csv_cell(value: Any, type_: str) -> str:
    """A stored value written as the schema type reads it back: true/false, and a number always with its
    decimal point (3000.0, 20.3), so that a CSV validated on its own, where Frictionless infers the types
    from its first rows, reads the column as the number it is declared, not as integers that a later 20.3
    breaks. A text cell that a spreadsheet would run as a formula is written as the API writes it."""
    if value is None:
        return ""
    if type_ == "boolean":
        return "true" if value else "false"
    if type_ == "number" and isinstance(value, (int, float)):
        text = format_number(value)
        return text if "." in text or "e" in text else text + ".0"
    return inert(str(value)) if type_ == "string" else str(value)


def table_fields(conn: sqlite3.Connection, schema: TableSchema) -> list[dict[str, Any]]:
    """The schema's fields, then the built columns the database has for this table."""
    present = {row[1] for row in conn.execute(f"pragma table_info([{schema.name}])")}
    fields = frictionless_descriptor(schema)["fields"]
    fields += [
        {"name": c.name, "type": c.type, "description": c.description} for c in schema.derived if c.name in present
    ]
    return fields


def export_table(conn: sqlite3.Connection, schema: TableSchema, fields: list[dict[str, Any]], path: Path) -> int:
    """Write one table as UTF-8 CSV ordered by primary key; returns the number of rows."""
    names = [f["name"] for f in fields]
    types = [f.get("type", "string") for f in fields]
    order = ", ".join(f"[{k}]" for k in schema.primary_key) or "rowid"
    columns = ", ".join(f"[{n}]" for n in names)
    count = 0
    with path.open("w", encoding="utf-8", newline="") as f:
        writer = csv.writer(f, lineterminator="\n")
        writer.writerow(names)
        for row in conn.execute(f"select {columns} from [{schema.name}] order by {order}"):
            writer.writerow([csv_cell(v, t) for v, t in zip(row, types, strict=True)])
            count += 1
    return count


def _text_of_html(html: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html)).strip()


def package_properties(conn: sqlite3.Connection, version: str, date: str) -> dict[str, Any]:
    """Package-level metadata: title, licence and source from the portal metadata the database was built with."""
    metadata = read_meta(conn).portal
    # The source texts travel inside the data (policies.csv, its text_zh column), not as files of their own:
    # a source names its document and where its text is, and no path the release would not ship.
    sources = [
        {"title": f"{title_zh} · {title_en}", "x_text": f"policies.csv, text_zh of id {policy_id}"}
        for policy_id, title_zh, title_en in conn.execute("select id, title_zh, title_en from policies order by id")
    ]
    return {
        "profile": "tabular-data-package",
        "name": "kechuang",
        "title": metadata.get("title", "Kechuang"),
        "description": _text_of_html(metadata.get("description_html", "")),
        "version": version,
        "created": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "x_release_date": date,
        "licenses": [
            {
                "name": "CC-BY-4.0",
                "path": metadata.get("license_url", "https://creativecommons.org/licenses/by/4.0/"),
                "title": metadata.get("license", "CC BY 4.0"),
            }
        ],
        "sources": sources,
    }


def write_package(db: Path, folder: Path, version: str, date: str) -> dict[str, int]:
    """Write <table>.csv for every table of the database's model and datapackage.json describing them.

    Returns row counts. The model is the one the database was built with (its `_meta`).

    The CSVs sit beside the database at the top of the release folder, where the downloads page
    and /releases/<version>/<file> (Datasette or nginx) find them one by one.
    """
    data = folder
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    counts: dict[str, int] = {}
    resources = []
    try:
        for name, schema in read_meta(conn).model.tables.items():
            fields = table_fields(conn, schema)
            path = data / f"{name}.csv"
            counts[name] = export_table(conn, schema, fields, path)
            table_schema = frictionless_descriptor(schema)
            table_schema["fields"] = fields
            resources.append(
                {
                    "name": name,
                    "path": f"{name}.csv",
                    "profile": "tabular-data-resource",
                    "title": f"{schema.title} · {schema.title_zh}" if schema.title_zh else schema.title,
                    "description": schema.description,
                    "format": "csv",
                    "mediatype": "text/csv",
                    "encoding": "utf-8",
                    "bytes": path.stat().st_size,
                    "hash": "sha256:" + sha256_of(path),
                    "schema": table_schema,
                }
            )
        descriptor = {**package_properties(conn, version, date), "resources": resources}
    finally:
        conn.close()
    (folder / DESCRIPTOR_FILE).write_text(json.dumps(descriptor, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    return counts


def validate_package(folder: Path) -> list[str]:
    """Frictionless's own verdict on the package: types, keys, foreign keys, sizes and hashes."""
    from frictionless import Package

    report = Package(str(folder / DESCRIPTOR_FILE)).validate()
    return [f"{task.name}: {error.message}" for task in report.tasks for error in task.errors] + [
        error.message for error in report.errors
    ]


def zip_package(folder: Path, archive_name: str, tables: list[str], extra: tuple[str, ...] = ()) -> Path:
    """A zip of datapackage.json, the tables' CSVs and the given extra files, paths relative to the package."""
    archive = folder / archive_name
    members = [folder / DESCRIPTOR_FILE, *(folder / f"{t}.csv" for t in tables), *(folder / e for e in extra)]
    with zipfile.ZipFile(archive, "w", compression=zipfile.ZIP_DEFLATED) as z:
        for member in members:
            z.write(member, member.relative_to(folder).as_posix())
    return archive


def zip_excel_csv(folder: Path, tables: list[str]) -> Path:
    """The tables' CSVs for Excel: each the same file with a UTF-8 byte-order mark, without which a Chinese
    Windows Excel reads it as GBK. One zip, so the package's own CSVs stay the only *.csv of the release."""
    archive = folder / EXCEL_CSV_FILE
    with zipfile.ZipFile(archive, "w", compression=zipfile.ZIP_DEFLATED) as z:
        for table in tables:
            z.writestr(f"{table}.csv", b"\xef\xbb\xbf" + (folder / f"{table}.csv").read_bytes())
    return archive


def write_checksums(folder: Path) -> Path:
    """SHA256SUMS in the format `sha256sum -c` reads, covering every other file of the release."""
    lines = []
    for path in sorted(p for p in folder.rglob("*") if p.is_file() and p.name != CHECKSUM_FILE):
        lines.append(f"{sha256_of(path)}  {path.relative_to(folder).as_posix()}")
    target = folder / CHECKSUM_FILE
    target.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return target


def write_workbook(db: Path, path: Path) -> Path:
    """Every table of the release as a sheet of one .xlsx, in key order, for a spreadsheet (no GBK mojibake,
    no formula run)."""
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        sheets = []
        for name, schema in read_meta(conn).model.tables.items():
            names = [f["name"] for f in table_fields(conn, schema)]
            order = ", ".join(f"[{k}]" for k in schema.primary_key) or "rowid"
            rows = conn.execute(f"select {', '.join(f'[{n}]' for n in names)} from [{name}] order by {order}").fetchall()
            sheets.append((name, names, rows))
        path.write_bytes(workbook(sheets))
    finally:
        conn.close()
    return path
