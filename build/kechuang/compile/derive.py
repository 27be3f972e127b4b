"""Fill the derived columns the schemas declare (`x_derived`), each by the computation it names.

A derived column says what computes it (`x_compute`) and from which curated fields of its row
(`x_from`); this module holds the computations. Tables load in dependency order, so a policy's
source text is known before its measures, a measure's offset before the quotes in it, and the
units before the figures stated in them. A measure's offsets are those of the paragraph its text
starts (validation guarantees it starts one); a quote is looked for from its measure on.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from typing import Any

from sqlite_utils import Database

from kechuang.model.schema import TableSchema
from kechuang.project import Project
from kechuang.text.paragraphs import paragraph_index, paragraph_start

Offsets = tuple[int | None, int | None]


def _offsets(source: str, text: str | None, near: int = 0) -> Offsets:
    if not text:
        return None, None
    start = source.find(text, near)
    if start == -1:
        start = source.find(text)
    return (start, start + len(text)) if start != -1 else (None, None)


def first_present(*values: Any) -> Any:
    """The first of its inputs that is set: e.g. a target's commitment is the target it restates, else itself."""
    return next((v for v in values if v not in (None, "")), None)


class Deriver:
    """Computes each row's derived columns as it is loaded, so every row is written once."""

    def __init__(self, project: Project, db: Database):
        self.project = project
        self.db = db
        self.sources: dict[str, str] = {}
        self.paragraphs: dict[str, dict[str, list[int]]] = {}
        self.measure_policy: dict[str, str] = {}
        self.measure_start: dict[str, int] = {}
        self._units: dict[str, tuple[float, str]] | None = None
        self._last: tuple[tuple, Offsets] | None = None  # start and end of one text are asked for in a row
        self.computations: dict[str, Callable[..., Any]] = {
            "source_text": self.source_text,
            "source_sha256": self.source_sha256,
            "paragraph_start": lambda *args: self.paragraph(*args)[0],
            "paragraph_end": lambda *args: self.paragraph(*args)[1],
            "quote_start": lambda *args: self.quote(*args)[0],
            "quote_end": lambda *args: self.quote(*args)[1],
            "base_unit": self.base_unit,
            "in_base_unit": self.in_base_unit,
            "first_present": first_present,
        }

    def derive(self, schema: TableSchema, columns: dict[str, list[Any]], count: int) -> list[list[Any]]:
        """The derived columns of a whole table, given its typed curated columns, in `schema.derived` order."""
        if not schema.derived:
            return []
        steps = []
        for column in schema.derived:
            if column.compute not in self.computations:
                raise ValueError(f"{schema.name}.{column.name}: unknown x_compute {column.compute!r}")
            steps.append((self.computations[column.compute], [columns[name] for name in column.inputs]))
        out: list[list[Any]] = [[] for _ in steps]
        for i in range(count):
            for values, (compute, inputs) in zip(out, steps, strict=True):
                values.append(compute(*(inputs_column[i] for inputs_column in inputs)))
        return out

    # -- computations -----------------------------------------------------------------------------

    def source_text(self, policy_id: str, source_file: str) -> str:
        text = (self.project.datasets / source_file).read_bytes().decode("utf-8")
        self.sources[policy_id] = text
        self.paragraphs[policy_id] = paragraph_index(text)
        return text

    def source_sha256(self, source_file: str) -> str:
        return hashlib.sha256((self.project.datasets / source_file).read_bytes()).hexdigest()

    def paragraph(self, measure_id: str, policy_id: str, text: str | None) -> Offsets:
        key = ("paragraph", measure_id, policy_id, text)
        if self._last and self._last[0] == key:
            return self._last[1]
        source = self.sources.get(policy_id, "")
        at = paragraph_start(source, self.paragraphs[policy_id], text) if policy_id in self.paragraphs else None
        offsets = (at, at + len(text)) if at is not None and text else _offsets(source, text)
        self.measure_policy[measure_id] = policy_id
        self.measure_start[measure_id] = offsets[0] or 0
        self._last = (key, offsets)
        return offsets

    def quote(self, quote: str | None, measure_id: str | None, policy_id: str | None = None) -> Offsets:
        """Where a quote is in its policy's source (the policy is its measure's when it has none of its own)."""
        key = ("quote", quote, measure_id, policy_id)
        if self._last and self._last[0] == key:
            return self._last[1]
        policy = policy_id or self.measure_policy.get(measure_id or "", "")
        offsets = _offsets(self.sources.get(policy, ""), quote, self.measure_start.get(measure_id or "", 0))
        self._last = (key, offsets)
        return offsets

    @property
    def units(self) -> dict[str, tuple[float, str]]:
        if self._units is None:
            rows = self.db.execute("select unit_zh, factor, base_unit from units").fetchall()
            self._units = {unit: (float(factor), base_unit) for unit, factor, base_unit in rows}
        return self._units

    def base_unit(self, unit: str | None) -> str | None:
        return self.units[unit][1] if unit in self.units else None

    def in_base_unit(self, value: Any, unit: str | None) -> float | None:
        if value is None or unit not in self.units:
            return None
        return float(value) * self.units[unit][0]
