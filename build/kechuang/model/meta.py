"""The `_meta` table: what a database says about itself. The only code that reads or writes it.

A build records the model it was compiled from (table schemas and views), the portal's own
metadata (`metadata.yml`: title, licence, canned queries) and, for a release, its version and
date. Serving reads all of it from the database it serves, so an old release is shown with
its own model, whatever the checkout now says.
"""

from __future__ import annotations

import datetime as dt
import functools
import json
import sqlite3
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlite_utils import Database

from kechuang.model import Model
from kechuang.model.schema import TableSchema, parse_schema
from kechuang.model.views import parse_view

META_TABLE = "_meta"
READ_SQL = f"select key, value from [{META_TABLE}]"


def write_meta(db: Database, model: Model, portal: dict[str, Any], release: dict[str, str] | None) -> None:
    """Record the model, the portal metadata and the release (if any) in a database being built."""
    meta = {
        "built_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "schemas": json.dumps({name: s.descriptor for name, s in model.tables.items()}, ensure_ascii=False),
        "views": json.dumps([v.descriptor for v in model.views.values()], ensure_ascii=False),
        "portal": json.dumps(portal, ensure_ascii=False),
        **(release or {}),
    }
    db[META_TABLE].insert_all(({"key": k, "value": v} for k, v in meta.items()), pk="key", replace=True)


@dataclass(frozen=True)
class Meta:
    """What one database records about itself, parsed on demand."""

    values: dict[str, str]

    @functools.cached_property
    def model(self) -> Model:
        schemas = {name: parse_schema(d) for name, d in json.loads(self.values.get("schemas", "{}")).items()}
        views = [parse_view(d) for d in json.loads(self.values.get("views", "[]"))]
        return Model(tables=schemas, views={v.name: v for v in views})

    @functools.cached_property
    def portal(self) -> dict[str, Any]:
        """The portal metadata (`metadata.yml`) the database was built with."""
        return json.loads(self.values.get("portal", "{}"))

    @functools.cached_property
    def release(self) -> dict[str, str]:
        """The release the database carries: version and date (dev builds get a build stamp)."""
        built = self.values.get("built_at", "")
        return {
            "version": self.values.get("release_version") or "dev-" + built.replace(":", "").replace("-", "")[:15],
            "date": self.values.get("release_date") or built[:10],
            "built_at": built,
        }

    @property
    def is_release(self) -> bool:
        return bool(self.values.get("release_version"))

    def get(self, key: str, default: str = "") -> str:
        return self.values.get(key, default)


def meta_from_rows(rows: Iterable[Any]) -> Meta:
    """A Meta from the rows of READ_SQL (tuples or sqlite3.Row), however they were fetched."""
    return Meta({row[0]: row[1] for row in rows})


def read_meta(conn: sqlite3.Connection | Database) -> Meta:
    """The `_meta` of an open database (empty when it has none)."""
    try:
        return meta_from_rows(conn.execute(READ_SQL).fetchall())
    except sqlite3.OperationalError:
        return Meta({})


def read_meta_file(path: str | Path) -> Meta:
    """The `_meta` of a database file, opened read-only."""
    conn = sqlite3.connect(Path(path).resolve().as_uri() + "?mode=ro", uri=True)
    try:
        return read_meta(conn)
    finally:
        conn.close()


def compiled_schemas(db: sqlite3.Connection | Database) -> dict[str, TableSchema]:
    """The table schemas a database was compiled from."""
    return read_meta(db).model.tables
