"""Columns the build derives from the curated tables, so no fact is typed twice.

Each derived column is declared once here with its description; the compiler fills it and the
Datasette metadata, API spec and data dictionary read the description from here.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any, ClassVar

from sqlite_utils import Database

from kechuang.project import Project
from kechuang.text.paragraphs import paragraph_index, paragraph_start


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


class Deriver:
    """Computes each row's derived columns as it is loaded, so every row is written once.

    Tables load in dependency order, so a policy's source text is known before its measures, a
    measure's offset before the quotes in it, and the units before the figures stated in them.
    A measure's offsets are those of the paragraph its text starts (validation guarantees it
    starts one), found through the paragraph index; a quote is looked for from its measure on.
    """

    def __init__(self, project: Project, db: Database):
        self.project = project
        self.db = db
        self.sources: dict[str, str] = {}
        self.paragraphs: dict[str, dict[str, list[int]]] = {}
        self.measure_policy: dict[str, str] = {}
        self.measure_start: dict[str, int] = {}
        self._units: dict[str, tuple[float, str]] | None = None

    # The curated fields each table's derived columns are computed from.
    INPUTS: ClassVar[dict[str, tuple[str, ...]]] = {
        "policies": ("id", "source_file"),
        "measures": ("id", "policy_id", "text_zh"),
        "targets": ("policy_id", "measure_id", "quote_zh", "value", "value_max", "unit_zh"),
        "funds": ("amount", "amount_unit_zh"),
        "platform_mentions": ("measure_id", "quote_zh"),
        "fund_mentions": ("measure_id", "quote_zh"),
        "event_mentions": ("measure_id", "quote_zh"),
    }

    def columns(self, table: str) -> list[str]:
        return [c.name for c in derived_columns(table)]

    def derive(self, table: str, columns: dict[str, list[Any]], count: int) -> list[list[Any]]:
        """The derived columns of a whole table, given its typed curated columns, in `columns(table)` order."""
        names = self.columns(table)
        if not names:
            return []
        inputs = self.INPUTS[table]
        rows = (dict(zip(inputs, values, strict=True)) for values in zip(*(columns[n] for n in inputs), strict=True))
        derived = [self.values(table, row) for row in rows]
        return [list(column) for column in zip(*derived, strict=True)] if derived else [[] for _ in names]

    @property
    def units(self) -> dict[str, tuple[float, str]]:
        if self._units is None:
            rows = self.db.execute("select unit_zh, factor, base_unit from units").fetchall()
            self._units = {unit: (float(factor), base_unit) for unit, factor, base_unit in rows}
        return self._units

    def base(self, value: Any, unit: str | None) -> float | None:
        if value is None or unit not in self.units:
            return None
        return float(value) * self.units[unit][0]

    def quote(self, policy_id: str, measure_id: str | None, quote: str | None) -> tuple[int | None, int | None]:
        return _offsets(self.sources.get(policy_id, ""), quote, self.measure_start.get(measure_id or "", 0))

    def values(self, table: str, row: dict[str, Any]) -> list[Any]:
        """The derived columns of `row`, in `derived_columns(table)` order."""
        if table == "policies":
            data = (self.project.datasets / row["source_file"]).read_bytes()
            text = data.decode("utf-8")
            self.sources[row["id"]] = text
            self.paragraphs[row["id"]] = paragraph_index(text)
            return [text, hashlib.sha256(data).hexdigest()]
        if table == "measures":
            policy_id, text = row["policy_id"], row["text_zh"]
            source = self.sources.get(policy_id, "")
            at = paragraph_start(source, self.paragraphs[policy_id], text) if policy_id in self.paragraphs else None
            start, end = (at, at + len(text)) if at is not None and text else _offsets(source, text)
            self.measure_policy[row["id"]] = policy_id
            self.measure_start[row["id"]] = start or 0
            return [start, end]
        if table == "targets":
            unit = row["unit_zh"]
            start, end = self.quote(row["policy_id"], row["measure_id"], row["quote_zh"])
            base_unit = self.units[unit][1] if unit in self.units else None
            return [base_unit, self.base(row["value"], unit), self.base(row["value_max"], unit), start, end]
        if table == "funds":
            return [self.base(row["amount"], row["amount_unit_zh"])]
        if table in ("platform_mentions", "fund_mentions", "event_mentions"):
            measure_id = row["measure_id"]
            return list(self.quote(self.measure_policy.get(measure_id, ""), measure_id, row["quote_zh"]))
        return []
