"""Read the curated CSV tables into typed Python rows, as their schemas declare them."""

from __future__ import annotations

import csv
import datetime as dt
import gc
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from kechuang.model.schema import TableSchema

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


ParsedTable = tuple[list[str], list[tuple[int, list[str]]]]  # header, (row number, cells) of every row
_shared: dict[tuple[str, int, int], ParsedTable] | None = None


@contextmanager
def bulk_reading() -> Iterator[None]:
    """For a whole validation or build: each CSV is parsed once and shared by the stages, and the cyclic
    garbage collector pauses (rows hold no reference cycles, and its sweeps over hundreds of thousands
    of rows cost more than the checks). Nested uses share the outermost cache."""
    global _shared
    outermost = _shared is None
    collecting = gc.isenabled()
    gc.disable()
    if outermost:
        _shared = {}
    try:
        yield
    finally:
        if outermost:
            _shared = None
        if collecting:
            gc.enable()


def parse_csv(path: Path) -> ParsedTable:
    """The header and every following row as the `csv` module's default dialect reads them, blank lines
    included, numbered from 2. Within `bulk_reading()` each file is parsed once: do not modify the rows."""
    if _shared is None:
        return _parse(path)
    stat = path.stat()
    key = (str(path.resolve()), stat.st_size, stat.st_mtime_ns)
    if key not in _shared:
        _shared[key] = _parse(path)
    return _shared[key]


def _parse(path: Path) -> ParsedTable:
    with path.open(newline="", encoding="utf-8") as f:
        reader = csv.reader(f)
        header = next(reader, [])
        return header, list(enumerate(reader, start=2))


def read_raw_rows(path: Path) -> Iterator[tuple[int, dict[str, str]]]:
    """(row number, raw row) pairs, numbered as Frictionless numbers them: the header is row 1 and
    blank lines count (they are skipped, as they hold no record). Short rows read as empty cells."""
    header, rows = parse_csv(path)
    width = len(header)
    for number, cells in rows:
        if not cells:
            continue
        if len(cells) < width:
            cells = cells + [""] * (width - len(cells))
        yield number, dict(zip(header, cells, strict=False))


def read_raw_columns(path: Path) -> dict[str, list[str]]:
    """The raw rows of `read_raw_rows` column by column (same rows, same padding, same names)."""
    header, rows = parse_csv(path)
    width = len(header)
    kept = [cells if len(cells) >= width else cells + [""] * (width - len(cells)) for _n, cells in rows if cells]
    transposed = list(zip(*kept, strict=False)) if kept else [() for _ in header]
    return {name: list(transposed[i]) for i, name in enumerate(header)}


def read_typed_columns(path: Path, schema: TableSchema) -> dict[str, list[Any]]:
    """Every schema field's column, typed (empty cells None). Assumes the table already passed validation."""
    raw = read_raw_columns(path)
    count = len(next(iter(raw.values()), []))
    typed: dict[str, list[Any]] = {}
    for f in schema.fields:
        column = raw.get(f.name) or [""] * count
        if f.type == "string":
            typed[f.name] = [value or None for value in column]
        else:
            typed[f.name] = [cast_value(value, f.type) for value in column]
    return typed
