"""The same page of records as CSV, safe to open in a spreadsheet.

A text cell that starts with `=`, `+`, `-`, `@`, a tab or a carriage return could be run as a
formula by Excel, LibreOffice or Google Sheets (CSV injection), so it is written with a leading
apostrophe, which spreadsheets show as plain text. Numbers and flags are written as values and
need no guard.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable
from typing import Any

from kechuang.serve.api.collections import Column, json_value

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def safe_cell(column: Column, value: Any) -> str:
    value = json_value(column, value)
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value) if isinstance(value, float) else str(value)
    text = str(value)
    return "'" + text if text.startswith(FORMULA_STARTS) else text


def write_csv(columns: list[Column], rows: Iterable[dict[str, Any]]) -> str:
    """A header of field names, then one line per record, CRLF line ends as RFC 4180 has them."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow([c.name for c in columns])
    for row in rows:
        writer.writerow([safe_cell(c, row.get(c.name)) for c in columns])
    return out.getvalue()
