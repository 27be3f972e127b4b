"""Spreadsheet-ready downloads (kechuang.serve.spreadsheets): every table and view as CSV for Excel (UTF-8 with
a byte-order mark) and as .xlsx, read back with the csv module, pandas and openpyxl and compared cell by cell
with the database; offered on the downloads page and Datasette's pages; attachments named per RFC 6266."""

from __future__ import annotations

import csv
import io
import math
import sqlite3
from urllib.parse import unquote

import openpyxl
import pandas as pd

from kechuang.text.spreadsheet import inert


def database(db, name: str) -> tuple[list[str], list[tuple]]:
    with sqlite3.connect(db) as con:
        cursor = con.execute(f"select * from [{name}]")
        return [d[0] for d in cursor.description], cursor.fetchall()


def shown(portal) -> list[str]:
    listing = portal.get("/kechuang.json").json()
    return [t["name"] for t in listing["tables"] if not t["hidden"]] + [v["name"] for v in listing["views"]]


def same(cell, value) -> bool:
    """A spreadsheet cell read back against the stored value (empty for NULL; numbers as numbers)."""
    if value is None:
        return cell is None or cell == "" or (isinstance(cell, float) and math.isnan(cell))
    if isinstance(value, (int, float)) and not isinstance(cell, str):
        return math.isclose(float(cell), float(value))
    return ("" if cell is None else str(cell)) == str(value)  # a workbook keeps no empty string


def test_excel_csv_and_xlsx_hold_every_cell_of_every_table_and_view(sample_portal):
    for name in shown(sample_portal):
        columns, rows = database(sample_portal.db, name)
        key = sorted  # Datasette's order is its default sort; compare as sets of rows, in stored order

        response = sample_portal.get(f"/kechuang/{name}.excel_csv")
        assert response.status_code == 200, name
        assert response.content.startswith(b"\xef\xbb\xbf"), "Excel reads UTF-8 only after a byte-order mark"
        assert response.headers["content-disposition"].startswith("attachment;")
        assert f"filename*=UTF-8''{name}.csv" in response.headers["content-disposition"]
        reader = list(csv.reader(io.StringIO(response.content.decode("utf-8-sig"), newline="")))
        assert reader[0] == columns, name
        stored = [["" if v is None else inert(v) if isinstance(v, str) else str(v) for v in row] for row in rows]
        assert key(reader[1:]) == key(stored), name

        frame = pd.read_csv(io.BytesIO(response.content), encoding="utf-8-sig", dtype=str, keep_default_na=False)
        assert list(frame.columns) == columns and len(frame) == len(rows), name

        workbook = openpyxl.load_workbook(io.BytesIO(sample_portal.get(f"/kechuang/{name}.xlsx").content))
        cells = [list(r) for r in workbook.active.iter_rows(values_only=True)]
        assert list(cells[0]) == columns, name
        by_key = {tuple(map(str, row[:1])): row for row in cells[1:]}
        assert len(cells) - 1 == len(rows), name
        for row in rows:
            got = by_key[(str(row[0]),)] if len({r[0] for r in rows}) == len(rows) else None
            if got is not None:
                assert all(same(c, v) for c, v in zip(got, row, strict=True)), (name, row[0])
        xlsx_frame = pd.read_excel(io.BytesIO(sample_portal.get(f"/kechuang/{name}.xlsx").content))
        assert list(xlsx_frame.columns) == columns and len(xlsx_frame) == len(rows), name


def test_a_formula_stays_text(sample_portal):
    """The sample's hostile rows carry formulas: the Excel CSV writes them inert, the workbook as text."""
    columns, rows = database(sample_portal.db, "targets")
    notes = [row[columns.index("note_en")] for row in rows]
    formulas = [note for note in notes if note and note[:1] in "=+-@"]
    assert formulas, "the sample's hostile targets start a note with a formula"
    text = sample_portal.get("/kechuang/targets.excel_csv").content.decode("utf-8-sig")
    cells = [cell for row in csv.reader(io.StringIO(text, newline="")) for cell in row]
    assert all("'" + formula in cells and formula not in cells for formula in formulas)
    for path in ("/kechuang/targets.csv", "/kechuang/targets.csv?_stream=on&_size=2&_dl=1"):  # Datasette's own
        datasette_cells = [
            cell for row in csv.reader(io.StringIO(sample_portal.get(path).text, newline="")) for cell in row
        ]
        assert all("'" + formula in datasette_cells and formula not in datasette_cells for formula in formulas), path
    sheet = openpyxl.load_workbook(io.BytesIO(sample_portal.get("/kechuang/targets.xlsx").content)).active
    values = [cell.value for row in sheet.iter_rows() for cell in row]
    assert all(formula in values for formula in formulas)  # the exact text, stored as text
    assert all(cell.data_type != "f" for row in sheet.iter_rows() for cell in row)


def test_filtered_download_and_the_pages_offer_it(sample_portal):
    policy = database(sample_portal.db, "targets")[1][0][1]
    response = sample_portal.get(f"/kechuang/targets.xlsx?policy_id={policy}")
    sheet = openpyxl.load_workbook(io.BytesIO(response.content)).active
    with sqlite3.connect(sample_portal.db) as con:
        count = con.execute("select count(*) from targets where policy_id = ?", (policy,)).fetchone()[0]
    assert sheet.max_row - 1 == count
    table_page = sample_portal.get("/kechuang/targets?lang=en").text
    assert "targets.xlsx" in table_page and "targets.excel_csv" in table_page
    downloads = sample_portal.get("/downloads?lang=en").text
    assert "/kechuang/targets.xlsx" in downloads and "/kechuang/targets.excel_csv" in downloads
    assert "_dl=1" in downloads


def test_attachment_names_follow_rfc_6266():
    from kechuang.serve.spreadsheets import attachment

    header = attachment("目标 2026.xlsx")
    assert header.startswith('attachment; filename="')
    fallback = header.split('filename="')[1].split('"')[0]
    assert fallback.isascii() and fallback.endswith(".xlsx")
    assert unquote(header.split("filename*=UTF-8''")[1]) == "目标 2026.xlsx"


def test_api_collections_download_the_same_filtered_page_for_excel(sample_portal):
    """/api/v1/targets with format=excel_csv and at .xlsx: the JSON's page (filters, sort, fields, limit, next)
    cell for cell; formulas inert in the CSV, plain text in the workbook."""
    columns, rows = database(sample_portal.db, "targets")
    policy = rows[0][columns.index("policy_id")]
    query = f"policy={policy}&sort=-id&limit=2&fields=id,note_en,deadline_year,value"
    page = sample_portal.get(f"/api/v1/targets?{query}").json()
    fields = ["id", "note_en", "deadline_year", "value"]
    expected = [[item[f] for f in fields] for item in page["items"]]
    assert expected, "the policy has targets"

    response = sample_portal.get(f"/api/v1/targets?{query}&format=excel_csv")
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/csv")
    assert response.content.startswith(b"\xef\xbb\xbf")
    assert "filename*=UTF-8''targets-excel.csv" in response.headers["content-disposition"]  # not the plain CSV's
    reader = list(csv.reader(io.StringIO(response.content.decode("utf-8-sig"), newline="")))
    assert reader[0] == fields
    assert reader[1:] == [
        ["" if v is None else inert(v) if isinstance(v, str) else str(v) for v in row] for row in expected
    ]
    assert ("next" in response.headers.get("link", "")) == bool(page["next"])

    for path in (f"/api/v1/targets.xlsx?{query}", f"/api/v1/targets?{query}&format=xlsx"):
        response = sample_portal.get(path)
        assert response.headers["content-type"] == "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
        assert response.headers["content-disposition"].startswith("attachment;")
        assert "filename*=UTF-8''targets.xlsx" in response.headers["content-disposition"]
        sheet = openpyxl.load_workbook(io.BytesIO(response.content)).active
        cells = [list(r) for r in sheet.iter_rows(values_only=True)]
        assert cells[0] == fields
        assert len(cells) - 1 == len(expected)
        for got, row in zip(cells[1:], expected, strict=True):
            assert all(same(c, v) for c, v in zip(got, row, strict=True)), row
        assert all(cell.data_type != "f" for row in sheet.iter_rows() for cell in row)

    # the hostile rows: every note that starts with a formula, inert in the CSV and exact text in the workbook
    notes = [r[columns.index("note_en")] for r in rows]
    formulas = {note for note in notes if note and note[:1] in "=+-@"}
    text = sample_portal.get("/api/v1/targets.excel_csv?fields=note_en&limit=500").content.decode("utf-8-sig")
    cells = {c for row in csv.reader(io.StringIO(text, newline="")) for c in row}
    assert formulas and all("'" + f in cells and f not in cells for f in formulas)
    workbook = sample_portal.get("/api/v1/targets.xlsx?fields=note_en&limit=500").content
    sheet = openpyxl.load_workbook(io.BytesIO(workbook))
    assert formulas <= {c for row in sheet.active.iter_rows(values_only=True) for c in row}
