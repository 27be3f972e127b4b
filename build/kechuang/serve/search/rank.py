"""Rank the records a query matches: bm25 with field weights, boosts for a complete match, then what
the question asks.

bm25 weighs each field by its role (model.search): names and titles, then a target's figure, then
quotes (the sentence a record comes from), then full text and notes. A
record that matches every word of the query, every word as typed (not only through the glossary's
other forms), the query's exact phrase, every word within its own name, or whose name the query
contains, is multiplied up, so "东湖科学城" puts the platform of that
name before paragraphs that merely mention 东湖 and 科学城 apart.

Then the question (intent.py): a record whose own place is the place asked about is multiplied up and
one that sits elsewhere down (a Wuchang record is neither for a question about Wuhan); so for the year
asked; a target when a figure is asked for, and any record with a figure (a target, a fund) in the
unit asked. A glossary entry goes below the first records that use its term unless the query is a
word or term alone. Every match (up to MATCH_CAP) is counted by type, place, year and document (the facets), and
filters on those narrow the matches before a page is cut.
"""

from __future__ import annotations

import heapq
import json
import sqlite3
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from kechuang.model.search import ANSWERS, CONTEXT, FTS_COLUMNS, GLOSSARY, RECORDS
from kechuang.serve.search.query import ParsedQuery

# bm25 weight of each index column (its words and its Han bigrams alike): name > figure > quote > notes.
COLUMN_WEIGHTS = {"title": 10.0, "pinyin": 8.0, "figure": 6.0, "quote": 4.0, "body": 1.0}
WEIGHTS = tuple(COLUMN_WEIGHTS[column.removesuffix("_cjk")] for column in FTS_COLUMNS)
ALL_WORDS_BOOST = 2.0
LITERAL_BOOST = 2.0  # every word as typed, not only through another form of a name or term
PHRASE_BOOST = 1.5
TITLE_BOOST = 2.0
NAMED_BOOST = 3.0  # the query is the record's own name (or a glossary term's form); less when it is a part
# At most this many matching records are counted and ranked: the first ones in index order
# (`x_portal.search` in the schemas puts policies, indicators and targets first). The real data is far below it; a
# corpus of a million passages is not, and the cap keeps a query for 创新 as fast as one for 光谷.
MATCH_CAP = 2_000
PLACE_BOOST = 4.0  # the record's own place is the place asked about
PLACE_MISS = 0.4  # the record sits in another place (not in or above the one asked about)
PLACE_NONE = 0.6  # the record sits nowhere in particular (an indicator across places, a glossary entry)
YEAR_BOOST = 2.0
YEAR_MISS = 0.5
FIGURE_BOOST = 1.5  # a figure is asked for and the record is a target (what answers: search.ANSWERS)
UNIT_BOOST = 1.5  # … in the base unit asked for
GLOSSARY_BELOW = 3  # an explanation of a term comes after this many records, when the query is more than a term
FACETS = ("type", "place", "year", "document")


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
    # full when the name is the whole query (a place or year named besides makes it a part)
    named_factor = 1 + (NAMED_BOOST - 1) / (len(parsed.units) + parsed.intent.named_parts)
    for rowid in parsed.named & scores.keys():
        scores[rowid] *= named_factor
    return scores


class Placed:
    """Where a matching record sits (kechuang.index.context): its type, places (own first), years, documents.

    Kept as the stored space-separated strings and split only when asked: a common word matches
    MATCH_CAP records, and most of them are only counted."""

    __slots__ = ("_documents", "_places", "_years", "base_unit", "type")

    def __init__(self, kind: str, places: str, years: str, documents: str, base_unit: str) -> None:
        self.type, self._places, self._years, self._documents, self.base_unit = kind, places, years, documents, base_unit

    @property
    def places(self) -> tuple[str, ...]:
        return tuple(self._places.split())

    @property
    def place(self) -> str:
        """Its own place ("" when it sits nowhere in particular)."""
        return self._places.split(" ", 1)[0]

    @property
    def years(self) -> tuple[str, ...]:
        return tuple(self._years.split())

    def facet_values(self, facet: str) -> list[str]:
        if facet == "type":
            return [self.type]
        if facet == "place":
            return [self.place] if self._places else []
        return (self._years if facet == "year" else self._documents).split()


def sittings(conn: sqlite3.Connection, rowids: Iterable[int]) -> list[tuple[Placed, list[int]]]:
    """The records grouped by where they sit, each group with its rowids: a common word matches thousands
    of records that sit in a few places, so ranking and counting work per group, not per record."""
    sql = (
        f"select c.type, c.places, c.years, c.documents, c.base_unit, group_concat(c.rowid) from json_each(?) j "
        f"join [{CONTEXT}] c on c.rowid = j.value group by 1, 2, 3, 4, 5"
    )
    rows = conn.execute(sql, [json.dumps(list(rowids))])
    return [(Placed(k, p or "", y or "", d or "", u or ""), list(map(int, ids.split(",")))) for k, p, y, d, u, ids in rows]


def placed(conn: sqlite3.Connection, rowids: Iterable[int]) -> dict[int, Placed]:
    """The context of records, by rowid, read in one statement (the rowids as one JSON array)."""
    sql = (
        f"select c.rowid, c.type, c.places, c.years, c.documents, c.base_unit from json_each(?) j "
        f"join [{CONTEXT}] c on c.rowid = j.value"
    )
    rows = conn.execute(sql, [json.dumps(list(rowids))])
    return {rowid: Placed(kind, p or "", y or "", d or "", u or "") for rowid, kind, p, y, d, u in rows}


def intent_factor(record: Placed, parsed: ParsedQuery) -> float:
    """How much what the question asks (place, year, figure) and the record's kind change its score."""
    intent = parsed.intent
    factor = 1.0
    if intent.places:
        if not record.place:
            factor *= PLACE_NONE
        elif record.place in intent.places:
            factor *= PLACE_BOOST
        elif not intent.places.intersection(record.places):
            factor *= PLACE_MISS
    if intent.years and (years := record.years):
        factor *= YEAR_BOOST if {str(y) for y in intent.years}.intersection(years) else YEAR_MISS
    if intent.asks_figure and record.type == ANSWERS:
        factor *= FIGURE_BOOST
    if intent.units and record.base_unit in intent.units:
        factor *= UNIT_BOOST
    return factor


def _below_users(scores: dict[int, float], glossary: set[int]) -> None:
    """Glossary entries after the first GLOSSARY_BELOW other records (the records that use the term)."""
    if not glossary:
        return
    others = heapq.nsmallest(GLOSSARY_BELOW, (s for r, s in scores.items() if r not in glossary))
    if len(others) < GLOSSARY_BELOW:
        return
    ceiling = others[-1] * 0.999  # scores are negative: a little weaker than that record
    for rowid in glossary:
        if rowid in scores:
            scores[rowid] = max(scores[rowid], ceiling)


@dataclass
class Ranked:
    """A page of ranked matches, how many match (up to MATCH_CAP) and their counts by facet."""

    total: int
    hits: list[Hit]
    facets: dict[str, dict[str, int]]
    context: dict[int, Placed]  # of the page's hits


def _passes(record: Placed, filters: dict[str, set[str]], skip: str | None = None) -> bool:
    return all(not wanted.isdisjoint(record.facet_values(f)) for f, wanted in filters.items() if f != skip)


def facet_counts(groups: list[tuple[Placed, list[int]]], filters: dict[str, set[str]]) -> dict[str, dict[str, int]]:
    """Matches by value of each facet, under the other facets' filters (so a count is what a tap would give)."""
    counts: dict[str, dict[str, int]] = {}
    for facet in FACETS:
        others = {f: v for f, v in filters.items() if f != facet}
        found: Counter = Counter()
        for where, rowids in groups:
            if not others or _passes(where, others):
                for value in where.facet_values(facet):
                    found[value] += len(rowids)
        counts[facet] = dict(sorted(found.items(), key=lambda item: (-item[1], item[0])))
    return counts


def rank_matches(
    conn: sqlite3.Connection,
    parsed: ParsedQuery,
    shards: Sequence[str],
    types: Sequence[str] = (),
    limit: int = 20,
    offset: int = 0,
    filters: dict[str, Sequence[str]] | None = None,
    contextual: bool = True,
) -> Ranked:
    """One page of the matches, best first (positive scores), with their total and facet counts.
    `contextual`: the index has CONTEXT (without it, no question reading, facets or filters apply)."""
    scores: dict[int, float] = {}
    for shard in shards:
        scores |= _shard_scores(conn, shard, parsed, types, MATCH_CAP - len(scores))
        if len(scores) >= MATCH_CAP:
            break
    groups = sittings(conn, scores) if scores and contextual else []
    for where, rowids in groups:
        if (factor := intent_factor(where, parsed)) != 1.0:
            for rowid in rowids:
                scores[rowid] *= factor
    if not parsed.word_alone:
        _below_users(scores, {r for where, rowids in groups if where.type == GLOSSARY for r in rowids})
    wanted = {f: set(v) for f, v in (filters or {}).items() if v and f != "type"}
    facets = facet_counts(groups, wanted)
    if wanted:
        kept = {r for where, rowids in groups if _passes(where, wanted) for r in rowids}
        scores = {r: s for r, s in scores.items() if r in kept}
    ordered = heapq.nsmallest(offset + limit, scores.items(), key=lambda item: (item[1], item[0]))
    hits = [Hit(rowid, -score) for rowid, score in ordered[offset : offset + limit]]
    return Ranked(len(scores), hits, facets, placed(conn, [h.rowid for h in hits]) if contextual else {})
