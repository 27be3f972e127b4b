"""Text cells a spreadsheet will not run: the one rule every CSV and workbook download shares.

A text cell that starts with `=`, `+`, `-`, `@`, a tab or a carriage return could be run as a formula
by Excel, LibreOffice or Google Sheets (CSV injection), so it is written with a leading apostrophe,
which spreadsheets show as plain text. Numbers and flags are values and need no guard.
"""

from __future__ import annotations

import io
import re
from collections.abc import Iterable, Sequence
from typing import Any

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def inert(text: str) -> str:
    """`text` as a spreadsheet shows it without running it: an apostrophe before a formula's first character."""
    return "'" + text if text.startswith(FORMULA_STARTS) else text


def workbook(sheets: list[tuple[str, list[str], Iterable[Sequence[Any]]]]) -> bytes:
    """An .xlsx file (openpyxl), a sheet per (title, header, rows): text stored as text, never as a formula
    (a workbook cell keeps its exact text, no apostrophe), numbers as numbers, NULL as an empty cell."""
    from openpyxl import Workbook
    from openpyxl.cell import WriteOnlyCell

    book = Workbook(write_only=True)
    for title, columns, rows in sheets:
        sheet = book.create_sheet(title=re.sub(r"[\[\]:*?/\\]", "_", title)[:31] or "data")
        sheet.append(columns)
        for row in rows:
            cells = []
            for value in row:
                cell = WriteOnlyCell(sheet, value=value)
                if isinstance(value, str):
                    cell.data_type = "s"
                cells.append(cell)
            sheet.append(cells)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()
