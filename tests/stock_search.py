"""The baseline search is compared with: the same records in one table, indexed by sqlite-utils'
`enable_fts` (FTS5, default unicode61 tokenizer) and searched with Datasette's own `?_search=`."""

from __future__ import annotations

from pathlib import Path

from sqlite_utils import Database

from kechuang.model.search import RECORDS

TEXT_COLUMNS = ["title_zh", "title_en", "quote_zh", "quote_en", "body_zh", "body_en"]


def make_stock_db(source: Path, path: Path) -> Path:
    """Copy every search record of `source` into `path`'s table `records` (key = "type/id") with stock FTS."""
    stock = Database(path)
    rows = Database(source).query(
        f"select type || '/' || id as key, {', '.join(TEXT_COLUMNS)} from [{RECORDS}] order by rowid"
    )
    stock["records"].insert_all(rows, pk="key", batch_size=5000)
    stock["records"].enable_fts(TEXT_COLUMNS)
    stock.close()
    return path
