"""Compile the validated tables into one SQLite database with sqlite-utils.

The database is written to a temporary file beside the target and renamed into place only when
every step succeeded, so a failed build never replaces the last good database.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from sqlite_utils import Database

from .derived import SQL_TYPES, Deriver, derived_columns
from .problems import ValidationFailed
from .project import Project
from .schemas import TableSchema, load_schemas
from .tables import bulk_reading, read_typed_columns
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
    """Insert the table's typed rows and their derived columns with one prepared statement; returns the count.

    The table is cast and derived a column at a time, then zipped into rows for SQLite.
    """
    columns = read_typed_columns(project.table_path(schema.name), schema)
    for f in schema.fields:
        if f.type == "boolean":
            columns[f.name] = [None if v is None else int(v) for v in columns[f.name]]
    count = len(columns[schema.fields[0].name]) if schema.fields else 0
    derived = deriver.derive(schema.name, columns, count)
    names = [*schema.field_names, *deriver.columns(schema.name)]
    placeholders = ", ".join("?" * len(names))
    cursor = db.conn.executemany(
        f"insert into [{schema.name}] ({', '.join(f'[{n}]' for n in names)}) values ({placeholders})",
        zip(*(columns[n] for n in schema.field_names), *derived, strict=True),
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
    """Validate, compile to a temporary file, then atomically replace `out`; times each stage.

    For large datasets (PARALLEL_FROM_ROWS data rows on) compiling starts in a second process while
    this one validates, on another core; invalid data stops it and its file is deleted, so the
    outcome is the same as compiling after validating, only sooner.
    """
    started = time.perf_counter()
    out = out.resolve()
    out.parent.mkdir(parents=True, exist_ok=True)
    temporary = out.with_name(f".{out.name}.{os.getpid()}.tmp")
    temporary.unlink(missing_ok=True)
    try:
        if _data_rows_at_least(project, PARALLEL_FROM_ROWS) and (os.cpu_count() or 1) > 1:
            counts, stages = _validate_while_compiling(project, temporary, release)
        else:
            with bulk_reading():  # the compile stage reuses the tables validation parsed
                counts, stages = _validate_then_compile(project, temporary, release)
        os.replace(temporary, out)
    finally:
        temporary.unlink(missing_ok=True)
    return BuildResult(path=out, counts=counts, seconds=time.perf_counter() - started, stages=stages)


PARALLEL_FROM_ROWS = 50_000
Timed = tuple[dict[str, int], dict[str, float]]


def _data_rows_at_least(project: Project, enough: int) -> bool:
    lines = 0
    for path in project.datasets.glob("*.csv"):
        with path.open("rb") as f:
            for block in iter(lambda f=f: f.read(1 << 16), b""):
                lines += block.count(b"\n")
                if lines >= enough:
                    return True
    return False


def _validate(project: Project) -> float:
    mark = time.perf_counter()
    problems = validate_datasets(project)
    if problems:
        raise ValidationFailed(problems)
    return time.perf_counter() - mark


def _compile_and_index(project: Project, path: Path, release: dict[str, str] | None) -> Timed:
    mark = time.perf_counter()
    counts = compile_tables(project, path, release)
    stages = {"compile": time.perf_counter() - mark}
    mark = time.perf_counter()
    index_database(project, path)
    stages["index"] = time.perf_counter() - mark
    return counts, stages


def _validate_then_compile(project: Project, path: Path, release: dict[str, str] | None) -> Timed:
    validated = _validate(project)
    counts, stages = _compile_and_index(project, path, release)
    return counts, {"validate": validated, **stages}


def _validate_while_compiling(project: Project, path: Path, release: dict[str, str] | None) -> Timed:
    """Compile in a child process (`python -m kechuang.compile`) while this one validates."""
    job = {
        "root": str(project.root),
        "datasets": str(project.datasets),
        "schemas": str(project.schemas),
        "path": str(path),
        "release": release,
    }
    child = subprocess.Popen(
        [sys.executable, "-m", "kechuang.compile", json.dumps(job)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        validated = _validate(project)
        output, errors = child.communicate()
    except BaseException:
        child.kill()  # invalid data (or an interruption): the speculative compile is thrown away
        child.communicate()
        raise
    if child.returncode != 0:
        raise RuntimeError(f"compiling {path.name} failed: {errors.strip()[-2000:]}")
    result = json.loads(output)
    return result["counts"], {"validate": validated, **result["stages"]}


def _compile_job(job: dict) -> None:
    """The child's side of `_validate_while_compiling`: compile and index, print counts and stage times."""
    project = Project(root=Path(job["root"]), datasets=Path(job["datasets"]), schemas=Path(job["schemas"]))
    with bulk_reading():
        counts, stages = _compile_and_index(project, Path(job["path"]), job["release"])
    print(json.dumps({"counts": counts, "stages": stages}))


if __name__ == "__main__":
    _compile_job(json.loads(sys.argv[1]))
