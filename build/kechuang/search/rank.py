"""Rank the records a query matches: bm25 with field weights, then boosts for a complete match.

bm25 weighs names and titles above quotes (the sentence a record comes from) above full text. A
record that matches every word of the query, the query's exact phrase, or every word within its own
name is multiplied up, so "东湖科学城" puts the platform of that name before paragraphs that merely
mention 东湖 and 科学城 apart.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass

from .index import INDEX, RECORDS
from .query import ParsedQuery

# bm25 weights of title, title_cjk, quote, quote_cjk, body, body_cjk (see index.FTS_COLUMNS).
WEIGHTS = (10.0, 10.0, 4.0, 4.0, 1.0, 1.0)
ALL_WORDS_BOOST = 2.0
PHRASE_BOOST = 1.5
TITLE_BOOST = 2.0
# A query matching more records than this ranks the first RANK_CAP in index order (index.TYPE_ORDER);
# the real data is far below it, a corpus of a million passages is not.
RANK_CAP = 20_000


@dataclass(frozen=True)
class Hit:
    rowid: int
    score: float


def _type_filter(types: Sequence[str]) -> tuple[str, str, list[str]]:
    if not types:
        return "", "", []
    marks = ", ".join("?" for _ in types)
    return f" join [{RECORDS}] r on r.rowid = s.rowid", f" and r.type in ({marks})", list(types)


def count_matches(conn: sqlite3.Connection, parsed: ParsedQuery, types: Sequence[str] = ()) -> int:
    join, where, params = _type_filter(types)
    sql = f"select count(*) from [{INDEX}] s{join} where [{INDEX}] match ?{where}"
    return conn.execute(sql, [parsed.match_any(), *params]).fetchone()[0]


def rank_matches(
    conn: sqlite3.Connection, parsed: ParsedQuery, types: Sequence[str] = (), limit: int = 20, offset: int = 0
) -> list[Hit]:
    """One page of matches, best first; the score is positive, higher is better."""
    join, where, type_params = _type_filter(types)
    weights = ", ".join(str(w) for w in WEIGHTS)
    boosts: list[str] = []
    params: list[object] = [parsed.match_any(), *type_params, RANK_CAP]
    for expression, factor in (
        (parsed.match_all(), ALL_WORDS_BOOST),
        (parsed.match_phrase(), PHRASE_BOOST),
        (parsed.match_title(), TITLE_BOOST),
    ):
        if expression:
            boosts.append(
                f"(case when h.rowid in (select rowid from [{INDEX}] where [{INDEX}] match ?) then {factor} else 1.0 end)"
            )
            params.append(expression)
    boost = " * ".join(boosts) or "1.0"
    sql = f"""
        with hits as (
            select s.rowid as rowid, bm25([{INDEX}], {weights}) as base
            from [{INDEX}] s{join}
            where [{INDEX}] match ?{where}
            limit ?
        )
        select h.rowid, h.base * {boost} as score from hits h
        order by score, h.rowid
        limit ? offset ?"""
    params += [limit, offset]
    return [Hit(rowid, -score) for rowid, score in conn.execute(sql, params)]
