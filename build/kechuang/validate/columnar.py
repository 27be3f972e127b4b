"""Frictionless's checks of our schemas, column by column, for datasets too large to validate row by row.

Frictionless builds a Row object per line and a cell reader call per cell: about 80 µs a row for
our tables, most of the build time at 100,000 rows. This module reports the same errors, as the
same Frictionless error descriptors (so `validate._describe` words them identically), faster:

- parsing is Frictionless's: its dialect detection and header; its rows, or, when it detected the
  `csv` module's default dialect, the same rows from the parse the rules and compiler share; a table
  whose header has any problem, or that Frictionless cannot open, raises `Unsupported` and the
  whole validation falls back to Frictionless;
- string, integer and number columns are checked a column at a time with Frictionless's own
  semantics (missing values, `int()`/`Decimal()` after strip, required, pattern, enum, bounds with
  NaN failing); any other column, or one with options we do not mirror, goes through Frictionless's
  own cell reader;
- ragged rows, blank rows, unique fields, primary and foreign keys follow `TableResource.row_stream`
  step by step (references to the previous duplicate, blank rows replacing their cell errors,
  lookups built from the referenced tables' cast values).

`tests/test_columnar.py` runs both engines on every kind of broken input and compares the problems.
"""

from __future__ import annotations

import operator
import re
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

from frictionless import FrictionlessException, Resource, Schema

from kechuang.validate.tables import parse_csv

ErrorDescriptor = dict[str, Any]
LIMIT_ERRORS = 100_000  # per table, as check_tables asks of Frictionless
_STRING_FAST_CONSTRAINTS = {"required", "pattern", "enum", "unique"}
_NUMBER_FAST_CONSTRAINTS = {"required", "minimum", "maximum", "unique"}


class Unsupported(Exception):
    """A table this path does not handle exactly (header problems, unreadable source): use Frictionless."""


def _str(value: Any) -> str:
    return str(value) if value is not None else ""


@dataclass
class Table:
    """One table's rows as Frictionless parses them, their cast values and the errors found so far."""

    name: str
    schema: Schema
    row_numbers: list[int]
    rows: list[list[Any]]
    values: dict[str, list[Any]] = field(default_factory=dict)
    even: bool = True  # every row has exactly the header's width
    cell_errors: dict[int, list[ErrorDescriptor]] = field(default_factory=dict)

    def add(self, index: int, error: ErrorDescriptor) -> None:
        self.cell_errors.setdefault(index, []).append(error)

    def cell_error(self, kind: str, index: int, name: str, number: int, cell: Any, note: str) -> ErrorDescriptor:
        return {
            "type": kind,
            "note": note,
            "cells": [_str(c) for c in self.rows[index]],
            "rowNumber": self.row_numbers[index],
            "cell": str(cell),
            "fieldName": name,
            "fieldNumber": number,
        }

    def row_error(self, kind: str, index: int, note: str, **extra: Any) -> ErrorDescriptor:
        return {
            "type": kind,
            "note": note,
            "cells": [_str(c) for c in self.rows[index]],
            "rowNumber": self.row_numbers[index],
            **extra,
        }


def read_table(path: Path, name: str, descriptor: dict[str, Any], basepath: Path) -> Table:
    """Parse a table with Frictionless (dialect, header, cells) without its foreign keys or row objects."""
    schema_descriptor = {k: v for k, v in descriptor.items() if k != "foreignKeys"}
    try:
        schema = Schema.from_descriptor(schema_descriptor)
        resource = Resource(path=path.name, name=name, schema=schema, encoding="utf-8", basepath=str(basepath))
        with resource:
            if not (resource.labels or resource.fragment) or resource.header.errors:
                raise Unsupported(f"{name}: empty or with header problems")
            expected = [f.name for f in resource.header.get_expected_fields()]
            if expected != [f.name for f in schema.fields]:
                raise Unsupported(f"{name}: columns do not pair with the schema's fields")
            numbers: list[int] = []
            rows: list[list[Any]] = []
            control = resource.dialect.get_control("csv")
            sniffed = (control.delimiter, control.quote_char, control.escape_char, control.double_quote)
            if sniffed == (",", '"', None, True) and not control.skip_initial_space:
                # Frictionless detected the csv module's default dialect: its rows are exactly those the
                # default reader gives, so share the parse with the project's rules and the compiler.
                for number, cells in parse_csv(path)[1]:
                    numbers.append(number)
                    rows.append(cells)
            else:
                for number, cells in resource.dialect.read_enumerated_content_stream(resource.cell_stream):
                    numbers.append(number)
                    rows.append(cells)
    except FrictionlessException as error:
        raise Unsupported(f"{name}: {error}") from None
    return Table(name, schema, numbers, rows)


def _columns(rows: list[list[Any]], width: int, even: bool) -> list[list[Any]]:
    """The table column by column: cells beyond a short row are None (missing), extra cells dropped."""
    if even:
        return [list(column) for column in zip(*rows, strict=True)] if rows else [[] for _ in range(width)]
    return [[cells[i] if i < len(cells) else None for cells in rows] for i in range(width)]


def _fast_string(f: Any) -> bool:
    return (
        f.type == "string"
        and f.format == "default"
        and not f.has_defined("missing_values")
        and set(f.constraints) <= _STRING_FAST_CONSTRAINTS
    )


def _fast_number(f: Any) -> bool:
    """Integers and numbers read with Frictionless's defaults (bare numbers, Decimal, no group character)."""
    options = ("bare_number", "float_number", "decimal_char", "group_char", "missing_values")
    return (
        f.type in ("integer", "number")
        and f.format == "default"
        and not any(f.has_defined(option) for option in options)
        and set(f.constraints) <= _NUMBER_FAST_CONSTRAINTS
    )


def _cast_strings(table: Table, f: Any, number: int, raw: list[Any]) -> list[Any]:
    values = [None if cell == "" else cell for cell in raw]
    checks = f.constraints
    if checks.get("required"):
        for i in [i for i, v in enumerate(values) if v is None]:
            note = f'constraint "required" is "{checks["required"]}"'
            table.add(i, table.cell_error("constraint-error", i, f.name, number, raw[i], note))
    if "pattern" in checks:
        matcher = re.compile(f"^{checks['pattern']}$").match
        for i in [i for i, v in enumerate(values) if v is not None and not matcher(v)]:
            note = f'constraint "pattern" is "{checks["pattern"]}"'
            table.add(i, table.cell_error("constraint-error", i, f.name, number, raw[i], note))
    if "enum" in checks:
        allowed = set(checks["enum"])
        for i in [i for i, v in enumerate(values) if v is not None and v not in allowed]:
            note = f'constraint "enum" is "{checks["enum"]}"'
            table.add(i, table.cell_error("constraint-error", i, f.name, number, raw[i], note))
    return values


def _cast_numbers(table: Table, f: Any, number: int, raw: list[Any]) -> list[Any]:
    """Frictionless's integer and number readers: strip, then int() or Decimal(); bounds as `_check_bound`."""
    parse = int if f.type == "integer" else Decimal
    values: list[Any] = []
    wrong: set[int] = set()
    if "" not in raw and None not in raw:
        try:  # the whole column at C speed; any bad cell sends it through the loop below
            values = list(map(parse, map(str.strip, raw)))
        except Exception:
            values = []
    for i, cell in enumerate(raw if not values else ()):
        if cell is None or cell == "":
            values.append(None)
            continue
        try:
            values.append(parse(cell.strip()))
        except Exception:
            values.append(None)
            wrong.add(i)
    for i in sorted(wrong):
        table.add(i, table.cell_error("type-error", i, f.name, number, raw[i], f'type is "{f.type}/{f.format}"'))
    checks = f.constraints
    if checks.get("required"):
        for i in [i for i, v in enumerate(values) if v is None and i not in wrong]:
            note = f'constraint "required" is "{checks["required"]}"'
            table.add(i, table.cell_error("constraint-error", i, f.name, number, raw[i], note))
    read = f.create_value_reader()
    for name, fails in (("minimum", operator.lt), ("maximum", operator.gt)):
        if name in checks:
            bound = read(checks[name])
            bad = [i for i, v in enumerate(values) if v is not None and (v != v or fails(v, bound))]
            for i in bad:
                note = f'constraint "{name}" is "{checks[name]}"'
                table.add(i, table.cell_error("constraint-error", i, f.name, number, raw[i], note))
    return values


def _cast_with_frictionless(table: Table, f: Any, number: int, raw: list[Any]) -> list[Any]:
    reader = f.create_cell_reader()
    values = []
    for i, cell in enumerate(raw):
        value, notes = reader(cell)
        values.append(value)
        if not notes:
            continue
        type_note = notes.pop("type", None)
        if type_note:
            table.add(i, table.cell_error("type-error", i, f.name, number, cell, type_note))
        for note in notes.values():
            table.add(i, table.cell_error("constraint-error", i, f.name, number, cell, note))
    return values


def cast_columns(table: Table, missing_values: list[str]) -> None:
    """Cast every column and record its type and constraint errors."""
    width = len(table.schema.fields)
    table.even = all(len(cells) == width for cells in table.rows)
    columns = _columns(table.rows, width, table.even)
    for number, f in enumerate(table.schema.fields, start=1):
        raw = columns[number - 1]
        if missing_values == [""] and _fast_string(f):
            values = _cast_strings(table, f, number, raw)
        elif missing_values == [""] and _fast_number(f):
            values = _cast_numbers(table, f, number, raw)
        else:
            values = _cast_with_frictionless(table, f, number, raw)
        table.values[f.name] = values


def shape_errors(table: Table, missing_values: list[str]) -> None:
    """Extra and missing cells, then blank rows, which replace every other error of their row."""
    missing = set(missing_values)
    fields = table.schema.fields
    width = len(fields)
    if table.even and missing == {""}:
        # Every row has the header's width; only a row of empty cells can be blank.
        candidates = [i for i, cells in enumerate(table.rows) if not any(cells)]
    else:
        candidates = range(len(table.rows))
    if not table.even:
        for i, cells in enumerate(table.rows):
            if len(cells) > width:
                for offset, cell in enumerate(cells[width:], start=width + 1):
                    table.add(i, table.cell_error("extra-cell", i, "", offset, cell, ""))
            elif len(cells) < width:
                for position in range(len(cells), width):
                    table.add(i, table.cell_error("missing-cell", i, fields[position].name, position + 1, "", ""))
    for i in candidates:
        # Frictionless calls a row blank when every field is missing or its cell in missing values; a
        # cell in missing values is never a type error, so that is: no field has a non-missing cell.
        cells = table.rows[i]
        if not any(cell not in missing for cell in cells[:width] if cell is not None):
            table.cell_errors[i] = [table.row_error("blank-row", i, "")]


def key_errors(table: Table, lookups: dict[str, dict[tuple[str, ...], set[tuple]]], foreign_keys: list[dict]) -> None:
    """Unique fields, the primary key and foreign keys, in row order as Frictionless checks them."""
    fields = table.schema.fields
    unique = [f.name for f in fields if f.constraints.get("unique")]
    for name in unique:
        present = [v for v in table.values[name] if v is not None]
        if len(set(present)) == len(present):
            continue  # no duplicate: nothing to report
        memory: dict[Any, int] = {}
        number = next(n for n, f in enumerate(fields, start=1) if f.name == name)
        for i, cell in enumerate(table.values[name]):
            if cell is None:
                continue
            match = memory.get(cell)
            memory[cell] = table.row_numbers[i]
            if match:
                note = f"the same as in the row at position {match}"
                table.add(i, table.cell_error("unique-error", i, name, number, cell, note))
    primary = list(table.schema.primary_key)
    columns = [table.values[name] for name in primary]
    keys = list(zip(*columns, strict=True)) if primary else []
    if primary and (any(None in column for column in columns) or len(set(keys)) != len(keys)):
        memory_primary: dict[tuple, int] = {}
        for i, cells in enumerate(zip(*columns, strict=True)):
            if set(cells) == {None}:
                table.add(i, table.row_error("primary-key", i, 'cells composing the primary keys are all "None"'))
                continue
            match = memory_primary.get(cells)
            memory_primary[cells] = table.row_numbers[i]
            if match:
                table.add(i, table.row_error("primary-key", i, f"the same as in the row at position {match}"))
    for fk in foreign_keys:
        source = fk["reference"]["resource"]
        source_key = tuple(fk["reference"]["fields"])
        target_key = tuple(fk["fields"])
        found = lookups[source or table.name][source_key]
        columns = [table.values[name] for name in target_key]
        if {cells for cells in set(zip(*columns, strict=True)) if set(cells) != {None}} <= found:
            continue  # every reference resolves
        for i, cells in enumerate(zip(*columns, strict=True)):
            if set(cells) == {None} or cells in found:
                continue
            note = 'for "{}": values "{}" not found in the lookup table "{}" as "{}"'.format(
                ", ".join(target_key), ", ".join(str(d) for d in cells), source, ", ".join(source_key)
            )
            table.add(
                i,
                table.row_error(
                    "foreign-key",
                    i,
                    note,
                    fieldNames=list(target_key),
                    fieldValues=list(cells),
                    referenceName=source,
                    referenceFieldNames=list(source_key),
                ),
            )


def check_package(basepath: Path, tables: dict[str, tuple[Path, dict[str, Any]]]) -> dict[str, list[ErrorDescriptor]]:
    """Every table's errors as Frictionless error descriptors, or `Unsupported` for Frictionless to take over.

    `tables` maps each table name to its file and its Frictionless schema descriptor (foreign keys
    already limited to the tables given, as for a Frictionless package of them), in dependency
    order. Tables are checked one at a time and let go, keeping only the key sets others refer to.
    """
    wanted: dict[str, set[tuple[str, ...]]] = {}
    for name, (_path, descriptor) in tables.items():
        for fk in descriptor.get("foreignKeys", []):
            wanted.setdefault(fk["reference"]["resource"] or name, set()).add(tuple(fk["reference"]["fields"]))
    lookups: dict[str, dict[tuple[str, ...], set[tuple]]] = {}
    pending: list[tuple[Table, list[dict]]] = []
    found: dict[str, list[ErrorDescriptor]] = {}
    for name, (path, descriptor) in tables.items():
        table = read_table(path, name, descriptor, basepath)
        missing = list(table.schema.missing_values)
        cast_columns(table, missing)
        shape_errors(table, missing)
        for key in wanted.get(name, ()):
            columns = [table.values[k] for k in key]
            lookups.setdefault(name, {})[key] = {c for c in set(zip(*columns, strict=True)) if set(c) != {None}}
        foreign_keys = descriptor.get("foreignKeys", [])
        if all((fk["reference"]["resource"] or name) in lookups for fk in foreign_keys):
            found[name] = _finish(table, lookups, foreign_keys)
        else:
            pending.append((table, foreign_keys))  # refers to a table further down (a cycle)
    for table, foreign_keys in pending:
        found[table.name] = _finish(table, lookups, foreign_keys)
    return {name: found[name] for name in tables}


def _finish(
    table: Table, lookups: dict[str, dict[tuple[str, ...], set[tuple]]], fks: list[dict]
) -> list[ErrorDescriptor]:
    key_errors(table, lookups, fks)
    errors = [error for i in sorted(table.cell_errors) for error in table.cell_errors[i]]
    return errors[:LIMIT_ERRORS]
