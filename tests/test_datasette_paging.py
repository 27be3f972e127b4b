"""Datasette's own paging returns every row exactly once: the table JSON's `next_url` chain and the
`_stream=on` CSV, for every table and view, unsorted and with every sort its pages offer (ascending and
descending), compared with a `select` of every key. Pages of half a table put ties across the boundary
that matters (Datasette orders a first page differently from the next ones); only the key columns are
asked for (`_col`), which Datasette pages exactly as whole rows."""

from __future__ import annotations

import csv
import io
import sqlite3
from collections import Counter

import pytest

from kechuang.text.spreadsheet import inert

QUIET = "_nofacet=1&_nocount=1"


def page_size(rows: int) -> int:
    return max(1, -(-rows // 2))


def keys_and_sorts(portal) -> list[tuple[str, list[str], list[str], bool]]:
    """(table or view, key columns, columns the pages offer to sort by, is a view) for every data table and
    view Datasette lists (hidden ones excluded), with Datasette's own rule for sortable columns."""
    database = portal.get("/kechuang.json").json()
    shown = [(t["name"], False) for t in database["tables"] if not t["hidden"]]
    shown += [(v["name"], True) for v in database["views"]]
    with sqlite3.connect(portal.db) as con:
        out = []
        for name, is_view in shown:
            info = con.execute(f"pragma table_info([{name}])").fetchall()
            keys = [r[1] for r in sorted(info, key=lambda r: r[5]) if r[5]] or [r[1] for r in info]
            metadata = portal.datasette.table_metadata("kechuang", name)
            sorts = [] if is_view else metadata.get("sortable_columns", [r[1] for r in info])
            out.append((name, keys, sorts, is_view))
    return out


def every_key(db, table: str, keys: list[str]) -> Counter:
    with sqlite3.connect(db) as con:
        columns = ", ".join(f"[{k}]" for k in keys)
        return Counter(
            tuple("" if v is None else str(v) for v in row) for row in con.execute(f"select {columns} from [{table}]")
        )


def followed_json(portal, path: str, keys: list[str]) -> Counter:
    got: Counter = Counter()
    url: str | None = path
    while url:
        response = portal.get(url)
        assert response.status_code == 200, (url, response.text[:200])
        page = response.json()
        got.update(tuple("" if r[k] is None else str(r[k]) for k in keys) for r in page["rows"])
        url = page["next_url"]
    return got


def as_in_csv(cell: str) -> str:
    """A value as Datasette's CSV writes it: formula-leading text made inert (kechuang.serve.inert_csv)."""
    try:
        float(cell)
    except ValueError:
        return inert(cell)
    return cell


def streamed_csv(portal, path: str, keys: list[str]) -> Counter:
    response = portal.get(path)
    assert response.status_code == 200, (path, response.text[:200])
    rows = list(csv.DictReader(io.StringIO(response.content.decode("utf-8-sig"))))
    return Counter(tuple(r[k] for k in keys) for r in rows)


@pytest.mark.parametrize("form", ["json", "csv"])
def test_every_page_and_stream_returns_each_row_once(portal, form):
    problems = []
    for name, keys, sorts, is_view in keys_and_sorts(portal):
        expected = every_key(portal.db, name, keys)
        size = f"_size={page_size(sum(expected.values()))}" + "".join(f"&_col={k}" for k in keys)
        orders = [""] + [f"&{arg}={column}" for column in sorts for arg in ("_sort", "_sort_desc")]
        for order in orders:
            if form == "json":
                got = followed_json(portal, f"/kechuang/{name}.json?_shape=objects&{QUIET}&{size}{order}", keys)
            else:
                got = streamed_csv(portal, f"/kechuang/{name}.csv?_stream=on&{size}{order}", keys)
            if form == "csv":
                expected = Counter({tuple(map(as_in_csv, k)): n for k, n in every_key(portal.db, name, keys).items()})
            if got != expected:
                missing, twice = expected - got, got - expected
                problems.append(f"{name}{order or ' (default order)'}: {len(missing)} missing, {len(twice)} extra")
        assert sorts or is_view, name
    assert not problems, "\n".join(problems)
