"""Spreadsheet downloads of anything Datasette shows as a table: `.xlsx` and `.excel_csv` (CSV for Excel).

Datasette's own CSV is UTF-8 without a byte-order mark, which a Chinese Windows Excel reads as GBK
(mojibake). These two output renderers (Datasette lists them beside json and csv on every table, view
and query page) answer the whole result, every page followed through Datasette's own JSON, as:

- `excel_csv`: UTF-8 with a byte-order mark, CRLF line ends, text cells a spreadsheet would run as a
  formula written inert (`kechuang.text.spreadsheet`);
- `xlsx`: a workbook (openpyxl) whose text cells are stored as text, never as formulas, numbers as numbers.

Both are attachments named after the table, view or query (RFC 6266, with `filename*` for any name).
"""

from __future__ import annotations

import csv
import io
import re
from typing import Any
from urllib.parse import parse_qsl, quote, urlencode, urlsplit

from datasette.utils.asgi import Response

from kechuang.text.spreadsheet import inert, workbook

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
WHOLE = {"_shape": "arrays", "_size": "max", "_nofacet": "1", "_nocount": "1", "_labels": "off"}
MAX_PAGES = 200  # a runaway loop stops here: 200 pages of max_returned_rows rows


def attachment(filename: str) -> str:
    """Content-Disposition for a download (RFC 6266): an ASCII fallback and the exact name in UTF-8."""
    fallback = re.sub(r"[^A-Za-z0-9._-]+", "_", filename).strip("_") or "download"
    return f"attachment; filename=\"{fallback}\"; filename*=UTF-8''{quote(filename, safe='')}"


async def whole_result(datasette, request) -> tuple[list[str], list[list[Any]]]:
    """Every row of the request's table, view or query, following Datasette's next links from its JSON."""
    path = re.sub(r"\.\w+$", ".json", request.path)
    asked = parse_qsl(request.query_string, keep_blank_values=True)
    args = [(k, v) for k, v in asked if k not in WHOLE and k not in ("_next", "_stream", "_dl")]
    url: str | None = f"{path}?{urlencode([*args, *WHOLE.items()])}"
    columns: list[str] = []
    rows: list[list[Any]] = []
    for _ in range(MAX_PAGES):
        if url is None:
            break
        response = await datasette.client.get(url)
        response.raise_for_status()
        page = response.json()
        columns = page["columns"]
        rows += page["rows"]
        following = page.get("next_url")
        url = None if not following else urlsplit(following)._replace(scheme="", netloc="").geturl()
    return columns, rows


def download_name(table: str | None, query_name: str | None, database: str) -> str:
    return table or query_name or database


def excel_csv(columns: list[str], rows: list[list[Any]]) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(columns)
    for row in rows:
        writer.writerow(["" if v is None else inert(v) if isinstance(v, str) else v for v in row])
    return ("\ufeff" + out.getvalue()).encode("utf-8")


def xlsx(columns: list[str], rows: list[list[Any]], title: str) -> bytes:
    return workbook([(title, columns, rows)])


async def render_excel_csv(datasette, request, database, table, query_name) -> Response:
    columns, rows = await whole_result(datasette, request)
    name = download_name(table, query_name, database) + ".csv"
    headers = {"Content-Disposition": attachment(name)}
    return Response(excel_csv(columns, rows), headers=headers, content_type="text/csv; charset=utf-8")


async def render_xlsx(datasette, request, database, table, query_name) -> Response:
    columns, rows = await whole_result(datasette, request)
    name = download_name(table, query_name, database)
    headers = {"Content-Disposition": attachment(name + ".xlsx")}
    return Response(xlsx(columns, rows, name), headers=headers, content_type=XLSX)


def output_renderers() -> list[dict[str, Any]]:
    """What Datasette's register_output_renderer hook wants: the two formats, on every table, view and query."""
    return [
        {"extension": "excel_csv", "render": render_excel_csv},
        {"extension": "xlsx", "render": render_xlsx},
    ]
