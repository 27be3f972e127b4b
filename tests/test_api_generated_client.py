"""A client generated from the served OpenAPI document with openapi-python-client just works: list, filter
with several values, page with the cursor to the end, fetch an item, search and download CSV, every answer
compared with the database."""

from __future__ import annotations

import csv
import importlib
import io
import os
import sqlite3
import subprocess
import sys
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest

BIN = Path(sys.executable).parent
PACKAGE = "kechuang_generated_client"


@pytest.fixture(scope="module")
def generated(sample_portal, tmp_path_factory):
    """The client package generated into a temporary folder, importable, talking to the sample portal."""
    folder = tmp_path_factory.mktemp("generated")
    spec = folder / "openapi.json"
    spec.write_bytes(sample_portal.get("/api/v1/openapi.json").content)
    command = ["generate", "--path", str(spec), "--meta", "none", "--output-path", str(folder / PACKAGE)]
    out = subprocess.run(
        [str(BIN / "openapi-python-client"), *command],
        capture_output=True,
        text=True,
        env={**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}"},  # its ruff post-hook
        timeout=120,
    )
    assert out.returncode == 0, out.stdout + out.stderr
    assert "Warning" not in out.stdout + out.stderr, out.stdout + out.stderr
    sys.path.insert(0, str(folder))
    try:
        package = importlib.import_module(PACKAGE)
        client = package.Client(base_url=sample_portal.base_url)
        client.set_httpx_client(sample_portal.client)
        yield client
    finally:
        sys.path.remove(str(folder))


def api(module: str):
    return importlib.import_module(f"{PACKAGE}.api.{module}")


def database_rows(db: Path, sql: str, params: tuple = ()) -> list[sqlite3.Row]:
    with sqlite3.connect(db) as con:
        con.row_factory = sqlite3.Row
        return con.execute(sql, params).fetchall()


def test_list_filter_with_several_values_and_page_to_the_end(generated, sample_portal):
    list_agencies = api("agencies.list_agencies")
    places = [r[0] for r in database_rows(sample_portal.db, "select distinct jurisdiction_id from agencies order by 1")]
    assert len(places) >= 2, "the sample has agencies of two jurisdictions"
    places = places[:2]
    sql = "select id from agencies where jurisdiction_id in (?, ?)"
    wanted = {r["id"] for r in database_rows(sample_portal.db, sql, tuple(places))}
    seen: list[str] = []
    cursor = None
    pages = 0
    while True:
        page = list_agencies.sync(
            client=generated, jurisdiction=places, limit=2, **({"cursor": cursor} if cursor else {})
        )
        assert page is not None and page.count == len(wanted)
        seen += [item.id for item in page.items]
        pages += 1
        if not page.next_:
            break
        cursor = parse_qs(urlsplit(page.next_).query)["cursor"][0]
    assert sorted(seen) == sorted(wanted) and len(seen) == len(set(seen))
    assert pages == -(-len(wanted) // 2)
    # an open enum: the client keeps the value as a string, so a value a later release adds is no error
    assert type(api("targets.list_targets").sync(client=generated, limit=1).items[0].status) is str


def test_get_an_item_and_search(generated, sample_portal):
    first = database_rows(sample_portal.db, "select id, name_en from targets order by id limit 1")[0]
    item = api("targets.get_targets_item").sync(id=first["id"], client=generated)
    assert item.item.id == first["id"] and item.item.name_en == first["name_en"]
    word = first["name_en"].split()[0]
    found = api("search.search").sync(client=generated, q=word)
    assert found is not None and found.results


def test_download_csv(generated, sample_portal):
    fields = importlib.import_module(f"{PACKAGE}.models.list_targets_csv_fields_item").ListTargetsCsvFieldsItem
    wanted = [fields(name) for name in ("id", "name_zh", "deadline_year")]
    text = api("targets.list_targets_csv").sync(client=generated, limit=500, fields=wanted)
    assert isinstance(text, str)
    rows = list(csv.DictReader(io.StringIO(text)))
    expected = database_rows(sample_portal.db, "select id, name_zh, deadline_year from targets order by id")
    assert [r["id"] for r in rows] == [r["id"] for r in expected]
    for got, row in zip(rows, expected, strict=True):
        assert got["name_zh"].removeprefix("'") == row["name_zh"]
        assert got["deadline_year"] == ("" if row["deadline_year"] is None else str(row["deadline_year"]))


def test_download_excel_csv_and_xlsx(generated, sample_portal):
    """The spreadsheet operations are read as text and bytes, never parsed as JSON."""
    import openpyxl

    expected = [r["id"] for r in database_rows(sample_portal.db, "select id from targets order by id limit 3")]
    text = api("targets.list_targets_excel_csv").sync(client=generated, limit=3)
    assert isinstance(text, str) and text.startswith("\ufeff")
    assert [r["id"] for r in csv.DictReader(io.StringIO(text.removeprefix("\ufeff")))] == expected
    book = api("targets.list_targets_xlsx").sync(client=generated, limit=3)
    assert isinstance(book, bytes)
    rows = list(openpyxl.load_workbook(io.BytesIO(book)).active.iter_rows(values_only=True))
    assert [r[rows[0].index("id")] for r in rows[1:]] == expected
