"""Compile the validated tables into one SQLite database with sqlite-utils.

The database is written to a temporary file beside the target and renamed into place only when
every step succeeded, so a failed build never replaces the last good database.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import time
from dataclasses import dataclass, field
from pathlib import Path

from sqlite_utils import Database

from .derived import SQL_TYPES, fill_derived_columns
from .problems import ValidationFailed
from .project import Project
from .schemas import TableSchema, load_schemas
from .tables import read_rows
from .validate import validate_datasets
from .views import create_views

META_TABLE = "_meta"


@dataclass
class BuildResult:
    path: Path
    counts: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0


def create_table(db: Database, schema: TableSchema) -> None:
    """An empty table with the schema's column types, primary key, NOT NULLs and foreign keys."""
    columns = {f.name: SQL_TYPES[f.type] for f in schema.fields}
    pk = schema.primary_key[0] if len(schema.primary_key) == 1 else tuple(schema.primary_key)
    db[schema.name].create(
        columns,
        pk=pk,
        not_null={f.name for f in schema.fields if f.required},
        foreign_keys=[(fk.fields[0], fk.table, fk.columns[0]) for fk in schema.foreign_keys],
    )


def load_table(db: Database, project: Project, schema: TableSchema) -> int:
    rows = [row for _line, row in read_rows(project.table_path(schema.name), schema)]
    for row in rows:
        for f in schema.fields:
            if f.type == "boolean" and row[f.name] is not None:
                row[f.name] = int(row[f.name])
    db[schema.name].insert_all(rows, batch_size=2000)
    return len(rows)


def index_columns(schema: TableSchema) -> list[str]:
    """Columns worth an index: every foreign key and every column the portal filters on."""
    wanted = [fk.fields[0] for fk in schema.foreign_keys]
    wanted += [f.name for f in schema.fields if f.filter]
    leading_pk = schema.primary_key[0] if schema.primary_key else None
    return [c for c in dict.fromkeys(wanted) if c != leading_pk]


def read_sources(project: Project, db: Database) -> tuple[dict[str, str], dict[str, bytes]]:
    texts, raw = {}, {}
    for row in db.query("select id, source_file from policies"):
        data = (project.datasets / row["source_file"]).read_bytes()
        raw[row["id"]] = data
        texts[row["id"]] = data.decode("utf-8")
    return texts, raw


def write_meta(db: Database, schemas: dict[str, TableSchema], release: dict[str, str] | None) -> None:
    meta = {
        "built_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "schemas": json.dumps({name: s.descriptor for name, s in schemas.items()}, ensure_ascii=False),
        **(release or {}),
    }
    db[META_TABLE].insert_all(({"key": k, "value": v} for k, v in meta.items()), pk="key", replace=True)


def compile_database(project: Project, path: Path, release: dict[str, str] | None = None) -> dict[str, int]:
    """Write every table, derived column, index and view into a new database at `path`."""
    schemas = load_schemas(project.schemas)
    db = Database(path)
    db.execute("pragma journal_mode = off")
    db.execute("pragma synchronous = off")
    counts: dict[str, int] = {}
    with db.conn:
        for schema in schemas.values():
            create_table(db, schema)
        for schema in schemas.values():
            counts[schema.name] = load_table(db, project, schema)
        sources, source_bytes = read_sources(project, db)
        fill_derived_columns(db, sources, source_bytes)
        for schema in schemas.values():
            for column in index_columns(schema):
                db[schema.name].create_index([column], if_not_exists=True)
        create_views(db)
        write_meta(db, schemas, release)
    build_search_index(db)
    db.execute("pragma foreign_keys = on")
    if violations := db.execute("pragma foreign_key_check").fetchall():
        raise RuntimeError(f"foreign key check failed after compile: {violations[:5]}")
    db.execute("analyze")
    db.vacuum()
    db.close()
    return counts


def build_search_index(db: Database) -> None:
    """Hook for the search stage; the search package fills it in."""
    try:
        from .search.index import build_index
    except ImportError:
        return
    build_index(db)


def build_database(project: Project, out: Path, release: dict[str, str] | None = None) -> BuildResult:
    """Validate, compile to a temporary file, then atomically replace `out`."""
    started = time.perf_counter()
    problems = validate_datasets(project)
    if problems:
        raise ValidationFailed(problems)
    out = out.resolve()
    out.parent.mkdir(parents=True, exist_ok=True)
    temporary = out.with_name(f".{out.name}.{os.getpid()}.tmp")
    temporary.unlink(missing_ok=True)
    try:
        counts = compile_database(project, temporary, release)
        os.replace(temporary, out)
    finally:
        temporary.unlink(missing_ok=True)
    return BuildResult(path=out, counts=counts, seconds=time.perf_counter() - started)
