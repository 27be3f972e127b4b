"""Where in its document a policy result lands: at the passage that matched, not at the top of 30,000 characters.

A policy matches by its title and summary or by its full text. When neither its title nor its summary
holds a match, the result lands where its text matches most densely (the window a snippet would show):
at the measure whose paragraph holds that passage, the measure's own page in the reader
(`/policies/<id>#m-<measure>`, from the index). A passage outside every measure's paragraph, a title or
summary match, or a database without the offsets keeps the policy's page.
"""

from __future__ import annotations

import sqlite3
from typing import Any

from kechuang.model.search import POLICIES, RECORDS
from kechuang.serve.search.snippets import Needles, han_spans, match_spans

PASSAGE = 120  # characters: the window searched for the densest matches, as wide as a Chinese snippet


def _han_spans(text: str, needles: Needles) -> list[tuple[int, int]]:
    """Where the query's Chinese words are in a source text, sorted. The sources are simplified Chinese, as
    the needles are, so a plain search finds them without folding 30,000 characters again (the snippet did)."""
    return sorted(han_spans(text, needles))


def _densest(spans: list[tuple[int, int]]) -> int | None:
    """The start of the first match in the window of PASSAGE characters holding the most matches."""
    best, count = None, 0
    for i, (start, _end) in enumerate(spans):
        inside = sum(1 for s, _e in spans[i:] if s < start + PASSAGE)
        if inside > count:
            best, count = start, inside
    return best


def _measure_page(conn: sqlite3.Connection, policy: str, position: int) -> str | None:
    row = conn.execute(
        f"""select r.page_url from measures m join [{RECORDS}] r on r.type = 'measures' and r.id = m.id
            where m.policy_id = ? and m.text_start <= ? and ? < m.text_end order by m.text_start desc limit 1""",
        [policy, position, position],
    ).fetchone()
    return row[0] if row and row[0] else None


def land_policies(conn: sqlite3.Connection, results: list[dict[str, Any]], needles: Needles) -> None:
    """Set `page_url` of each policy result whose match is only in its text to the passage's measure."""
    for result in results:
        if result["type"] != POLICIES:
            continue
        try:
            row = conn.execute(
                f"select text_zh, title_zh, summary_zh, title_en, summary_en from [{POLICIES}] where id = ?",
                [result["id"]],
            ).fetchone()
            if not row or not row[0] or match_spans("\n".join(t or "" for t in row[1:]), needles):
                continue
            position = _densest(_han_spans(row[0], needles))
            page = _measure_page(conn, result["id"], position) if position is not None else None
        except sqlite3.OperationalError:  # a database built before measures knew their offsets
            continue
        if page:
            result["page_url"] = page
