"""Curators' notes that name another record by its id: the id becomes that record's name, linked to its page.

A note reads "…写作"市科技创新局"（wuhan-science-technology-innovation-bureau）…": the id is exact for the
curators and opaque to a reader. The CSV keeps the id (it is checked and stable); at render time each
id-like word that is the id of a known record (agency, target, indicator, platform, fund, event, measure)
is replaced by the record's name in the page language, linked to its portal page, and in the page's
`<meta name="description">` by the name alone. Names and pages come from the search index
(`search_records`: `title_zh`, `title_en`, `page_url`, from the schemas' `x_portal`), so nothing is
written twice.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from markupsafe import Markup, escape

from kechuang.model.search import RECORDS
from kechuang.model.search import REFERABLE_IN_NOTES as LINKED_TYPES

# ids are lower-case slugs with at least one hyphen; a word of a sentence is not matched inside a longer word
ID_LIKE = re.compile(r"(?<![A-Za-z0-9_-])[a-z0-9]+(?:-[a-z0-9]+)+(?![A-Za-z0-9_-])")


@dataclass(frozen=True)
class Known:
    """A record a note may name: its name in the page language and its portal page."""

    name: str
    href: str


@dataclass(frozen=True)
class LinkedText:
    """A note with its record ids resolved: `html` (links, escaped) for the page, `plain` for descriptions."""

    html: Markup
    plain: str

    def __str__(self) -> str:  # a builder's caller that wants text gets the plain form
        return self.plain

    def __html__(self) -> str:
        return str(self.html)

    def __bool__(self) -> bool:
        return bool(self.plain)


async def known_records(query: Any, texts: list[str], lang: str) -> dict[str, Known]:
    """Id → name and page of each record of LINKED_TYPES whose id occurs id-like in one of `texts`."""
    candidates = sorted({m.group(0) for text in texts if text for m in ID_LIKE.finditer(text)})
    if not candidates:
        return {}
    ids = ", ".join(f":i{i}" for i in range(len(candidates)))
    types = ", ".join(f":t{i}" for i in range(len(LINKED_TYPES)))
    params = {f"i{i}": c for i, c in enumerate(candidates)} | {f"t{i}": t for i, t in enumerate(LINKED_TYPES)}
    rows = await query(
        f"select type, id, title_zh, title_en, page_url from [{RECORDS}] "
        f"where type in ({types}) and id in ({ids}) and page_url is not null",
        params,
    )
    order = {t: i for i, t in enumerate(LINKED_TYPES)}  # an id two tables share: the first kind listed wins
    found: dict[str, Known] = {}
    for row in sorted(rows, key=lambda r: order[r["type"]]):
        other = "en" if lang == "zh" else "zh"
        name = row[f"title_{lang}"] or row[f"title_{other}"] or row["id"]
        found.setdefault(row["id"], Known(name=" ".join(str(name).split()), href=row["page_url"]))
    return found


OPENING, CLOSING, QUOTES = "（(", "）)", ("", "”", '"', "」", "’", "'")


def _named_before(head: str, name: str) -> int | None:
    """Where `name` starts when `head` ends with it (a closing quote may follow it), else None."""
    for quote in QUOTES:
        if name and head.endswith(name + quote):
            return len(head) - len(quote) - len(name)
    return None


def link(text: str, known: dict[str, Known]) -> LinkedText:
    """`text` with each known id replaced: a link named for the record (html) and the bare name (plain).

    "“市科技创新局”（wuhan-science-technology-innovation-bureau）" names the record twice: the parenthesis goes
    and the name written before it becomes the link."""
    text = text or ""
    html: list[str] = []
    plain: list[str] = []
    last = 0
    for match in ID_LIKE.finditer(text):
        record = known.get(match.group(0))
        if record is None:
            continue
        start, end = match.start(), match.end()
        bracketed = start > last and text[start - 1] in OPENING and text[end : end + 1] in tuple(CLOSING)
        named = _named_before(text[last : start - 1], record.name) if bracketed else None
        if named is not None:
            head = text[last : last + named]
            tail = text[last + named + len(record.name) : start - 1]  # the closing quote, if any
            html += [str(escape(head)), _anchor(record), str(escape(tail))]
            plain += [head, record.name, tail]
            last = end + 1
            continue
        before = text[last:start]
        html += [str(escape(before)), _anchor(record)]
        plain += [before, record.name]
        last = end
    rest = text[last:]
    return LinkedText(html=Markup("".join([*html, str(escape(rest))])), plain="".join([*plain, rest]))


def _anchor(record: Known) -> str:
    return f'<a href="{escape(record.href)}" class="record-ref">{escape(record.name)}</a>'


async def linked(query: Any, text: str, lang: str) -> LinkedText:
    """One note with its ids resolved (one query)."""
    return link(text, await known_records(query, [text], lang))
