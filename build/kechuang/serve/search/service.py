"""Run one search against an open database: parse, rank, fetch the originals, cut snippets.

Everything here is synchronous and takes a sqlite3 connection, so the Datasette adapter runs it in
Datasette's own thread pool and the benchmarks and tests can call it directly.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from kechuang.model.search import RECORDS, TERMS, shard_names
from kechuang.serve.search.query import Lexicon, ParsedQuery, parse_query
from kechuang.serve.search.rank import rank_matches
from kechuang.serve.search.snippets import Needles, best_snippet, highlight


@dataclass
class SearchResult:
    """A page of results: the total number of matching records and the records of this page."""

    query: str
    total: int
    results: list[dict[str, Any]]


@dataclass
class SearchIndex:
    """What searching a database needs besides the query: read once per database."""

    lexicon: Lexicon
    shards: list[str]
    types: list[str]


def searchable_types(conn: sqlite3.Connection) -> list[str]:
    """The record types present in the index, in index order."""
    rows = conn.execute(f"select type, min(rowid) as first from [{RECORDS}] group by type order by first")
    return [row[0] for row in rows]


def load_search_index(conn: sqlite3.Connection) -> SearchIndex:
    return SearchIndex(load_lexicon(conn), shard_names(conn), searchable_types(conn))


def fetch_records(conn: sqlite3.Connection, rowids: Sequence[int]) -> dict[int, dict[str, Any]]:
    if not rowids:
        return {}
    marks = ", ".join("?" for _ in rowids)
    cursor = conn.execute(f"select * from [{RECORDS}] where rowid in ({marks})", list(rowids))
    names = [d[0] for d in cursor.description]
    return {row[0]: dict(zip(names, row, strict=True)) for row in cursor}


def present(record: dict[str, Any], score: float, needles: Needles, html_titles: bool = False) -> dict[str, Any]:
    """A result in the API's shape; snippets are HTML (escaped text, matches in <mark>)."""
    result = {
        "type": record["type"],
        "id": record["id"],
        "title_zh": record["title_zh"] or "",
        "title_en": record["title_en"] or "",
        "snippet_zh": best_snippet([record["quote_zh"], record["body_zh"], record["title_zh"]], needles, "zh"),
        "snippet_en": best_snippet([record["quote_en"], record["body_en"], record["title_en"]], needles, "en"),
        "url": record["url"],
        "score": float(f"{score:.6g}"),  # significant digits: a weak match is small, never 0
    }
    if html_titles:
        result["title_zh_html"] = highlight(result["title_zh"], needles)
        result["title_en_html"] = highlight(result["title_en"], needles)
    return result


def run_search(
    conn: sqlite3.Connection,
    text: str,
    index: SearchIndex,
    types: Sequence[str] = (),
    limit: int = 20,
    offset: int = 0,
    html_titles: bool = False,
) -> SearchResult:
    """Search the index; a query with nothing searchable in it (only punctuation) finds nothing."""
    parsed: ParsedQuery = parse_query(text, index.lexicon)
    if parsed.is_empty:
        return SearchResult(text, 0, [])
    total, hits = rank_matches(conn, parsed, index.shards, types, limit, offset)
    records = fetch_records(conn, [h.rowid for h in hits])
    needles = Needles.of(parsed)
    results = [present(records[h.rowid], h.score, needles, html_titles) for h in hits if h.rowid in records]
    return SearchResult(text, total, results)


def load_lexicon(conn: sqlite3.Connection) -> Lexicon:
    """The names and glossary terms used to expand queries across languages and from pinyin."""
    rows = conn.execute(f"select record, lang, form, key, tokens from [{TERMS}]").fetchall()
    return Lexicon.from_rows(rows)
