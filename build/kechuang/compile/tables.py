"""Stage "compile": the validated tables, their derived columns and the views, into a new SQLite file."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from sqlite_utils import Database

from kechuang.compile.derive import Deriver
from kechuang.compile.steps import BUILT
from kechuang.model import load_model
from kechuang.model.meta import write_meta
from kechuang.model.schema import SQL_TYPES, TableSchema
from kechuang.model.views import create_views
from kechuang.project import Project
from kechuang.validate.tables import read_typed_columns

# A new file that is renamed into place only when complete needs no journal or fsync; a large page
# cache keeps the primary-key and column indexes in memory while rows arrive in file order.
BULK_PRAGMAS = ("pragma journal_mode = off", "pragma synchronous = off", "pragma cache_size = -262144")


def create_table(db: Database, schema: TableSchema) -> None:
    """An empty table with the schema's column types, primary key, NOT NULLs and foreign keys."""
    columns = {c.name: SQL_TYPES[c.type] for c in schema.columns}
    pk = schema.primary_key[0] if len(schema.primary_key) == 1 else tuple(schema.primary_key)
    db[schema.name].create(
        columns,
        pk=pk,
        not_null={f.name for f in schema.fields if f.required},
        foreign_keys=[(fk.fields[0], fk.table, fk.columns[0]) for fk in schema.foreign_keys],
    )


def load_table(db: Database, project: Project, schema: TableSchema, deriver: Deriver) -> int:
    """Insert the table's typed rows and their derived columns with one prepared statement; returns the count.

    The table is cast and derived a column at a time, then zipped into rows for SQLite.
    """
    columns = read_typed_columns(project.table_path(schema.name), schema)
    for f in schema.fields:
        if f.type == "boolean":
            columns[f.name] = [None if v is None else int(v) for v in columns[f.name]]
    count = len(columns[schema.fields[0].name]) if schema.fields else 0
    derived = deriver.derive(schema, columns, count)
    names = schema.column_names
    placeholders = ", ".join("?" * len(names))
    rows = list(zip(*(columns[n] for n in schema.field_names), *derived, strict=True))
    cursor = db.conn.executemany(
        f"insert into [{schema.name}] ({', '.join(f'[{n}]' for n in names)}) values ({placeholders})",
        in_key_order(rows, [names.index(k) for k in schema.primary_key]),
    )
    return cursor.rowcount


def in_key_order(rows: list[tuple], key_positions: list[int]) -> list[tuple]:
    """`rows` sorted by their primary key, so rowid order is key order.

    Datasette 0.65 orders a table's first page by the sort column alone and its next pages by the sort
    column then the key: SQLite breaks the first page's ties in rowid order (a sort over a scan; the
    index stage keeps column indexes out of plain sorts), so rows stored in key order page exactly.
    Python's string order (code points) is SQLite's BINARY order of UTF-8 text.
    """
    if not key_positions:
        return rows
    return sorted(rows, key=lambda row: tuple(row[i] for i in key_positions))


def read_portal_metadata(project: Project) -> dict[str, Any]:
    """metadata.yml: what only a person can say about the portal (title, licence, canned queries)."""
    return yaml.safe_load(project.metadata_file.read_text(encoding="utf-8")) or {}


def compile_tables(project: Project, path: Path, release: dict[str, str] | None = None) -> dict[str, int]:
    """Stage "compile": every table, derived column, view and the _meta table, into a new database at `path`."""
    model = load_model(project.schemas)
    schemas = model.tables
    db = Database(path)
    for pragma in BULK_PRAGMAS:
        db.execute(pragma)
    counts: dict[str, int] = {}
    with db.conn:
        for schema in schemas.values():
            create_table(db, schema)
        deriver = Deriver(project, db)
        for schema in schemas.values():
            if schema.curated:
                counts[schema.name] = load_table(db, project, schema, deriver)
        for schema in schemas.values():
            if not schema.curated:  # computed from the curated tables, once they are all in
                counts[schema.name] = BUILT[schema.built](db)
        create_views(db, model.views)
        write_meta(db, model, read_portal_metadata(project), release)
    db.close()
    return counts


