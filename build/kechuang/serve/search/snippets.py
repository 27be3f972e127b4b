"""Highlighted snippets cut from the original text, HTML-escaped, in Chinese and English.

The index holds normalised tokens only; a reader must see the record's own words. So the original
text is folded the same way as the index (the fold keeps one character per character for the texts
we hold), the query's Han strings and English stems are found in it, and the window with the most
matches is cut out, escaped, with each match in <mark>.
"""

from __future__ import annotations

import html
import re
import unicodedata
from dataclasses import dataclass

from kechuang.serve.search.query import ParsedQuery
from kechuang.text.normalize import RUN, fold, fold_latin, stem

WIDTH = {"zh": 90, "en": 220}
MAX_SPANS = 400
_SPACE = re.compile(r"\s+")


@dataclass(frozen=True)
class Needles:
    """What to mark: folded Han strings and English stems."""

    han: tuple[str, ...]
    stems: frozenset[str]

    @classmethod
    def of(cls, parsed: ParsedQuery) -> Needles:
        return cls(tuple(sorted(parsed.highlight_zh, key=len, reverse=True)), frozenset(parsed.highlight_stems))


def _aligned_fold(text: str) -> str | None:
    """The text folded with one output character per input character, or None when that is impossible."""
    folded = fold(text)
    if len(folded) == len(text):
        return folded
    pieces = [unicodedata.normalize("NFKC", c).casefold() for c in text]
    if any(len(p) != 1 for p in pieces):
        return None
    folded = fold("".join(pieces))
    return folded if len(folded) == len(text) else None


def han_spans(text: str, needles: Needles) -> list[tuple[int, int]]:
    """Where the query's Chinese words occur in `text` (already folded or simplified), at most MAX_SPANS."""
    spans: list[tuple[int, int]] = []
    for needle in needles.han:
        start = text.find(needle)
        while start != -1 and len(spans) < MAX_SPANS:
            spans.append((start, start + len(needle)))
            start = text.find(needle, start + len(needle))
    return spans


def match_spans(text: str, needles: Needles) -> list[tuple[int, int]]:
    """Sorted, non-overlapping (start, end) spans of the text that the query matches."""
    folded = _aligned_fold(text)
    if folded is None or not (needles.han or needles.stems):
        return []
    spans = han_spans(folded, needles)
    if needles.stems:
        for match in RUN.finditer(folded):
            if match.group(2) and stem(fold_latin(match.group(2))) in needles.stems:
                spans.append(match.span())
                if len(spans) >= MAX_SPANS:
                    break
    spans.sort(key=lambda s: (s[0], -s[1]))
    merged: list[tuple[int, int]] = []
    for start, end in spans:
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(end, merged[-1][1]))
        else:
            merged.append((start, end))
    return merged


def _render(text: str, spans: list[tuple[int, int]], start: int, end: int) -> str:
    out: list[str] = ["…" if start > 0 else ""]
    cursor = start
    for s, e in spans:
        if e <= start or s >= end:
            continue
        s, e = max(s, start), min(e, end)
        out.append(html.escape(_SPACE.sub(" ", text[cursor:s])))
        out.append("<mark>" + html.escape(_SPACE.sub(" ", text[s:e])) + "</mark>")
        cursor = e
    out.append(html.escape(_SPACE.sub(" ", text[cursor:end])))
    out.append("…" if end < len(text) else "")
    return "".join(out).strip()


def _best_window(spans: list[tuple[int, int]], length: int, width: int) -> tuple[int, int]:
    """The window of `width` characters holding the most matches, starting a little before the first."""
    if not spans or length <= width:
        return 0, min(length, width)
    best_start, best_count = spans[0][0], 0
    for i, (s, _e) in enumerate(spans):
        count = sum(1 for t, _ in spans[i:] if t < s + width * 3 // 4)
        if count > best_count:
            best_start, best_count = s, count
    start = max(0, min(best_start - width // 4, length - width))
    return start, start + width


def snippet(text: str | None, needles: Needles, language: str) -> tuple[str, int]:
    """An escaped, highlighted excerpt of the text and how many matches it shows."""
    if not text:
        return "", 0
    width = WIDTH[language]
    spans = match_spans(text, needles)
    start, end = _best_window(spans, len(text), width)
    shown = sum(1 for s, e in spans if s < end and e > start)
    return _render(text, spans, start, end), shown


def highlight(text: str | None, needles: Needles) -> str:
    """The whole text escaped, with every match marked (for titles)."""
    if not text:
        return ""
    return _render(text, match_spans(text, needles), 0, len(text))


def best_snippet(texts: list[str | None], needles: Needles, language: str) -> str:
    """The snippet of the first text with the most matches; the first non-empty text when none match."""
    best, best_count = "", -1
    for text in texts:
        if not text:
            continue
        rendered, count = snippet(text, needles, language)
        if count > best_count:
            best, best_count = rendered, count
    return best
