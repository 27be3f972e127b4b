"""The answer to a question for a figure: the target it asks about, shown as an answer above the results.

"武昌区技术合同成交额目标" is answered by Wuchang's target: place, what, how it binds (comparator), the
figure as written, the deadline, the document and a link to the highlighted sentence. There is an
answer only when the top result is a target whose own place is the place the question names and, when
the question asks for a kind of figure (money, a share, a rank), whose figure is of that kind. Other
targets of the same place among the first results that count the same thing (the same indicator, or
the same name) join it, in date order: one per year, or a goal stated twice. A masked figure
(`*****家`) is given as written and marked masked, never guessed.
"""

from __future__ import annotations

import sqlite3
from typing import Any

from kechuang.model.search import ANSWERS, DATABASE
from kechuang.serve.search.query import ParsedQuery
from kechuang.serve.search.rank import Hit, Placed
from kechuang.serve.site.figures import english_amount
from kechuang.serve.site.pages import target_anchor

ANSWER_POOL = 10  # the answer's targets come from this many first results
ANSWER_COLUMNS = (
    "id", "policy_id", "indicator_id", "name_zh", "name_en", "comparator", "figure_zh", "value", "value_max",
    "unit_zh", "unit_en", "base_unit", "deadline_year", "status",
)


def _targets(conn: sqlite3.Connection, ids: list[str]) -> dict[str, dict[str, Any]]:
    marks = ", ".join("?" for _ in ids)
    columns = ", ".join(f"[{c}]" for c in ANSWER_COLUMNS)
    cursor = conn.execute(f"select {columns} from [{ANSWERS}] where id in ({marks})", ids)
    return {row[0]: dict(zip(ANSWER_COLUMNS, row, strict=True)) for row in cursor}


def _same_figure(first: dict[str, Any], other: dict[str, Any]) -> bool:
    if first["indicator_id"] and other["indicator_id"]:
        return first["indicator_id"] == other["indicator_id"]
    return first["name_zh"] == other["name_zh"]


def find_answer(
    conn: sqlite3.Connection,
    parsed: ParsedQuery,
    hits: list[Hit],
    context: dict[int, Placed],
    ids: dict[int, str],
    names: dict[str, tuple[str, str]],
) -> dict[str, Any] | None:
    """The answer object, or None. `ids`: rowid → record id of the hits; `names`: place or policy id →
    (Chinese, English) name."""
    intent = parsed.intent
    if not hits or not intent.places:
        return None
    top = context.get(hits[0].rowid)
    if not top or top.type != ANSWERS or not top.places or top.places[0] not in intent.places:
        return None
    if intent.units and top.base_unit not in intent.units:
        return None
    pool = [h for h in hits[:ANSWER_POOL] if (c := context.get(h.rowid)) and c.type == ANSWERS and c.places[:1] == top.places[:1]]
    try:
        rows = _targets(conn, [ids[h.rowid] for h in pool if h.rowid in ids])
    except sqlite3.OperationalError:  # a database without the answers table: no answer, results as ever
        return None
    first = rows.get(ids.get(hits[0].rowid, ""))
    if not first:
        return None
    chosen = [rows[ids[h.rowid]] for h in pool if ids.get(h.rowid) in rows and _same_figure(first, rows[ids[h.rowid]])]
    chosen.sort(key=lambda row: (row["deadline_year"] or 0, row["id"]))
    place = top.places[0]
    factors = _factors(conn, sorted({row["unit_zh"] for row in chosen if row["unit_zh"]}))
    return {
        "place": {"id": place, "name_zh": names.get(place, ("", ""))[0], "name_en": names.get(place, ("", ""))[1]},
        "targets": [_present(row, names, factors.get(row["unit_zh"])) for row in chosen],
    }


def _factors(conn: sqlite3.Connection, units: list[str]) -> dict[str, float]:
    """Chinese unit → its factor (万元 → 10000), for the English figure; {} without a units table."""
    if not units:
        return {}
    marks = ", ".join("?" for _ in units)
    try:
        return dict(conn.execute(f"select unit_zh, factor from units where unit_zh in ({marks})", units).fetchall())
    except sqlite3.OperationalError:
        return {}


def _present(row: dict[str, Any], names: dict[str, tuple[str, str]], factor: float | None = None) -> dict[str, Any]:
    """One target of the answer; `figure_en` is the figure in English words (`figures.english_amount`, as the
    target's own page writes it), empty when masked."""
    masked = row["status"] == "redacted"
    policy = row["policy_id"]
    return {
        "id": row["id"],
        "name_zh": row["name_zh"],
        "name_en": row["name_en"],
        "comparator": row["comparator"],
        "figure_zh": row["figure_zh"],
        "figure_en": "" if masked or row["value"] is None else english_amount(row, factor),
        "value": None if masked else row["value"],
        "value_max": None if masked else row["value_max"],
        "unit_zh": row["unit_zh"],
        "unit_en": row["unit_en"],
        "deadline_year": row["deadline_year"],
        "masked": masked,
        "policy": {"id": policy, "title_zh": names.get(policy, ("", ""))[0], "title_en": names.get(policy, ("", ""))[1]},
        "url": f"/{DATABASE}/{ANSWERS}/{row['id']}",
        "page_url": f"/{ANSWERS}/{row['id']}",
        "source_url": f"/policies/{policy}#{target_anchor(row['id'])}",
    }
