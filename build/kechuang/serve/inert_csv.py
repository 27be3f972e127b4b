"""Datasette's CSV with formula cells made inert, as the API and the release write them.

Datasette writes its CSV (tables, views, queries, `_stream=on` included) without a hook for the cells, so
this ASGI `send` filter rewrites the body as it streams: it cuts the bytes at record boundaries (a CRLF
outside quotes), and a cell that starts with `=`, `+`, `-`, `@`, a tab or a carriage return and is not a
number gets the leading apostrophe of `kechuang.text.spreadsheet.inert`. Numbers such as -3.5 stay numbers.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from typing import Any

from kechuang.text.spreadsheet import FORMULA_STARTS, inert


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def inert_records(text: str) -> str:
    """Whole CSV records with every formula-leading text cell made inert (the records unchanged otherwise)."""
    if not any(start in text for start in FORMULA_STARTS):
        return text
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    for row in csv.reader(io.StringIO(text, newline="")):
        writer.writerow([cell if _is_number(cell) else inert(cell) for cell in row])
    return out.getvalue()


def complete_length(text: str) -> int:
    """How much of `text` is whole records: up to the last CRLF with an even number of quotes before it."""
    quotes = 0
    end = 0
    for i, char in enumerate(text):
        if char == '"':
            quotes += 1
        elif char == "\n" and quotes % 2 == 0 and i and text[i - 1] == "\r":
            end = i + 1
    return end


def inert_csv(send: Callable) -> Callable:
    """`send` with a CSV body's formula cells made inert, record by record as the body streams."""
    pending = ""
    csv_body = False

    async def send_inert(message: dict[str, Any]) -> None:
        nonlocal pending, csv_body
        if message["type"] == "http.response.start":
            headers = list(message.get("headers") or ())
            kind = next((v for k, v in headers if k.lower() == b"content-type"), b"")
            csv_body = message.get("status") == 200 and (kind.startswith(b"text/csv") or kind.startswith(b"text/plain"))
            if csv_body:
                message = {**message, "headers": [(k, v) for k, v in headers if k.lower() != b"content-length"]}
            await send(message)
            return
        if message["type"] != "http.response.body" or not csv_body:
            await send(message)
            return
        pending += message.get("body", b"").decode("utf-8", errors="surrogateescape")
        more = message.get("more_body", False)
        cut = complete_length(pending) if more else len(pending)
        done, pending = pending[:cut], pending[cut:]
        body = inert_records(done).encode("utf-8", errors="surrogateescape")
        await send({**message, "body": body})

    return send_inert
