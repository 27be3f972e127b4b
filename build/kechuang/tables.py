"""Read the curated CSV tables into typed Python rows, as their schemas declare them."""

from __future__ import annotations

import csv
import datetime as dt
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from .schemas import TableSchema

Row = dict[str, Any]

_TRUE = {"true", "1", "yes"}
_FALSE = {"false", "0", "no"}


def cast_value(value: str, type_: str) -> Any:
    """One CSV cell as its schema type; empty cells become None. Raises ValueError on a bad cell."""
    if value == "":
        return None
    if type_ == "integer":
        return int(value)
    if type_ == "number":
        number = float(value)
        return int(number) if number.is_integer() and "." not in value and "e" not in value.lower() else number
    if type_ == "boolean":
        lowered = value.lower()
        if lowered in _TRUE:
            return True
        if lowered in _FALSE:
            return False
        raise ValueError(value)
    if type_ == "date":
        return dt.date.fromisoformat(value).isoformat()
    return value


def read_raw_rows(path: Path) -> Iterator[tuple[int, dict[str, str]]]:
    """(line number, raw row) pairs; line numbers count the header as line 1."""
    with path.open(newline="", encoding="utf-8") as f:
        for index, row in enumerate(csv.DictReader(f), start=2):
            yield index, {k: (v or "") for k, v in row.items() if k is not None}


def read_rows(path: Path, schema: TableSchema) -> Iterator[tuple[int, Row]]:
    """(line number, typed row) pairs. Assumes the table already passed validation."""
    types = {f.name: f.type for f in schema.fields}
    for line, raw in read_raw_rows(path):
        yield line, {name: cast_value(raw.get(name, ""), types[name]) for name in schema.field_names}
