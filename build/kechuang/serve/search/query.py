"""Turn what a person typed into FTS5 match expressions, treating every character as text.

The query goes through the same normaliser as the index, so only letters, digits and Han characters
survive, and each token is written into the expression as a double-quoted string: quotes, brackets,
`*`, `^`, `-`, AND/OR/NOT/NEAR and column names typed by a user are searched as words or dropped as
punctuation, never read as FTS5 syntax.

A query becomes a list of units, each satisfied by any of its alternatives:
- a Chinese word (rjieba precise mode) matches as a word or as the exact run of its character bigrams;
- an English word matches by its stem;
- a name or glossary term found in the query (in either language, or typed as pinyin) matches by any
  of its forms: 技术合同成交额 also searches "technology contract turnover", and "guanggu" 光谷.
Records matching any unit are candidates; ranking (rank.py) favours those matching every unit and
the exact phrase.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from kechuang.serve.search.intent import Intent, Vocabulary, read_intent
from kechuang.text.normalize import (
    CHINESE_STOP_CHARS,
    ENGLISH_STOPWORDS,
    Run,
    bigrams,
    query_runs,
    segment,
    stem,
)


@dataclass(frozen=True)
class Columns:
    """Where each kind of token is searched: Han words, Han bigrams, Latin words (stems and pinyin)."""

    words: tuple[str, ...]
    grams: tuple[str, ...]
    latin: tuple[str, ...]


EVERYWHERE = Columns(
    ("title", "figure", "quote", "body"),
    ("title_cjk", "figure_cjk", "quote_cjk", "body_cjk"),
    ("title", "pinyin", "figure", "quote", "body"),
)
IN_TITLE = Columns(("title",), ("title_cjk",), ("title", "pinyin"))
MAX_UNITS = 24  # a pasted paragraph is searched by its first 24 distinct words
MAX_PINYIN_JOIN = 8  # syllables typed apart ("dong hu ke xue cheng") joined back into a name


def quoted(tokens: Iterable[str]) -> str:
    """An FTS5 string: tokens inside double quotes, any double quote doubled."""
    return '"' + " ".join(tokens).replace('"', '""') + '"'


def colspec(columns: Iterable[str]) -> str:
    return "{" + " ".join(columns) + "}"


@dataclass(frozen=True)
class Alternative:
    """One way to satisfy a unit: Han runs that must all occur, or a phrase of English stems."""

    script: str  # "zh" or "latin"
    tokens: tuple[str, ...]

    def expression(self, columns: Columns = EVERYWHERE) -> str:
        if self.script == "latin":
            return f"{colspec(columns.latin)} : {quoted(self.tokens)}"
        runs = [_han_expression(run, columns.words, columns.grams) for run in self.tokens]
        return runs[0] if len(runs) == 1 else "(" + " AND ".join(runs) + ")"


def _han_expression(run: str, words: tuple[str, ...], grams: tuple[str, ...]) -> str:
    """A Han run as a word, or as its bigrams in a row (exact substring); one character by prefix."""
    if len(run) == 1:
        return f"({colspec(words)} : {quoted([run])} OR {colspec(grams)} : {quoted([run])} *)"
    return f"({colspec(words)} : {quoted([run])} OR {colspec(grams)} : {quoted(bigrams(run)[:-1])})"


@dataclass
class Unit:
    """A word or term of the query; any alternative satisfies it. `named`: records whose name it is."""

    text: str
    alternatives: list[Alternative]
    named: frozenset[int] = frozenset()

    def expression(self, columns: Columns = EVERYWHERE) -> str:
        parts = list(dict.fromkeys(a.expression(columns) for a in self.alternatives))
        return parts[0] if len(parts) == 1 else "(" + " OR ".join(parts) + ")"


@dataclass
class Lexicon:
    """Names and glossary terms by the keys a query can contain (see index.term_rows)."""

    zh: dict[str, set[int]] = field(default_factory=dict)
    en: dict[tuple[str, ...], set[int]] = field(default_factory=dict)
    pinyin: dict[str, set[str]] = field(default_factory=dict)
    groups: dict[int, list[Alternative]] = field(default_factory=dict)  # record → its names as alternatives
    vocabulary: Vocabulary = field(default_factory=Vocabulary)  # places, years and unit words (intent.py)
    zh_max: int = 0
    en_max: int = 0

    @classmethod
    def from_rows(cls, rows: Iterable[tuple[int, str, str, str, str]]) -> Lexicon:
        """Rows of search_terms: (record, lang, form, key, tokens); a record's names form one group."""
        lexicon = cls()
        for record, lang, _form, key, tokens in rows:
            if lang == "py":
                lexicon.pinyin.setdefault(key, set()).add(tokens)
                continue
            alternative = Alternative("zh" if lang == "zh" else "latin", tuple(tokens.split()))
            lexicon.groups.setdefault(record, []).append(alternative)
            if lang == "zh":
                lexicon.zh.setdefault(key, set()).add(record)
                lexicon.zh_max = max(lexicon.zh_max, len(key))
            else:
                stems = tuple(key.split())
                lexicon.en.setdefault(stems, set()).add(record)
                lexicon.en_max = max(lexicon.en_max, len(stems))
        return lexicon

    def alternatives(self, records: Iterable[int]) -> list[Alternative]:
        """Every form of the names of these records."""
        return [a for r in sorted(records) for a in self.groups.get(r, [])]


EMPTY_LEXICON = Lexicon()


@dataclass
class ParsedQuery:
    """A query as match expressions, plus what snippets should highlight."""

    text: str
    units: list[Unit]
    phrases: list[Alternative]
    highlight_zh: set[str]
    highlight_stems: set[str]
    intent: Intent = field(default_factory=Intent)

    @property
    def word_alone(self) -> bool:
        """The query, once its question words are read, is one word, name or term, asking nothing else
        (no place, year or figure): "什么是专精特新", "孵化", "what is a technology manager"."""
        return len(self.units) == 1 and self.intent.is_empty

    @property
    def named(self) -> set[int]:
        """Rowids of the records the query names (a name or glossary term found in it)."""
        return {rowid for unit in self.units for rowid in unit.named}

    @property
    def is_empty(self) -> bool:
        return not self.units

    def match_any(self) -> str:
        return " OR ".join(u.expression() for u in self.units)

    def match_all(self) -> str | None:
        """Every unit; None when the query has a single unit (then any = all)."""
        if len(self.units) < 2:
            return None
        return " AND ".join(u.expression() for u in self.units)

    def match_literal(self) -> str | None:
        """Every unit as typed, without the other forms of names and terms; None when nothing was expanded."""
        if all(len(u.alternatives) == 1 for u in self.units):
            return None
        return " AND ".join(u.alternatives[0].expression() for u in self.units)

    def match_phrase(self) -> str | None:
        """The query's runs as exact phrases; None when no run holds more than one unit."""
        if not self.phrases:
            return None
        return " AND ".join(p.expression() for p in self.phrases)

    def match_title(self) -> str:
        """Every unit within the record's title and names."""
        return " AND ".join(u.expression(IN_TITLE) for u in self.units)


def _split_han(run: str, lexicon: Lexicon) -> list[tuple[str, set[int]]]:
    """A Han run cut at the names and terms it contains (longest first); the rest by rjieba."""
    pieces: list[tuple[str, set[int]]] = []
    plain_start = i = 0
    while i < len(run):
        found = None
        for length in range(min(lexicon.zh_max, len(run) - i), 1, -1):
            groups = lexicon.zh.get(run[i : i + length])
            if groups:
                found = (run[i : i + length], groups)
                break
        if found:
            pieces.extend((w, set()) for w in segment(run[plain_start:i]))
            pieces.append(found)
            i += len(found[0])
            plain_start = i
        else:
            i += 1
    pieces.extend((w, set()) for w in segment(run[plain_start:]))
    return pieces


def _han_units(run: str, lexicon: Lexicon) -> list[Unit]:
    units = []
    for word, groups in _split_han(run, lexicon):
        alternatives = [Alternative("zh", (word,)), *lexicon.alternatives(groups)]
        units.append(Unit(word, alternatives, frozenset(groups)))
    meaningful = [u for u in units if u.text not in CHINESE_STOP_CHARS]
    return meaningful or units


def _pinyin_alternatives(span: list[str], lexicon: Lexicon) -> tuple[list[Alternative], set[int]]:
    """The Han words (and their names' other forms) whose pinyin is the span's words run together."""
    if not all(w.isascii() and w.isalpha() for w in span):
        return [], set()
    alternatives: list[Alternative] = []
    named: set[int] = set()
    for word in sorted(lexicon.pinyin.get("".join(span), ())):
        groups = lexicon.zh.get(word.replace(" ", ""), set())
        alternatives += [Alternative("zh", tuple(word.split())), *lexicon.alternatives(groups)]
        named |= groups
    return alternatives, named


def _latin_units(words: list[str], lexicon: Lexicon) -> list[Unit]:
    """English words and pinyin: names and glossary terms first (in English or pinyin), then single stems."""
    stems = [stem(w) for w in words]
    covered: list[Unit | None] = [None] * len(words)
    content = [i for i, w in enumerate(words) if w not in ENGLISH_STOPWORDS]
    j = 0
    while j < len(content):
        for length in range(min(lexicon.en_max, len(content) - j), 0, -1):
            key = tuple(stems[content[k]] for k in range(j, j + length))
            groups = lexicon.en.get(key)
            if groups:
                first, last = content[j], content[j + length - 1]
                pinyin, named = _pinyin_alternatives(words[first : last + 1], lexicon)
                unit = Unit(
                    " ".join(words[first : last + 1]),
                    [Alternative("latin", tuple(stems[first : last + 1])), *lexicon.alternatives(groups), *pinyin],
                    frozenset(groups | named),
                )
                for k in range(first, last + 1):
                    covered[k] = unit
                j += length
                break
        else:
            j += 1
    i = 0
    while i < len(words):
        if covered[i] is not None:
            i += 1
            continue
        for length in range(min(MAX_PINYIN_JOIN, len(words) - i), 0, -1):
            if any(covered[k] is not None for k in range(i, i + length)):
                continue
            pinyin, named = _pinyin_alternatives(words[i : i + length], lexicon)
            if pinyin:
                unit = Unit(" ".join(words[i : i + length]), [Alternative("latin", tuple(stems[i : i + length])), *pinyin], frozenset(named))
                for k in range(i, i + length):
                    covered[k] = unit
                i += length
                break
        else:
            covered[i] = Unit(words[i], [Alternative("latin", (stems[i],))])
            i += 1
    units = _unique(covered)
    meaningful = [u for u in units if u.text not in ENGLISH_STOPWORDS]
    return meaningful or units


def _unique(units: list[Unit | None]) -> list[Unit]:
    seen: list[Unit] = []
    for unit in units:
        if unit is not None and all(unit is not s for s in seen):
            seen.append(unit)
    return seen


def _groups(runs: list[Run]) -> list[tuple[str, list[str]]]:
    """Runs grouped into Han runs and sequences of consecutive Latin words."""
    grouped: list[tuple[str, list[str]]] = []
    for run in runs:
        if run.script == "latin" and grouped and grouped[-1][0] == "latin":
            grouped[-1][1].append(run.text)
        else:
            grouped.append((run.script, [run.text]))
    return grouped


def parse_query(text: str, lexicon: Lexicon = EMPTY_LEXICON) -> ParsedQuery:
    """The units, phrases and highlight terms of a query. Never raises on any input text."""
    units: list[Unit] = []
    phrases: list[Alternative] = []
    for script, texts in _groups(query_runs(text)):
        if script == "zh":
            found = _han_units(texts[0], lexicon)
            if len(found) > 1:
                phrases.append(Alternative("zh", (texts[0],)))
        else:
            found = _latin_units(texts, lexicon)
            if len([w for w in texts if w not in ENGLISH_STOPWORDS]) > 1:
                phrases.append(Alternative("latin", tuple(stem(w) for w in texts)))
        units.extend(found)
    unique: dict[str, Unit] = {}
    for unit in units:
        unique.setdefault(unit.expression(), unit)
    typed = list(unique.values())[:MAX_UNITS]
    units, intent = read_intent(typed, lexicon.vocabulary)
    if len(units) < 2 or len(typed) == MAX_UNITS:
        phrases = []
    places = lexicon.vocabulary.places
    shown = [u for u in typed if u in units or (u.named and all(r in places for r in u.named))]  # not fillers
    highlight_zh = {t for u in shown for a in u.alternatives if a.script == "zh" for t in a.tokens}
    highlight_zh |= {t for p in phrases if p.script == "zh" for t in p.tokens}
    highlight_stems = {t for u in shown for a in u.alternatives if a.script == "latin" for t in a.tokens}
    if any(t not in ENGLISH_STOPWORDS for t in highlight_stems):
        highlight_stems -= {stem(w) for w in ENGLISH_STOPWORDS}
    return ParsedQuery(text, units, phrases, highlight_zh, highlight_stems, intent)
