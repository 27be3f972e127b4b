"""What a question asks besides its words: the places and years it names and the kind of figure it wants.

"黄石规上高新技术企业要达到多少家" is about Huangshi (a place: ranked by where records sit, not by the
word), wants a count (多少家) and is otherwise 规上 + 高新技术企业; 要, 达到 only carry the question.
A query's units (query.py) are sorted here into the words to search and what the question asks:

- a unit that names only places (the places table's names, short forms and pinyin) is a place;
- a four-digit number that is a year some record is about (deadlines, horizons) is a year, and 到/年/by
  around it only say so; "this year", 今年, is never turned into a year;
- words that ask for a figure (多少, how many, target: kechuang.model.search.ASK_WORDS) and unit words
  (亿元, 家, yuan: the units table) say which base unit is wanted; metric words (比重, growth, rank) say
  it too but are still searched; fillers (要, will, plan) are dropped.

When nothing would be left to search, the query is searched as typed: "Hongshan District" or "2026"
alone is a search for that place or year, and "多少" for the word.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from kechuang.model.search import ASK_WORDS, FILLER_WORDS, METRIC_WORDS
from kechuang.text.normalize import stem

if TYPE_CHECKING:
    from kechuang.serve.search.query import Unit

YEAR = re.compile(r"^(19|20)\d\d$")


def _by_word(vocabulary: dict[str, tuple[str, ...]]) -> dict[str, str]:
    """Word (and the stem of an English word) → base unit ("" for any)."""
    words: dict[str, str] = {}
    for unit, listed in vocabulary.items():
        for word in listed:
            words[word] = unit
            if word.isascii():
                words[stem(word)] = unit
    return words


_ASKS = _by_word(ASK_WORDS)
_METRICS = _by_word(METRIC_WORDS)
_FILLERS = FILLER_WORDS | {stem(w) for w in FILLER_WORDS if w.isascii()}


@dataclass
class Vocabulary:
    """What the served data says a question can name: places (record rowid → place id), years, unit words."""

    places: dict[int, str] = field(default_factory=dict)
    years: frozenset[int] = frozenset()
    unit_words: dict[str, str] = field(default_factory=dict)  # 亿元 → CNY, yuan → CNY, 家 → count


@dataclass(frozen=True)
class Intent:
    """What a question asks besides its words."""

    places: frozenset[str] = frozenset()
    years: frozenset[int] = frozenset()
    units: frozenset[str] = frozenset()  # base units of the figure asked for
    asks_figure: bool = False  # a question word or unit word asks for a figure
    named_parts: int = 0  # units that named a place or a year: the query is more than a record's name

    @property
    def is_empty(self) -> bool:
        return not (self.places or self.years or self.units or self.asks_figure)


def _forms(unit: Unit) -> set[str]:
    """The unit as typed and, for a Latin word, its stem."""
    return {unit.text, *(t for a in unit.alternatives[:1] if a.script == "latin" for t in a.tokens)}


def read_intent(units: list[Unit], vocabulary: Vocabulary) -> tuple[list[Unit], Intent]:
    """The units to search and the intent of the question."""
    places: set[str] = set()
    years: set[int] = set()
    asked: set[str] = set()
    asks_figure = False
    searched: list[Unit] = []
    for unit in units:
        forms = _forms(unit)
        plain = not unit.named  # a name or glossary term is searched, never read as a question word
        if unit.named and all(rowid in vocabulary.places for rowid in unit.named):
            places |= {vocabulary.places[r] for r in unit.named}
        elif YEAR.match(unit.text) and int(unit.text) in vocabulary.years:
            years.add(int(unit.text))
        elif plain and (asks := [_ASKS[f] for f in forms if f in _ASKS]):
            asks_figure = True
            asked |= {a for a in asks if a}
        elif plain and (unit_words := [vocabulary.unit_words[f] for f in forms if f in vocabulary.unit_words]):
            asks_figure = True
            asked |= set(unit_words)
        elif plain and forms & _FILLERS:
            continue
        else:
            if plain:
                asked |= {_METRICS[f] for f in forms if f in _METRICS}
            searched.append(unit)
    parts = sum(1 for u in units if u not in searched and (u.named or YEAR.match(u.text)))
    intent = Intent(frozenset(places), frozenset(years), frozenset(asked), asks_figure, parts)
    if not searched:  # the query is a place, a year or a question word alone: searched as typed
        return units, Intent()
    return searched, intent
