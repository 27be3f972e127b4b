"""Cross-table checks of the built database that no single row can fail on its own.

- glossary use: where a record's Chinese contains a glossary term (or a Chinese alias), its paired
  English field should contain the term's English (`term_en` or an English alias), so the English
  reads the same way everywhere and cross-lingual search finds it;
- indicator units: every target linked to an indicator is stated in a unit whose base unit is the
  indicator's, so `indicator_targets` compares like with like.

They run on a built database (`kechuang build`) and report; the test suite decides what is allowed.
Run `python -m kechuang.validate.consistency dist/kechuang.db` to list what they find.
"""

from __future__ import annotations

import re
import sqlite3
import sys
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import Stemmer

from kechuang.model.meta import read_meta

_WORD = re.compile(r"[A-Za-z0-9]+")
_ACRONYM_PLURAL = re.compile(r"^([A-Z]{2,})s$")  # SMEs -> SME; the stemmer leaves short words alone


# A figure written with a bare magnitude and no measure word (`30万`, `3.4万`) is a plain number:
# it takes the measure of the indicator it is linked to (persons for a persons indicator).
BARE_MAGNITUDE_UNITS = frozenset({"十", "百", "千", "万", "亿"})
BARE_MAGNITUDE_BASES = frozenset({"count", "persons"})


@dataclass(frozen=True)
class GlossaryTerm:
    id: str
    chinese: tuple[str, ...]  # term_zh first, then aliases_zh
    english: tuple[str, ...]  # term_en first, then aliases_en


@dataclass(frozen=True, order=True)
class GlossaryMismatch:
    """A record whose Chinese uses a glossary term while its English uses none of the term's renderings."""

    table: str
    key: str
    field: str  # the English field
    term_id: str

    def __str__(self) -> str:
        return f"{self.table} {self.key} {self.field}: no English for glossary term {self.term_id}"


@dataclass(frozen=True, order=True)
class UnitMismatch:
    """A target whose unit converts to another base unit than its indicator's."""

    target_id: str
    indicator_id: str
    target_unit_zh: str
    target_base_unit: str
    indicator_base_unit: str
    bare_magnitude: bool  # True when the unit is a bare magnitude (万) standing for the indicator's measure

    def __str__(self) -> str:
        return (
            f"targets {self.target_id}: unit {self.target_unit_zh} ({self.target_base_unit}) "
            f"vs indicator {self.indicator_id} ({self.indicator_base_unit})"
        )


def _split(cell: str | None) -> list[str]:
    return [part.strip() for part in (cell or "").split("|") if part.strip()]


@cache
def _stemmer() -> Stemmer.Stemmer:
    return Stemmer.Stemmer("english")


def english_words(text: str) -> tuple[str, ...]:
    """Lower-case stemmed words, so `laboratories` matches `laboratory`, `SMEs` matches `SME` and
    `R&D` matches `R & D`."""
    words = [_ACRONYM_PLURAL.sub(r"\1", word).lower() for word in _WORD.findall(text)]
    return tuple(_stemmer().stemWords(words))


def _contains(haystack: tuple[str, ...], needle: tuple[str, ...]) -> bool:
    if not needle:
        return False
    n = len(needle)
    return any(haystack[i : i + n] == needle for i in range(len(haystack) - n + 1))


def glossary_terms(conn: sqlite3.Connection) -> list[GlossaryTerm]:
    rows = conn.execute("select id, term_zh, term_en, aliases_zh, aliases_en from glossary order by id").fetchall()
    return [
        GlossaryTerm(
            id=row[0],
            chinese=tuple(dict.fromkeys([row[1], *_split(row[3])])),
            english=tuple(dict.fromkeys([row[2], *_split(row[4])])),
        )
        for row in rows
    ]


def terms_used(text: str, terms: Iterable[GlossaryTerm]) -> set[str]:
    """Ids of the terms a Chinese text uses, longest match first: a term inside a longer term's
    occurrence (中试 inside 中试平台) is the longer term's business, not its own."""
    spans: list[tuple[int, int, str]] = []
    for term in terms:
        for form in term.chinese:
            start = text.find(form)
            while start != -1:
                spans.append((start, start + len(form), term.id))
                start = text.find(form, start + 1)
    used = set()
    for start, end, term_id in spans:
        covered = any(s <= start and end <= e and (e - s) > (end - start) and other != term_id for s, e, other in spans)
        if not covered:
            used.add(term_id)
    return used


def glossary_pairs(conn: sqlite3.Connection) -> list[tuple[str, str, str, str]]:
    """(table, key expression, Chinese, English) for every Chinese field the model marks `x_glossary`."""
    pairs = []
    for schema in read_meta(conn).model.tables.values():
        key = " || ' ' || ".join(schema.primary_key)
        english = dict(schema.bilingual_pairs)
        pairs += [(schema.name, key, f.name, english[f.name]) for f in schema.fields if f.glossary]
    return pairs


def glossary_mismatches(conn: sqlite3.Connection) -> list[GlossaryMismatch]:
    """Every (record, English field, term) where the Chinese uses the term and the English does not."""
    terms = glossary_terms(conn)
    by_id = {t.id: t for t in terms}
    renderings = {t.id: [english_words(e) for e in t.english] for t in terms}
    found: list[GlossaryMismatch] = []
    for table, key, zh, en in glossary_pairs(conn):
        for record_key, chinese, english in conn.execute(f"select {key}, {zh}, {en} from {table}"):
            if not chinese:
                continue
            words = english_words(english or "")
            for term_id in sorted(terms_used(chinese, by_id.values())):
                if not any(_contains(words, r) for r in renderings[term_id]):
                    found.append(GlossaryMismatch(table, str(record_key), en, term_id))
    return sorted(found)


def indicator_unit_mismatches(conn: sqlite3.Connection) -> list[UnitMismatch]:
    """Targets whose unit's base unit differs from their indicator's base unit."""
    rows = conn.execute(
        """
        select t.id, i.id, t.unit_zh, u.base_unit, i.base_unit
        from targets t join indicators i on i.id = t.indicator_id join units u on u.unit_zh = t.unit_zh
        where u.base_unit != i.base_unit
        order by t.id
        """
    ).fetchall()
    return [
        UnitMismatch(
            target_id=r[0],
            indicator_id=r[1],
            target_unit_zh=r[2],
            target_base_unit=r[3],
            indicator_base_unit=r[4],
            bare_magnitude=r[2] in BARE_MAGNITUDE_UNITS and {r[3], r[4]} <= BARE_MAGNITUDE_BASES,
        )
        for r in rows
    ]


def _report(db: Path) -> Iterator[str]:
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        mismatches = glossary_mismatches(conn)
        yield from map(str, mismatches)
        yield f"{len(mismatches)} glossary mismatches"
        units = indicator_unit_mismatches(conn)
        for u in units:
            yield f"{u}{' (bare magnitude)' if u.bare_magnitude else ''}"
        yield f"{len(units)} unit mismatches, {sum(not u.bare_magnitude for u in units)} not bare magnitudes"
    finally:
        conn.close()


if __name__ == "__main__":
    database = Path(sys.argv[1] if len(sys.argv) > 1 else "dist/kechuang.db")
    if not database.is_file():
        sys.exit(f"{database} does not exist: run `kechuang build` first")
    for line in _report(database):
        print(line)
