"""Run one search against an open database: parse, rank, fetch the originals, cut snippets.

Everything here is synchronous and takes a sqlite3 connection, so the Datasette adapter runs it in
Datasette's own thread pool and the benchmarks and tests can call it directly.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from kechuang.model.search import CONTEXT, PLACES, POLICIES, RECORDS, TERMS, UNITS, shard_names
from kechuang.serve.search.answer import find_answer
from kechuang.serve.search.intent import Vocabulary
from kechuang.serve.search.landing import land_policies
from kechuang.serve.search.query import Lexicon, ParsedQuery, parse_query
from kechuang.serve.search.rank import FACETS, rank_matches
from kechuang.serve.search.snippets import Needles, best_snippet, highlight
from kechuang.text.normalize import fold


@dataclass
class SearchResult:
    """A page of results: the total number of matching records and the records of this page."""

    query: str
    total: int
    results: list[dict[str, Any]]
    answer: dict[str, Any] | None = None
    facets: dict[str, list[dict[str, Any]]] = field(default_factory=dict)


@dataclass
class SearchIndex:
    """What searching a database needs besides the query: read once per database."""

    lexicon: Lexicon
    shards: list[str]
    types: list[str]
    names: dict[str, tuple[str, str]] = field(default_factory=dict)  # place or policy id → (Chinese, English)
    contextual: bool = True  # the index knows where records sit (an index built before it did not)


def searchable_types(conn: sqlite3.Connection) -> list[str]:
    """The record types present in the index, in index order."""
    rows = conn.execute(f"select type, min(rowid) as first from [{RECORDS}] group by type order by first")
    return [row[0] for row in rows]


def load_search_index(conn: sqlite3.Connection) -> SearchIndex:
    sql = f"select type, id, title_zh, title_en from [{RECORDS}] where type in (?, ?) order by rowid"
    rows = conn.execute(sql, [PLACES, POLICIES]).fetchall()
    names = {key: (zh or "", en or "") for _kind, key, zh, en in rows}
    contextual = bool(conn.execute("select 1 from sqlite_master where type = 'table' and name = ?", [CONTEXT]).fetchone())
    return SearchIndex(load_lexicon(conn), shard_names(conn), searchable_types(conn), names, contextual)


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
        # an index built before records knew their page: the row is the page
        "page_url": record.get("page_url") or record["url"],
        "score": float(f"{score:.6g}"),  # significant digits: a weak match is small, never 0
    }
    if html_titles:
        result["title_zh_html"] = highlight(result["title_zh"], needles)
        result["title_en_html"] = highlight(result["title_en"], needles)
    return result


def facet_lists(counts: dict[str, dict[str, int]], index: SearchIndex) -> dict[str, list[dict[str, Any]]]:
    """Facet counts as lists of {value, count, label_zh, label_en}, most matches first (types are
    labelled by the route, which knows the tables' names)."""
    lists: dict[str, list[dict[str, Any]]] = {}
    for facet in FACETS:
        lists[facet] = []
        for value, count in counts.get(facet, {}).items():
            zh, en = index.names.get(value, (value, value)) if facet in ("place", "document") else (value, value)
            lists[facet].append({"value": value, "count": count, "label_zh": zh, "label_en": en})
    return lists


def run_search(
    conn: sqlite3.Connection,
    text: str,
    index: SearchIndex,
    types: Sequence[str] = (),
    limit: int = 20,
    offset: int = 0,
    html_titles: bool = False,
    filters: dict[str, Sequence[str]] | None = None,
) -> SearchResult:
    """Search the index; a query with nothing searchable in it (only punctuation) finds nothing.
    `filters` narrows the matches by facet (place, year, document: values of the facets)."""
    parsed: ParsedQuery = parse_query(text, index.lexicon)
    if parsed.is_empty:
        return SearchResult(text, 0, [], None, facet_lists({}, index))
    ranked = rank_matches(conn, parsed, index.shards, types, limit, offset, filters, index.contextual)
    records = fetch_records(conn, [h.rowid for h in ranked.hits])
    needles = Needles.of(parsed)
    results = [present(records[h.rowid], h.score, needles, html_titles) for h in ranked.hits if h.rowid in records]
    land_policies(conn, results, needles)
    answer = None
    if offset == 0:
        ids = {rowid: record["id"] for rowid, record in records.items()}
        answer = find_answer(conn, parsed, ranked.hits, ranked.context, ids, index.names)
    return SearchResult(text, ranked.total, results, answer, facet_lists(ranked.facets, index))


def load_vocabulary(conn: sqlite3.Connection) -> Vocabulary:
    """What a question can name, from the served data: places, the years records are about, unit words."""
    places = dict(conn.execute(f"select rowid, id from [{RECORDS}] where type = ?", [PLACES]).fetchall())
    try:
        rows = conn.execute(f"select distinct years from [{CONTEXT}]").fetchall()
    except sqlite3.OperationalError:  # an index built before records knew where they sit
        rows = []
    years = {int(y) for (text,) in rows for y in (text or "").split()}
    try:
        units = conn.execute(f"select unit_zh, base_unit from [{UNITS}]").fetchall()
    except sqlite3.OperationalError:  # an index built from tables without units
        units = []
    unit_words = {fold(word): base for word, base in units if word and base}
    return Vocabulary(places, frozenset(years), unit_words)


def load_lexicon(conn: sqlite3.Connection) -> Lexicon:
    """The names and glossary terms used to expand queries across languages and from pinyin."""
    rows = conn.execute(f"select record, lang, form, key, tokens from [{TERMS}]").fetchall()
    lexicon = Lexicon.from_rows(rows)
    lexicon.vocabulary = load_vocabulary(conn)
    return lexicon
