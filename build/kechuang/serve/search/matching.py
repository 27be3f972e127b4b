"""The bilingual search as a filter: the ids of one table's records that a query finds, best first.

The targets browser's keyword box and the API's `search` parameter narrow a list with the search of
`/api/v1/search` (the same parsing: simplified or traditional characters, pinyin, English, names and
glossary terms in all their forms; the same ranking), but keep only the records that match every word
of the query, which search ranks first: a filter that also admitted records matching one word of
three would not narrow.
"""

from __future__ import annotations

import sqlite3

from kechuang.model.search import RECORDS
from kechuang.serve.search.query import parse_query
from kechuang.serve.search.rank import MATCH_CAP, rank_matches
from kechuang.serve.search.served import run_timed, served_index
from kechuang.serve.search.service import SearchIndex


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


async def search_matches(datasette, text: str, table: str) -> list[str]:
    """`matching_ids` on the served database under the search time limit; HttpError 503 when the database
    has no search index or the search overruns."""
    index = await served_index(datasette)
    return await run_timed(datasette, lambda conn: matching_ids(conn, text, index, table), "search")
