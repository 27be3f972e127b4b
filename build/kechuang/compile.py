"""Compile the validated tables into one SQLite database with sqlite-utils.

The database is written to a temporary file beside the target and renamed into place only when
every step succeeded, so a failed build never replaces the last good database.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from sqlite_utils import Database

from .derived import SQL_TYPES, Deriver, derived_columns
from .problems import ValidationFailed
from .project import Project
from .schemas import TableSchema, load_schemas
from .tables import bulk_reading, read_typed_rows
from .validate import validate_datasets
from .views import create_views

META_TABLE = "_meta"
# A new file that is renamed into place only when complete needs no journal or fsync; a large page
# cache keeps the primary-key and column indexes in memory while rows arrive in file order.
BULK_PRAGMAS = ("pragma journal_mode = off", "pragma synchronous = off", "pragma cache_size = -262144")


@dataclass
class BuildResult:
    path: Path
    counts: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0
    stages: dict[str, float] = field(default_factory=dict)  # validate, compile, index: seconds each


def create_table(db: Database, schema: TableSchema) -> None:
    """An empty table with the schema's column types, primary key, NOT NULLs and foreign keys."""
    columns = {f.name: SQL_TYPES[f.type] for f in schema.fields}
    columns |= {c.name: SQL_TYPES[c.type] for c in derived_columns(schema.name)}
    pk = schema.primary_key[0] if len(schema.primary_key) == 1 else tuple(schema.primary_key)
    db[schema.name].create(
        columns,
        pk=pk,
        not_null={f.name for f in schema.fields if f.required},
        foreign_keys=[(fk.fields[0], fk.table, fk.columns[0]) for fk in schema.foreign_keys],
    )


def load_table(db: Database, project: Project, schema: TableSchema, deriver: Deriver) -> int:
    """Insert the table's typed rows and their derived columns with one prepared statement; returns the count."""
    names = [*schema.field_names, *deriver.columns(schema.name)]
    booleans = [i for i, f in enumerate(schema.fields) if f.type == "boolean"]
    derives = bool(deriver.columns(schema.name))

    fields = schema.field_names

    def values() -> Iterator[list]:
        for _line, cells in read_typed_rows(project.table_path(schema.name), schema):
            row = dict(zip(fields, cells, strict=True)) if derives else {}
            for i in booleans:
                if cells[i] is not None:
                    cells[i] = int(cells[i])
            yield cells + deriver.values(schema.name, row) if derives else cells

    columns = ", ".join(f"[{name}]" for name in names)
    cursor = db.conn.executemany(
        f"insert into [{schema.name}] ({columns}) values ({', '.join('?' * len(names))})", values()
    )
    return cursor.rowcount


def index_columns(schema: TableSchema) -> list[str]:
    """Columns worth an index: every foreign key and every column the portal filters on."""
    wanted = [fk.fields[0] for fk in schema.foreign_keys]
    wanted += [f.name for f in schema.fields if f.filter]
    leading_pk = schema.primary_key[0] if schema.primary_key else None
    return [c for c in dict.fromkeys(wanted) if c != leading_pk]


def write_meta(db: Database, schemas: dict[str, TableSchema], release: dict[str, str] | None) -> None:
    meta = {
        "built_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "schemas": json.dumps({name: s.descriptor for name, s in schemas.items()}, ensure_ascii=False),
        **(release or {}),
    }
    db[META_TABLE].insert_all(({"key": k, "value": v} for k, v in meta.items()), pk="key", replace=True)


def compile_tables(project: Project, path: Path, release: dict[str, str] | None = None) -> dict[str, int]:
    """Stage "compile": every table, derived column, view and the _meta table, into a new database at `path`."""
    schemas = load_schemas(project.schemas)
    db = Database(path)
    for pragma in BULK_PRAGMAS:
        db.execute(pragma)
    counts: dict[str, int] = {}
    with db.conn:
        for schema in schemas.values():
            create_table(db, schema)
        deriver = Deriver(project, db)
        for schema in schemas.values():
            counts[schema.name] = load_table(db, project, schema, deriver)
        create_views(db)
        write_meta(db, schemas, release)
    db.close()
    return counts


def index_database(project: Project, path: Path) -> None:
    """Stage "index": column indexes, the search index, integrity checks, statistics and compaction."""
    schemas = load_schemas(project.schemas)
    db = Database(path)
    for pragma in BULK_PRAGMAS:
        db.execute(pragma)
    with db.conn:
        for schema in schemas.values():
            for column in index_columns(schema):
                db[schema.name].create_index([column], if_not_exists=True)
    build_search_index(db)
    db.execute("pragma foreign_keys = on")
    if violations := db.execute("pragma foreign_key_check").fetchall():
        raise RuntimeError(f"foreign key check failed after compile: {violations[:5]}")
    db.execute("analyze")  # every row was written once, in order: no VACUUM needed to compact it
    db.close()


def compile_database(project: Project, path: Path, release: dict[str, str] | None = None) -> dict[str, int]:
    """Write every table, derived column, index and view into a new database at `path`."""
    counts = compile_tables(project, path, release)
    index_database(project, path)
    return counts


def build_search_index(db: Database) -> None:
    """Hook for the search stage; the search package fills it in."""
    try:
        from .search.index import build_index
    except ImportError:
        return
    build_index(db)


def build_database(project: Project, out: Path, release: dict[str, str] | None = None) -> BuildResult:
    """Validate, compile to a temporary file, then atomically replace `out`; times each stage."""
    with bulk_reading():  # the compile stage reuses the tables validation parsed
        return _build(project, out, release)


def _build(project: Project, out: Path, release: dict[str, str] | None) -> BuildResult:
    started = time.perf_counter()
    problems = validate_datasets(project)
    if problems:
        raise ValidationFailed(problems)
    stages = {"validate": time.perf_counter() - started}
    out = out.resolve()
    out.parent.mkdir(parents=True, exist_ok=True)
    temporary = out.with_name(f".{out.name}.{os.getpid()}.tmp")
    temporary.unlink(missing_ok=True)
    try:
        mark = time.perf_counter()
        counts = compile_tables(project, temporary, release)
        stages["compile"] = time.perf_counter() - mark
        mark = time.perf_counter()
        index_database(project, temporary)
        stages["index"] = time.perf_counter() - mark
        os.replace(temporary, out)
    finally:
        temporary.unlink(missing_ok=True)
    return BuildResult(path=out, counts=counts, seconds=time.perf_counter() - started, stages=stages)
