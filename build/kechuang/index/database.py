"""Stage "index": column indexes, the search index, integrity checks and statistics of a compiled database."""

from __future__ import annotations

from pathlib import Path

from sqlite_utils import Database

from kechuang.compile.tables import BULK_PRAGMAS
from kechuang.index.search import build_index
from kechuang.model.schema import TableSchema, load_schemas
from kechuang.project import Project


def index_columns(schema: TableSchema) -> list[str]:
    """Columns worth an index: every foreign key and every column the portal filters on."""
    wanted = [fk.fields[0] for fk in schema.foreign_keys]
    wanted += [f.name for f in schema.fields if f.filter]
    leading_pk = schema.primary_key[0] if schema.primary_key else None
    return [c for c in dict.fromkeys(wanted) if c != leading_pk]


def create_partial_index(db: Database, table: str, column: str) -> None:
    """An index on `column` of the rows where it is set: filters and joins use it, a plain sort cannot.

    Any comparison on the column implies it is not null, so SQLite uses the index for every filter and
    join; `order by column` alone cannot use it (it lacks the null rows), so a Datasette sort is a scan in
    rowid (key) order whose ties keep that order, ascending or descending: Datasette's first page then
    orders ties by key as its next pages do, and paging returns every row once.
    """
    db.execute(
        f"create index if not exists [idx_{table}_{column}] on [{table}] ([{column}]) where [{column}] is not null"
    )


def index_database(project: Project, path: Path) -> None:
    """Stage "index": column indexes, the search index, integrity checks, statistics and compaction."""
    schemas = load_schemas(project.schemas)
    db = Database(path)
    for pragma in BULK_PRAGMAS:
        db.execute(pragma)
    with db.conn:
        for schema in schemas.values():
            for column in index_columns(schema):
                create_partial_index(db, schema.name, column)
    build_index(db)
    db.execute("pragma foreign_keys = on")
    if violations := db.execute("pragma foreign_key_check").fetchall():
        raise RuntimeError(f"foreign key check failed after compile: {violations[:5]}")
    db.execute("analyze")  # every row was written once, in order: no VACUUM needed to compact it
    db.close()


