"""Columns the build derives from the curated tables, so no fact is typed twice.

Each derived column is declared once here with its description; the compiler fills it and the
Datasette metadata, API spec and data dictionary read the description from here.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

from sqlite_utils import Database


@dataclass(frozen=True)
class DerivedColumn:
    table: str
    name: str
    type: str  # Frictionless type name
    description: str
    description_zh: str
    search: str | None = None  # like a schema field's x_search


DERIVED_COLUMNS: tuple[DerivedColumn, ...] = (
    DerivedColumn("policies", "text_zh", "string", "The full source text as received.", "所收源文本全文。", search="body"),
    DerivedColumn(
        "policies",
        "source_sha256",
        "string",
        "SHA-256 of the source text file, to prove which copy the data came from.",
        "源文本文件的 SHA-256 校验值。",
    ),
    DerivedColumn(
        "measures",
        "text_start",
        "integer",
        "Character offset of text_zh in the policy's source text.",
        "text_zh 在源文本中的字符起始位置。",
    ),
    DerivedColumn(
        "measures",
        "text_end",
        "integer",
        "Character offset just after text_zh in the source text.",
        "text_zh 在源文本中的字符结束位置。",
    ),
    DerivedColumn(
        "targets",
        "base_unit",
        "string",
        "Base unit of value_base (from the units table).",
        "value_base 的基本单位（据单位表）。",
    ),
    DerivedColumn(
        "targets",
        "value_base",
        "number",
        "value converted to the base unit (亿元 → CNY × 1e8, 万人 → persons × 1e4).",
        "换算为基本单位后的数值（亿元 → 元 × 1e8，万人 → 人 × 1e4）。",
    ),
    DerivedColumn(
        "targets", "value_max_base", "number", "value_max converted to the base unit.", "换算为基本单位后的区间上限。"
    ),
    DerivedColumn(
        "targets",
        "quote_start",
        "integer",
        "Character offset of quote_zh in the policy's source text.",
        "quote_zh 在源文本中的字符起始位置。",
    ),
    DerivedColumn(
        "targets",
        "quote_end",
        "integer",
        "Character offset just after quote_zh in the source text.",
        "quote_zh 在源文本中的字符结束位置。",
    ),
    DerivedColumn("funds", "amount_cny", "number", "amount converted to yuan.", "换算为元的规模。"),
    *(
        DerivedColumn(
            table,
            column,
            "integer",
            f"Character offset {edge} quote_zh in the policy's source text.",
            f"quote_zh 在源文本中的字符{edge_zh}位置。",
        )
        for table in ("platform_mentions", "fund_mentions", "event_mentions")
        for column, edge, edge_zh in (("quote_start", "of", "起始"), ("quote_end", "just after", "结束"))
    ),
)

SQL_TYPES = {"string": str, "integer": int, "number": float, "boolean": int, "date": str}


def derived_columns(table: str) -> list[DerivedColumn]:
    return [c for c in DERIVED_COLUMNS if c.table == table]


def _offsets(source: str, text: str | None, near: int = 0) -> tuple[int | None, int | None]:
    if not text:
        return None, None
    start = source.find(text, near)
    if start == -1:
        start = source.find(text)
    return (start, start + len(text)) if start != -1 else (None, None)


def fill_derived_columns(db: Database, sources: dict[str, str], source_bytes: dict[str, bytes]) -> None:
    """Add and fill every derived column. `sources` maps policy id to its source text."""
    for column in DERIVED_COLUMNS:
        db[column.table].add_column(column.name, SQL_TYPES[column.type])

    for policy_id, text in sources.items():
        db["policies"].update(
            policy_id,
            {"text_zh": text, "source_sha256": hashlib.sha256(source_bytes[policy_id]).hexdigest()},
        )

    measure_policy: dict[str, str] = {}
    measure_start: dict[str, int] = {}
    for row in db.query("select id, policy_id, text_zh from measures"):
        start, end = _offsets(sources.get(row["policy_id"], ""), row["text_zh"])
        measure_policy[row["id"]] = row["policy_id"]
        measure_start[row["id"]] = start or 0
        db["measures"].update(row["id"], {"text_start": start, "text_end": end})

    units = {u["unit_zh"]: u for u in db.query("select * from units")}

    def base(value: Any, unit: str | None) -> Any:
        if value is None or unit not in units:
            return None
        return value * units[unit]["factor"]

    for row in db.query("select id, policy_id, measure_id, quote_zh, value, value_max, unit_zh from targets"):
        start, end = _offsets(
            sources.get(row["policy_id"], ""), row["quote_zh"], measure_start.get(row["measure_id"], 0)
        )
        db["targets"].update(
            row["id"],
            {
                "base_unit": units.get(row["unit_zh"], {}).get("base_unit"),
                "value_base": base(row["value"], row["unit_zh"]),
                "value_max_base": base(row["value_max"], row["unit_zh"]),
                "quote_start": start,
                "quote_end": end,
            },
        )

    for row in db.query("select id, amount, amount_unit_zh from funds"):
        db["funds"].update(row["id"], {"amount_cny": base(row["amount"], row["amount_unit_zh"])})

    for table, key in (
        ("platform_mentions", "platform_id"),
        ("fund_mentions", "fund_id"),
        ("event_mentions", "event_id"),
    ):
        for row in db.query(f"select rowid, {key}, measure_id, quote_zh from {table}"):
            policy_id = measure_policy.get(row["measure_id"], "")
            start, end = _offsets(sources.get(policy_id, ""), row["quote_zh"], measure_start.get(row["measure_id"], 0))
            db.execute(f"update {table} set quote_start = ?, quote_end = ? where rowid = ?", [start, end, row["rowid"]])
