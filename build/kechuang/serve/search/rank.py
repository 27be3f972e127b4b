"""Rank the records a query matches: bm25 with field weights, then boosts for a complete match.

bm25 weighs names and titles above quotes (the sentence a record comes from) above full text. A
record that matches every word of the query, every word as typed (not only through the glossary's
other forms), the query's exact phrase, every word within its own name, or whose name the query
contains, is multiplied up, so "东湖科学城" puts the platform of that
name before paragraphs that merely mention 东湖 and 科学城 apart.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass

from kechuang.model.search import RECORDS
from kechuang.serve.search.query import ParsedQuery

# bm25 weights of title, title_cjk, pinyin, quote, quote_cjk, body, body_cjk (see index.FTS_COLUMNS).
WEIGHTS = (10.0, 10.0, 8.0, 4.0, 4.0, 1.0, 1.0)
ALL_WORDS_BOOST = 2.0
LITERAL_BOOST = 2.0  # every word as typed, not only through another form of a name or term
PHRASE_BOOST = 1.5
TITLE_BOOST = 2.0
NAMED_BOOST = 3.0  # the query is the record's own name (or a glossary term's form); less when it is a part
# At most this many matching records are counted and ranked: the first ones in index order
# (`x_portal.search` in the schemas puts policies, indicators and targets first). The real data is far below it; a
# corpus of a million passages is not, and the cap keeps a query for 创新 as fast as one for 光谷.
MATCH_CAP = 2_000


@dataclass(frozen=True)
class Hit:
    rowid: int
    score: float


def _type_filter(types: Sequence[str]) -> tuple[str, str, list[str]]:
    if not types:
        return "", "", []
    marks = ", ".join("?" for _ in types)
    return f" join [{RECORDS}] r on r.rowid = s.rowid", f" and r.type in ({marks})", list(types)


def _shard_scores(
    conn: sqlite3.Connection, shard: str, parsed: ParsedQuery, types: Sequence[str], cap: int
) -> dict[int, float]:
    """bm25 (negative, lower is better) of up to `cap` matches in one shard, boosts applied."""
    join, where, type_params = _type_filter(types)
    weights = ", ".join(str(w) for w in WEIGHTS)
    sql = f"select s.rowid, bm25([{shard}], {weights}) from [{shard}] s{join} where [{shard}] match ?{where} limit ?"
    scores = dict(conn.execute(sql, [parsed.match_any(), *type_params, cap]).fetchall())
    if not scores:
        return scores
    first, last = min(scores), max(scores)
    for expression, factor in (
        (parsed.match_all(), ALL_WORDS_BOOST),
        (parsed.match_literal(), LITERAL_BOOST),
        (parsed.match_phrase(), PHRASE_BOOST),
        (parsed.match_title(), TITLE_BOOST),
    ):
        if not expression:
            continue
        boosted = f"select rowid from [{shard}] where [{shard}] match ? and rowid between ? and ?"
        for (rowid,) in conn.execute(boosted, [expression, first, last]):
            if rowid in scores:
                scores[rowid] *= factor
    named_factor = 1 + (NAMED_BOOST - 1) / len(parsed.units)  # full when the name is the whole query
    for rowid in parsed.named & scores.keys():
        scores[rowid] *= named_factor
    return scores


def rank_matches(
    conn: sqlite3.Connection,
    parsed: ParsedQuery,
    shards: Sequence[str],
    types: Sequence[str] = (),
    limit: int = 20,
    offset: int = 0,
) -> tuple[int, list[Hit]]:
    """How many records match (up to MATCH_CAP) and one page of them, best first (positive scores)."""
    scores: dict[int, float] = {}
    for shard in shards:
        scores |= _shard_scores(conn, shard, parsed, types, MATCH_CAP - len(scores))
        if len(scores) >= MATCH_CAP:
            break
    ordered = sorted(scores.items(), key=lambda item: (item[1], item[0]))
    return len(scores), [Hit(rowid, -score) for rowid, score in ordered[offset : offset + limit]]
