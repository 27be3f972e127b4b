"""What serving knows about the database it serves: its `_meta`, read once per Datasette instance.

Every route, page and hook asks here, so the model, release and portal metadata shown are always
those the served database was built with, never the checkout's. State is kept per Datasette
instance (weakly, so an instance a test throws away takes its state with it).
"""

from __future__ import annotations

import copy
import weakref
from typing import Any

from kechuang.model.meta import META_TABLE, READ_SQL, Meta, meta_from_rows, read_meta_file
from kechuang.model.metadata import DATABASE_NAME, datasette_metadata

_metas: weakref.WeakKeyDictionary[Any, Meta] = weakref.WeakKeyDictionary()
_metadata: weakref.WeakKeyDictionary[Any, dict[str, Any]] = weakref.WeakKeyDictionary()


def _database(datasette):
    return datasette.databases.get(DATABASE_NAME)


async def served_meta(datasette) -> Meta:
    """The `_meta` of the served database (empty when there is none)."""
    meta = _metas.get(datasette)
    if meta is None:
        db = _database(datasette)
        if db is None:
            meta = Meta({})
        else:
            tables = await db.table_names()
            meta = meta_from_rows(await db.execute(READ_SQL)) if META_TABLE in tables else Meta({})
        _metas[datasette] = meta
    return meta


def served_meta_now(datasette) -> Meta:
    """The same, synchronously, for Datasette hooks that cannot await (it reads the file read-only)."""
    meta = _metas.get(datasette)
    if meta is None:
        db = _database(datasette)
        if db is None or not db.path:
            return Meta({})  # not attached yet (Datasette asks for metadata while starting): ask again later
        meta = _metas[datasette] = read_meta_file(db.path)
    return meta


def served_datasette_metadata(datasette) -> dict[str, Any]:
    """Datasette's metadata for the served database: titles, descriptions, facets, queries, licence.

    Datasette merges a hook's dictionaries into its own by reference and then updates them with
    any `--metadata` file, so a copy is handed out whenever such a file is in play.
    """
    metadata = _metadata.get(datasette)
    if metadata is None:
        meta = served_meta_now(datasette)
        if not meta.values:
            return {}
        metadata = _metadata[datasette] = datasette_metadata(meta.model, meta.portal)
    return copy.deepcopy(metadata) if getattr(datasette, "_metadata_local", None) else metadata
