"""The one text normaliser of search, used both to build the index and to read a query.

Search only works if a record and a query that mean the same thing end up as the same tokens, so
every step lives here once: NFKC (full-width → half-width), traditional → simplified Chinese
(OpenCC t2s), case folding, diacritics removed from Latin letters, Chinese word segmentation
(rjieba) plus character bigrams so an unsegmented word is still found, English stemming
(PyStemmer, with British spellings as the common form) and the pinyin of names (pypinyin).

The output is plain space-separated tokens: letters and digits only, never punctuation, so the
FTS5 `ascii` tokenizer stores them as they are and a query can never inject FTS5 syntax.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass

import opencc
import rjieba
import Stemmer
from pypinyin import lazy_pinyin

_CJK = "\u3007\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\U00020000-\U0002ebef\U00030000-\U0003134f"
# A run of Han characters, or a run of other letters and digits (Latin, Cyrillic, kana, …).
RUN = re.compile(rf"([{_CJK}]+)|([^\W_{_CJK}]+)")
CJK_CHAR = re.compile(rf"[{_CJK}]")
NOT_HAN = re.compile(rf"[^{_CJK}]+")
OTHER_WORD = re.compile(rf"[^\W_{_CJK}]+")

_t2s = opencc.OpenCC("t2s")
_stemmer = Stemmer.Stemmer("english")
_stems: dict[str, str] = {}

# American spellings folded into the British ones the data uses ("center" finds "centre").
_US_TO_UK = re.compile(r"(?<=[a-z]{3})iz(e|es|ed|ing|er|ers|ation|ations)$")
_US_WORDS = {
    "center": "centre",
    "centers": "centres",
    "centered": "centred",
    "labor": "labour",
    "defense": "defence",
    "catalog": "catalogue",
    "program": "programme",
    "programs": "programmes",
}

ENGLISH_STOPWORDS = frozenset(
    ["a", "an", "the", "of", "and", "or", "in", "on", "at", "to", "for", "from", "by", "with", "as", "is", "are", "was", "were", "be", "been", "its", "it", "this", "that", "these", "those", "into", "onto", "per", "via", "than", "s"]
)
# Single characters that carry no meaning alone in a Chinese query (they stay in phrases).
CHINESE_STOP_CHARS = frozenset("的了和与及或在对为将把被是并等之其以于中上下")


def _clean(text: str) -> str:
    """Text OpenCC can take: lone surrogates (from broken input) become U+FFFD."""
    return text.encode("utf-8", "replace").decode("utf-8")


def fold(text: str) -> str:
    """NFKC, simplified Chinese and case folding: the form every comparison in search uses."""
    text = unicodedata.normalize("NFKC", text)
    try:
        text = _t2s.convert(text)
    except UnicodeError:
        text = _t2s.convert(_clean(text))
    return text.casefold()


def fold_latin(token: str) -> str:
    """A Latin token without diacritics ("dōnghú" → "donghu"), so tone-marked pinyin matches."""
    if token.isascii():
        return token
    stripped = "".join(c for c in unicodedata.normalize("NFKD", token) if not unicodedata.combining(c))
    return unicodedata.normalize("NFC", stripped)


def stem(token: str) -> str:
    """The English stem of one folded Latin token (British spelling first)."""
    cached = _stems.get(token)
    if cached is None:
        word = _US_WORDS.get(token) or _US_TO_UK.sub(r"is\1", token)
        cached = _stemmer.stemWord(word)
        if len(_stems) < 200_000:
            _stems[token] = cached
    return cached


class _WordStems(dict):
    """Folded word → stem, filled on first use (a corpus has few distinct words)."""

    def __missing__(self, word: str) -> str:
        value = stem(fold_latin(word))
        if len(self) < 500_000:
            self[word] = value
        return value


_word_stems = _WordStems()


def is_cjk(text: str) -> bool:
    return bool(text) and CJK_CHAR.match(text) is not None


def bigrams(run: str) -> list[str]:
    """Character bigrams of a Han run, then its last character, so that every character starts a token.

    A phrase of bigrams matches exactly where the query's characters occur in a row; the trailing
    single character lets a one-character query match by prefix anywhere.
    """
    if len(run) == 1:
        return [run]
    return [*map(str.__add__, run[:-1], run[1:]), run[-1]]


def neighbour_pairs(han: str) -> str:
    """Each character with its right neighbour, space-separated: the bigrams of every Han run.

    `han` holds Han runs separated by spaces; a run's edges give "X " and " X", i.e. its first and
    last characters alone, so a one-character query matches by prefix anywhere. Built by
    interleaving the UTF-32 code units of the text and of the text shifted by one, which keeps the
    loop in C (2-3 times faster than pairing characters in Python).
    """
    current = han.encode("utf-32-le")
    following = (han[1:] + " ").encode("utf-32-le")
    out = bytearray(b" \x00\x00\x00" * (3 * len(han)))
    for byte in range(4):
        out[byte::12] = current[byte::4]
        out[4 + byte :: 12] = following[byte::4]
    return out.decode("utf-32-le")


@dataclass(frozen=True)
class IndexText:
    """One field's text as the index stores it: words (Chinese words, English stems) and Han bigrams."""

    words: str
    grams: str


def analyse(text: str | None) -> IndexText:
    """Index tokens of a text: rjieba search-mode words and English stems, plus Han character bigrams.

    Written for throughput (the whole text at once, loops in C): the Han runs, with everything else
    turned into spaces, go through rjieba and the bigram pairing; the other words are stemmed.
    """
    if not text:
        return IndexText("", "")
    words = grams = ""
    if text.isascii():  # English: folding is lower-casing, and there is no Han text
        folded = text.lower()
    else:
        folded = fold(text)
        han = NOT_HAN.sub(" ", folded)
        if not han.isspace() and han:
            words = " ".join(rjieba.cut_for_search(han))
            grams = neighbour_pairs(han)
    others = OTHER_WORD.findall(folded)
    if others:
        stems = " ".join(map(_word_stems.__getitem__, others))
        words = f"{words} {stems}" if words else stems
    return IndexText(words, grams)


@dataclass(frozen=True)
class Run:
    """A stretch of a query in one script: `zh` (Han characters) or `latin` (one word)."""

    script: str
    text: str


def query_runs(text: str) -> list[Run]:
    """The query cut into Han runs and single Latin words, in order, folded like the index."""
    runs = []
    for match in RUN.finditer(fold(text)):
        han, other = match.groups()
        runs.append(Run("zh", han) if han else Run("latin", fold_latin(other)))
    return runs


def segment(run: str) -> list[str]:
    """Words of a Han run (rjieba precise mode): the units a Chinese query is matched by."""
    return [w for w in rjieba.cut(run) if w.strip()]


def search_words(run: str) -> list[str]:
    """Words and sub-words of a Han run (search mode), e.g. 武汉市 → 武汉, 武汉市."""
    return [w for w in rjieba.cut_for_search(run) if w.strip()]


def pinyin(word: str) -> list[str]:
    """Toneless pinyin syllables of Han characters (other characters are dropped)."""
    return [s for s in lazy_pinyin(word, errors="ignore") if s.isascii() and s.isalpha()]


def pinyin_words(name: str) -> Iterator[tuple[str, str]]:
    """(pinyin, Han words) pairs of a name: each search-mode word of two or more characters, each
    whole run, and the whole name's Han runs (space-separated) when it has several.

    东湖科学城 gives donghu/东湖, kexue/科学, kexuecheng/科学城 and donghukexuecheng/东湖科学城;
    中船第701所 also gives zhongchuandisuo/"中船第 所".
    """
    runs = [m.group(1) for m in RUN.finditer(fold(name)) if m.group(1)]
    for han in runs:
        for word in dict.fromkeys([*search_words(han), han]):
            if len(word) >= 2 and (syllables := pinyin(word)):
                yield "".join(syllables), word
    if len(runs) > 1 and (syllables := pinyin("".join(runs))):
        yield "".join(syllables), " ".join(runs)


def pinyin_tokens(name: str | None) -> str:
    """Index tokens for the pinyin of a name: syllables, words and the whole name (wuhan, guanggu, …)."""
    if not name:
        return ""
    tokens: list[str] = []
    for match in RUN.finditer(fold(name)):
        if han := match.group(1):
            tokens.extend(pinyin(han))
    tokens.extend(joined for joined, _word in pinyin_words(name))
    return " ".join(stem(t) for t in dict.fromkeys(tokens))
