"""Where paragraphs start in a source text, so a paragraph is found without searching the whole text.

A measure's text is one paragraph of its policy's source. Validation (is it verbatim, does it
start a paragraph?) and the build (at which offset?) look it up here in constant time instead
of scanning a source that, for a long document, holds thousands of paragraphs.
"""

from __future__ import annotations

SPACES = " \u3000\t"  # indentation allowed before a paragraph's first character
KEY_WIDTH = 8


def paragraph_index(source: str) -> dict[str, list[int]]:
    """Offsets where a paragraph's text starts (after a line break and indentation), by its first characters."""
    index: dict[str, list[int]] = {}
    starts = [len(source) - len(source.lstrip())]
    line = source.find("\n")
    while line != -1:
        start = line + 1
        while start < len(source) and source[start] in SPACES:
            start += 1
        starts.append(start)
        line = source.find("\n", start)
    for start in starts:
        index.setdefault(source[start : start + KEY_WIDTH], []).append(start)
    return index


def paragraph_start(source: str, index: dict[str, list[int]], text: str) -> int | None:
    """The first offset where `text` starts a paragraph of `source`; None when the index cannot tell
    (text shorter than the key, or starting with a space or line break): callers then search."""
    if len(text) < KEY_WIDTH or text[0] in SPACES + "\r\n":
        return None
    for start in index.get(text[:KEY_WIDTH], ()):
        if source.startswith(text, start):
            return start
    return None
