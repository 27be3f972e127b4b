"""The bilingual search as a filter: the ids of one table's records that a query finds, best first.

The targets browser's keyword box and the API's `search` parameter narrow a list with the search of
`/api/v1/search` (the same parsing: simplified or traditional characters, pinyin, English, names and
glossary terms in all their forms; the same ranking), but keep only the records that match every word
of the query, which search ranks first: a filter that also admitted records matching one word of
three would not narrow.
"""

from __future__ import annotations

import sqlite3
import weakref
from typing import Any

from datasette.utils import sqlite_timelimit

from kechuang.model.search import RECORDS
from kechuang.serve import http as web
from kechuang.serve.search.query import parse_query
from kechuang.serve.search.rank import MATCH_CAP, rank_matches
from kechuang.serve.search.service import SearchIndex, load_search_index

TIME_LIMIT_MS = 2000


def matching_ids(conn: sqlite3.Connection, text: str, index: SearchIndex, table: str) -> list[str]:
    """Ids of the records of `table` matching every word of `text`, best first (none for a query with
    nothing searchable in it); at most rank.MATCH_CAP of them."""
    parsed = parse_query(text, index.lexicon)
    if parsed.is_empty:
        return []
    ranked = rank_matches(conn, parsed, index.shards, [table], MATCH_CAP, 0, None, index.contextual)
    rowids = [hit.rowid for hit in ranked.hits]
    every = parsed.match_all()
    if every is not None and rowids:
        low, high = min(rowids), max(rowids)
        matching: set[int] = set()
        for shard in index.shards:
            sql = f"select rowid from [{shard}] where [{shard}] match ? and rowid between ? and ?"
            matching |= {row[0] for row in conn.execute(sql, [every, low, high])}
        rowids = [rowid for rowid in rowids if rowid in matching]
    if not rowids:
        return []
    marks = ", ".join("?" for _ in rowids)
    ids = dict(conn.execute(f"select rowid, id from [{RECORDS}] where rowid in ({marks})", rowids).fetchall())
    return [ids[rowid] for rowid in rowids if rowid in ids]


_indexes: weakref.WeakKeyDictionary[Any, SearchIndex] = weakref.WeakKeyDictionary()


async def served_index(datasette) -> SearchIndex:
    """The served database's search index (its lexicon: names, terms, places), loaded once; HttpError 503
    when the database has none."""
    if datasette not in _indexes:
        try:
            _indexes[datasette] = await datasette.get_database(web.DATABASE).execute_fn(load_search_index)
        except sqlite3.OperationalError as error:
            message = f"This database has no search index ({error}); rebuild it with `kechuang build`."
            raise web.HttpError(503, message, "search", "search_unavailable") from None
    return _indexes[datasette]


async def search_matches(datasette, text: str, table: str) -> list[str]:
    """`matching_ids` on the served database, in Datasette's thread pool under a time limit; HttpError 503
    when the database has no search index or the search overruns."""
    db = datasette.get_database(web.DATABASE)
    index = await served_index(datasette)

    def run(conn: sqlite3.Connection) -> list[str]:
        with sqlite_timelimit(conn, TIME_LIMIT_MS):
            return matching_ids(conn, text, index, table)

    try:
        return await db.execute_fn(run)
    except sqlite3.OperationalError as error:
        if "interrupted" not in str(error):
            raise
        raise web.HttpError(503, "The search took too long; add words to narrow it.", "search", "unavailable") from None
