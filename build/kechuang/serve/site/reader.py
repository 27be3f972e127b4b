"""Lay out a policy's full source text for reading: outline anchors, highlighted source sentences, translations.

The text is shown exactly as received, line by line. The build stored where every target, platform, fund
and event sentence sits in it (`quote_start`/`quote_end`) and where every measure's paragraph sits
(`text_start`/`text_end`); this module turns those offsets into blocks a template can render without
ever marking data as safe.

A paragraph's marked sentences are numbered (1, 2, … within the paragraph) in both languages: the Chinese
sentence that carries a record's anchor (`#t-<target>`) and its English inside the measure's translation
(found by the record's `quote_en`, or shown under the translation when the translator worded the paragraph
differently) share the class `sent-<n>`, so site.css highlights both when the anchor is the page's
`:target` (`.pair:has([data-s="n"]:target) .sent-n`), without script.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from typing import Any

# How many marked sentences of one paragraph site.css pairs across the languages (its `.sent-<n>` rules go
# this far; tests/test_site_reader_agencies.py checks that they do). The most in one paragraph of the data is 17.
LINKED_SENTENCES = 30
ENGLISH_PREFIX = "en-"  # the English of the sentence anchored `t-x` is anchored `en-t-x`


@dataclass(frozen=True)
class Mark:
    """A sentence of the source that some record came from."""

    start: int
    end: int
    anchor: str  # the element id a link to this record's sentence targets
    href: str  # the record's own page
    label: str  # what the link says
    kind: str  # target, platform, fund, event
    quote_en: str = ""  # the sentence's English, to find in its paragraph's translation


@dataclass
class Segment:
    text: str
    marks: list[Mark] = field(default_factory=list)  # every record whose sentence covers this text
    ids: list[str] = field(default_factory=list)  # anchors of the records whose sentence starts here
    refs: list[Mark] = field(default_factory=list)  # records whose sentence ends here: link after it
    numbers: dict[str, int] = field(default_factory=dict)  # anchor → the sentence's number in its paragraph

    @property
    def marked(self) -> bool:
        return bool(self.marks)

    @property
    def kinds(self) -> str:
        return " ".join(sorted({f"src-{m.kind}" for m in self.marks}))

    @property
    def classes(self) -> str:
        """The mark's classes: its kinds and the numbers of the sentences it is part of (`sent-<n>`)."""
        numbered = sorted({self.numbers[m.anchor] for m in self.marks if m.anchor in self.numbers})
        return " ".join([self.kinds, *(f"sent-{n}" for n in numbered)])

    def number(self, anchor: str) -> int | str:
        """The number of the sentence `anchor` names, for the element that carries the anchor (`data-s`)."""
        return self.numbers.get(anchor, "")


@dataclass
class Translation:
    """A measure's English, with the English of the paragraph's marked sentences marked in it."""

    measure: dict[str, Any]
    segments: list[Segment]
    loose: list[Segment] = field(default_factory=list)  # sentences whose English is worded apart


@dataclass
class Block:
    kind: str  # "heading" or "paragraph"
    start: int
    segments: list[Segment]
    id: str | None = None
    level: int = 0
    heading_en: str = ""
    measures: list[dict[str, Any]] = field(default_factory=list)  # measures whose paragraph this is
    translations: list[Translation] = field(default_factory=list)  # their English, sentences marked

    @property
    def measure_id(self) -> str | None:
        """The anchor of the paragraph's measure, so `#m-<measure id>` lands on it."""
        return measure_anchor(self.measures[0]["id"]) if self.measures else None


@dataclass
class OutlineEntry:
    id: str
    level: int
    heading_zh: str
    heading_en: str


@dataclass
class Reading:
    blocks: list[Block]
    outline: list[OutlineEntry]


def heading_anchor(ordinal: int) -> str:
    return f"sec-{ordinal}"


def measure_anchor(measure_id: str) -> str:
    return f"m-{measure_id}"


def _lines(text: str) -> list[tuple[int, int]]:
    """(start, end) of every non-blank line, end excluding the line break."""
    spans, start = [], 0
    for line in text.split("\n"):
        end = start + len(line)
        stripped = line.rstrip("\r")
        if stripped.strip():
            spans.append((start, start + len(stripped)))
        start = end + 1
    return spans


def _segments(
    text: str, start: int, end: int, marks: list[Mark], numbers: dict[str, int] | None = None
) -> list[Segment]:
    inside = [m for m in marks if m.start < end and m.end > start]
    edges = sorted({start, end, *(max(m.start, start) for m in inside), *(min(m.end, end) for m in inside)})
    segments = []
    for left, right in itertools.pairwise(edges):
        covering = [m for m in inside if m.start <= left and m.end >= right]
        segments.append(
            Segment(
                text=text[left:right],
                marks=covering,
                ids=[m.anchor for m in covering if max(m.start, start) == left],
                refs=[m for m in covering if min(m.end, end) == right],
                numbers=numbers or {},
            )
        )
    return segments


def _numbers(marks: list[Mark], start: int, end: int) -> dict[str, int]:
    """Anchor → number (1, 2, …) of the marked sentences that begin in one paragraph, in reading order."""
    inside = [m for m in marks if start <= m.start < end]
    return {m.anchor: n for n, m in enumerate(inside[:LINKED_SENTENCES], start=1)}


def _find_english(text: str, quote: str, after: int) -> tuple[int, int] | None:
    """Where a sentence's English sits in a translation: as written, else without its closing punctuation
    (a clause's English ends with `;` where the paragraph goes on with `,` or `.`). Searched from `after`
    first, so repeated wording is matched in reading order."""
    for wanted in (quote.strip(), quote.strip().rstrip(";,.。；，")):
        if not wanted:
            continue
        found = text.find(wanted, after)
        if found < 0:
            found = text.find(wanted)
        if found >= 0:
            return found, found + len(wanted)
    return None


def _translate(measure: dict[str, Any], marks: list[Mark], numbers: dict[str, int], claimed: set[str]) -> Translation:
    """The measure's English with each numbered sentence's English marked, anchored `en-<anchor>`."""
    text = measure.get("text_en") or ""
    placed, after = [], 0
    for mark in marks:
        if mark.anchor not in numbers or mark.anchor in claimed or not mark.quote_en:
            continue
        span = _find_english(text, mark.quote_en, after)
        if span is None:
            continue
        claimed.add(mark.anchor)
        after = span[0]
        placed.append(
            Mark(span[0], span[1], ENGLISH_PREFIX + mark.anchor, mark.href, mark.label, mark.kind, mark.quote_en)
        )
    english_numbers = {ENGLISH_PREFIX + anchor: n for anchor, n in numbers.items()}
    ordered = sorted(placed, key=lambda m: (m.start, -m.end))
    segments = _segments(text, 0, len(text), ordered, english_numbers) if text else []
    for segment in segments:
        segment.refs = []  # the links to the records stay with the Chinese
    return Translation(measure=measure, segments=segments)


def _loose_english(marks: list[Mark], numbers: dict[str, int], claimed: set[str]) -> list[Segment]:
    """The English of numbered sentences no translation of the paragraph words the same way, each whole."""
    loose = []
    for mark in marks:
        if mark.anchor in numbers and mark.anchor not in claimed and mark.quote_en:
            anchor = ENGLISH_PREFIX + mark.anchor
            english = Mark(0, len(mark.quote_en), anchor, mark.href, mark.label, mark.kind, mark.quote_en)
            loose.append(Segment(mark.quote_en, [english], [anchor], [], {anchor: numbers[mark.anchor]}))
            claimed.add(mark.anchor)
    return loose


def _translations(measures: list[dict[str, Any]], marks: list[Mark], start: int, end: int) -> list[Translation]:
    """The paragraph's measures in English, the English of its marked sentences marked in them."""
    if not measures:
        return []
    numbers = _numbers(marks, start, end)
    inside = [m for m in marks if m.anchor in numbers]
    claimed: set[str] = set()
    translations = [_translate(measure, inside, numbers, claimed) for measure in measures]
    translations[-1].loose = _loose_english(inside, numbers, claimed)
    return translations


def _find_headings(text: str, lines: list[tuple[int, int]], headings: list[dict[str, Any]]) -> dict[int, dict]:
    """Line start → heading, matching headings in document order to the first line that begins with them."""
    found: dict[int, dict] = {}
    position = 0
    for heading in sorted(headings, key=lambda h: h["ordinal"]):
        wanted = heading["heading_zh"].strip()
        for index in range(position, len(lines)):
            line_start, line_end = lines[index]
            if text[line_start:line_end].strip().startswith(wanted):
                found[line_start] = heading
                position = index + 1
                break
    return found


def read_policy(
    text: str, headings: list[dict[str, Any]], measures: list[dict[str, Any]], marks: list[Mark]
) -> Reading:
    """Blocks for the whole text: heading lines become headings, other lines paragraphs with their marks."""
    lines = _lines(text)
    heading_at = _find_headings(text, lines, headings)
    measures_by_line: dict[int, list[dict]] = {}
    for measure in sorted(measures, key=lambda m: (m.get("text_start") is None, m.get("text_start") or 0)):
        start = measure.get("text_start")
        if start is None:
            continue
        for line_start, line_end in lines:
            if line_start <= start < line_end or (start == line_start == line_end):
                measures_by_line.setdefault(line_start, []).append(measure)
                break
    usable = sorted(
        (m for m in marks if m.start is not None and m.end is not None and m.end > m.start),
        key=lambda m: (m.start, -m.end),
    )
    blocks: list[Block] = []
    outline: list[OutlineEntry] = []
    for line_start, line_end in lines:
        segments = _segments(text, line_start, line_end, usable, _numbers(usable, line_start, line_end))
        heading = heading_at.get(line_start)
        line_measures = measures_by_line.get(line_start, [])
        whole_heading = heading is not None and text[line_start:line_end].strip() == heading["heading_zh"].strip()
        if heading is not None:
            anchor = heading_anchor(heading["ordinal"])
            outline.append(OutlineEntry(anchor, heading["level"], heading["heading_zh"], heading["heading_en"]))
        if whole_heading:
            blocks.append(
                Block(
                    kind="heading",
                    start=line_start,
                    segments=segments,
                    id=heading_anchor(heading["ordinal"]),
                    level=heading["level"],
                    heading_en=heading["heading_en"],
                    measures=line_measures,
                )
            )
            continue
        block_id = heading_anchor(heading["ordinal"]) if heading else None
        blocks.append(
            Block(
                kind="paragraph",
                start=line_start,
                segments=segments,
                id=block_id,
                heading_en=heading["heading_en"] if heading else "",
                measures=line_measures,
                translations=_translations(line_measures, usable, line_start, line_end),
            )
        )
    return Reading(blocks=blocks, outline=outline)
