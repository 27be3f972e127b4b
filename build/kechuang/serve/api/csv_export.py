"""The same page of records as CSV, CSV for Excel or a workbook, safe to open in a spreadsheet
(`kechuang.text.spreadsheet`: formula-like text is inert in CSV and stored as text in the workbook)."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable
from typing import Any

from kechuang.serve.api.collections import Column, json_value
from kechuang.text.spreadsheet import FORMULA_STARTS, inert, workbook

__all__ = ["FORMULA_STARTS", "safe_cell", "write_csv", "write_excel_csv", "write_xlsx"]


def safe_cell(column: Column, value: Any) -> str:
    value = json_value(column, value)
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value) if isinstance(value, float) else str(value)
    return inert(str(value))


def write_csv(columns: list[Column], rows: Iterable[dict[str, Any]]) -> str:
    """A header of field names, then one line per record, CRLF line ends as RFC 4180 has them."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow([c.name for c in columns])
    for row in rows:
        writer.writerow([safe_cell(c, row.get(c.name)) for c in columns])
    return out.getvalue()


def write_excel_csv(columns: list[Column], rows: Iterable[dict[str, Any]]) -> str:
    """The same CSV with a UTF-8 byte-order mark, without which a Chinese Windows Excel reads it as GBK."""
    return "\ufeff" + write_csv(columns, rows)


def write_xlsx(columns: list[Column], rows: Iterable[dict[str, Any]], title: str) -> bytes:
    """The same page as a one-sheet workbook: values as the JSON has them, text stored as text."""
    values = ([json_value(c, row.get(c.name)) for c in columns] for row in rows)
    return workbook([(title, [c.name for c in columns], values)])
