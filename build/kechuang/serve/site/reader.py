"""Lay out a policy's full source text for reading: outline anchors, highlighted source sentences, translations.

The text is shown exactly as received, line by line. The build stored where every target, platform, fund
and event sentence sits in it (`quote_start`/`quote_end`) and where every measure's paragraph sits
(`text_start`/`text_end`); this module turns those offsets into blocks a template can render without
ever marking data as safe.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Mark:
    """A sentence of the source that some record came from."""

    start: int
    end: int
    anchor: str  # the element id a link to this record's sentence targets
    href: str  # the record's own page
    label: str  # what the link says
    kind: str  # target, platform, fund, event


@dataclass
class Segment:
    text: str
    marks: list[Mark] = field(default_factory=list)  # every record whose sentence covers this text
    ids: list[str] = field(default_factory=list)  # anchors of the records whose sentence starts here
    refs: list[Mark] = field(default_factory=list)  # records whose sentence ends here: link after it

    @property
    def marked(self) -> bool:
        return bool(self.marks)

    @property
    def kinds(self) -> str:
        return " ".join(sorted({f"src-{m.kind}" for m in self.marks}))


@dataclass
class Block:
    kind: str  # "heading" or "paragraph"
    start: int
    segments: list[Segment]
    id: str | None = None
    level: int = 0
    heading_en: str = ""
    measures: list[dict[str, Any]] = field(default_factory=list)  # measures whose paragraph this is

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


def _segments(text: str, start: int, end: int, marks: list[Mark]) -> list[Segment]:
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
            )
        )
    return segments


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
        segments = _segments(text, line_start, line_end, usable)
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
            )
        )
    return Reading(blocks=blocks, outline=outline)
