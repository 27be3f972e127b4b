"""The `_meta` table: what a database says about itself. The only code that reads or writes it."""

from __future__ import annotations

import datetime as dt
import json

from sqlite_utils import Database

from kechuang.model.schema import TableSchema, parse_schema

META_TABLE = "_meta"


def write_meta(db: Database, schemas: dict[str, TableSchema], release: dict[str, str] | None) -> None:
    meta = {
        "built_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "schemas": json.dumps({name: s.descriptor for name, s in schemas.items()}, ensure_ascii=False),
        **(release or {}),
    }
    db[META_TABLE].insert_all(({"key": k, "value": v} for k, v in meta.items()), pk="key", replace=True)




def compiled_schemas(db: Database) -> dict[str, TableSchema]:
    """The schemas the database was compiled from (stored in `_meta` by the compiler)."""
    row = db.execute("select value from _meta where key = 'schemas'").fetchone()
    return {name: parse_schema(descriptor) for name, descriptor in json.loads(row[0]).items()} if row else {}
