"""The /api/v1 collections over HTTP, checked against what the database itself says.

Every test runs on the real datasets and on the sample database (tests/data/api_sample) and
derives its expectations from the database, so it stays true as curation adds rows.
"""

from __future__ import annotations

import csv
import io
from urllib.parse import quote

import pytest
from api_support import API, COLLECTION_NAMES, all_pages, db_ids, db_rows, get

from kechuang.model.schema import load_schemas
from kechuang.serve.api.collections import Catalog, build_catalog


@pytest.fixture(scope="session")
def catalog(project) -> Catalog:
    return build_catalog(load_schemas(project.schemas))


@pytest.fixture(params=["portal", "sample_portal"])
def served(request):
    """Each test once on the real data and once on the sample."""
    return request.getfixturevalue(request.param)


def listing(served, collection: str, query: str = "") -> list[dict]:
    items, _pages = all_pages(served, f"{API}/{collection}?limit=500&{query}")
    return items


def test_index_lists_every_collection_with_its_count_and_the_release(served):
    response = get(served, f"{API}/")
    assert response.status_code == 200
    body = response.json()
    assert [c["name"] for c in body["collections"]] == list(COLLECTION_NAMES)
    for entry in body["collections"]:
        assert entry["count"] == db_rows(served.db, f"select count(*) as n from {entry['name']}")[0]["n"]
        assert get(served, entry["url"]).status_code == 200
    meta = {r["key"]: r["value"] for r in db_rows(served.db, "select key, value from _meta")}
    assert response.headers["x-data-release"] == body["release"]["version"]
    if meta.get("release_version"):
        assert body["release"] == {"version": meta["release_version"], "date": meta["release_date"]}
    else:
        assert body["release"]["date"] == meta["built_at"][:10]
    assert get(served, body["links"]["openapi"]).json()["openapi"].startswith("3.1")
    assert get(served, f"{API}").json() == body


def _expected_order(rows: list[dict], column: str, descending: bool) -> list[str]:
    """Sorted as documented: by the column (nulls first ascending, last descending), then by id."""
    by_id = sorted(rows, key=lambda r: r["id"])
    if column == "id":
        return [r["id"] for r in (by_id[::-1] if descending else by_id)]
    present = [r for r in by_id if r[column] is not None]
    missing = [r for r in by_id if r[column] is None]
    present.sort(key=lambda r: r[column], reverse=descending)
    if descending:  # reverse=True keeps ties stable in id order already
        return [r["id"] for r in present + missing]
    return [r["id"] for r in missing + present]


@pytest.mark.parametrize("name", COLLECTION_NAMES)
def test_paging_returns_every_record_once_in_the_requested_order(served, catalog, name):
    collection = catalog.collections[name]
    rows = db_rows(served.db, f"select * from {name}")
    limit = max(1, len(rows) // 4) if rows else 3
    for column in collection.sortable:
        for descending in (False, True):
            sort = ("-" if descending else "") + column
            items, pages = all_pages(served, f"{API}/{name}?limit={limit}&sort={sort}&fields=id,{column}")
            assert [i["id"] for i in items] == _expected_order(rows, column, descending), sort
            assert pages == max(1, -(-len(rows) // limit))


@pytest.mark.parametrize("name", COLLECTION_NAMES)
def test_value_filters_select_what_the_database_selects(served, catalog, name):
    collection = catalog.collections[name]
    rows = db_rows(served.db, f"select * from {name}")
    for f in collection.filters:
        if f.route.table is not None:
            continue  # filters through other tables: test_api_relations.py
        if f.kind == "in":
            values = sorted({r[f.column] for r in rows if r[f.column] is not None} | set(f.enum or ()))
            for value in values:
                got = [i["id"] for i in listing(served, name, f"{f.name}={quote(value)}&fields=id")]
                assert got == sorted(r["id"] for r in rows if r[f.column] == value), (f.name, value)
            if len(values) >= 2:
                pair = values[:2]
                got = [i["id"] for i in listing(served, name, f"{f.name}={quote(','.join(pair))}&fields=id")]
                assert got == sorted(r["id"] for r in rows if r[f.column] in pair)
        elif f.kind in ("eq", "min", "max"):
            present = sorted(r[f.column] for r in rows if r[f.column] is not None)
            if not present:
                continue
            pivot = present[len(present) // 2]
            keep = {"eq": lambda v, p=pivot: v == p, "min": lambda v, p=pivot: v >= p, "max": lambda v, p=pivot: v <= p}
            got = [i["id"] for i in listing(served, name, f"{f.name}={pivot}&fields=id")]
            expected = sorted(r["id"] for r in rows if r[f.column] is not None and keep[f.kind](r[f.column]))
            assert got == expected, (f.name, pivot)
        elif f.kind == "bool":
            true = [i["id"] for i in listing(served, name, f"{f.name}=true&fields=id")]
            false = [i["id"] for i in listing(served, name, f"{f.name}=false&fields=id")]
            assert true == sorted(r["id"] for r in rows if r[f.column] == 1)
            assert sorted(true + false) == sorted(r["id"] for r in rows if r[f.column] is not None)
        elif f.kind == "presence":
            for value, keep in (("exclude", False), ("only", True)):
                got = [i["id"] for i in listing(served, name, f"{f.name}={value}&fields=id")]
                assert got == sorted(r["id"] for r in rows if (r[f.column] is not None) == keep), (f.name, value)
            assert len(listing(served, name, f"{f.name}=include&fields=id")) == len(rows)


@pytest.mark.parametrize("name", COLLECTION_NAMES)
def test_q_finds_text_in_any_chinese_or_english_field(served, catalog, name):
    collection = catalog.collections[name]
    rows = db_rows(served.db, f"select * from {name}")
    texts = [r[c] for r in rows for c in collection.text_columns if r[c]]
    if not texts:
        pytest.skip(f"no {name} curated in this database yet")
    for token in {texts[0][:2], texts[-1][-3:], "%", "_"}:
        got = [i["id"] for i in listing(served, name, f"q={quote(token)}&fields=id")]
        expected = sorted(
            r["id"] for r in rows if any(token.lower() in (r[c] or "").lower() for c in collection.text_columns)
        )
        assert got == expected, token


def test_fields_selects_fields_in_the_order_given(served):
    body = get(served, f"{API}/policies?fields=title_en,id&limit=2").json()
    assert body["items"], "policies are curated"
    for item in body["items"]:
        assert list(item) == ["title_en", "id", "url"]


def test_every_record_has_every_field_of_its_collection(served, catalog):
    for name, collection in catalog.collections.items():
        for item in get(served, f"{API}/{name}?limit=5").json()["items"]:
            assert list(item) == [c.name for c in collection.columns] + ["url"]


@pytest.mark.parametrize("name", COLLECTION_NAMES)
def test_csv_is_the_same_page_as_json(served, catalog, name):
    collection = catalog.collections[name]
    json_page = get(served, f"{API}/{name}?limit=500").json()
    by_format = get(served, f"{API}/{name}?limit=500&format=csv")
    by_accept = get(served, f"{API}/{name}?limit=500", headers={"Accept": "text/csv"})
    assert by_format.headers["content-type"].startswith("text/csv")
    assert by_format.content == by_accept.content
    rows = list(csv.reader(io.StringIO(by_format.text)))
    assert rows[0] == [c.name for c in collection.columns]
    assert len(rows) - 1 == len(json_page["items"])
    for line, item in zip(rows[1:], json_page["items"], strict=True):
        for column, cell in zip(collection.columns, line, strict=True):
            value = item[column.name]
            if value is None:
                assert cell == ""
            elif isinstance(value, bool):
                assert cell == str(value).lower()
            elif isinstance(value, (int, float)):
                assert float(cell) == value
            elif value[:1] in ("=", "+", "-", "@", "\t", "\r"):
                assert cell == "'" + value
            else:
                assert cell == value


def test_csv_cells_that_start_like_formulas_are_neutralised(sample_portal, catalog):
    risky = 0
    for name in COLLECTION_NAMES:
        text = get(sample_portal, f"{API}/{name}?limit=500&format=csv").text
        for row in csv.reader(io.StringIO(text)):
            for cell in row:
                assert cell[:1] not in ("=", "+", "@", "\t", "\r") or cell == "", cell
                if cell.startswith("'"):
                    risky += 1
    assert risky >= 3  # the sample's notes that start with =, - and @


def test_cursor_pages_survive_other_parameters_and_reject_tampering(sample_portal):
    first = get(sample_portal, f"{API}/targets?limit=1&sort=-value&fields=id,value").json()
    next_url = first["next"]
    assert next_url and "cursor=" in next_url
    assert get(sample_portal, next_url).status_code == 200
    cursor = next_url.split("cursor=")[1]
    other_sort = get(sample_portal, f"{API}/targets?limit=1&sort=value&cursor={cursor}")
    assert other_sort.status_code == 400 and other_sort.json()["error"]["param"] == "cursor"
    flipped = cursor[:-2] + ("A" if cursor[-2] != "A" else "B") + cursor[-1]
    tampered = get(sample_portal, f"{API}/targets?limit=1&sort=-value&cursor={flipped}")
    assert tampered.status_code == 400 and tampered.json()["error"]["param"] == "cursor"


def test_limit_caps_the_page_and_next_is_null_on_the_last(served):
    n = db_rows(served.db, "select count(*) as n from indicators")[0]["n"]
    body = get(served, f"{API}/indicators?limit=500").json()
    assert len(body["items"]) == n == body["count"] and body["next"] is None
    default = get(served, f"{API}/indicators").json()
    assert default["limit"] == 50 and len(default["items"]) == min(n, 50)


def test_count_is_the_total_matching_not_the_page(served):
    rows = db_ids(served.db, "select id from jurisdictions where level = 'district'")
    body = get(served, f"{API}/jurisdictions?level=district&limit=1").json()
    assert body["count"] == len(rows)
    assert len(body["items"]) == min(1, len(rows))


def test_targets_by_commitment_first_statements_and_who_restates_them(served):
    """restatements=exclude lists one target a commitment (its first statement: commitment_id is its id), each
    item names the targets that restate it, and v1 clients that ask for neither see what they saw."""
    rows = db_rows(served.db, "select id, restates_target_id, commitment_id from targets")
    firsts = listing(served, "targets", "restatements=exclude&fields=id,commitment_id")
    assert [i["id"] for i in firsts] == sorted(r["id"] for r in rows if r["commitment_id"] == r["id"])
    assert all(i["commitment_id"] == i["id"] for i in firsts)
    assert len(listing(served, "targets", "fields=id")) == len(rows)
    restated = {r["restates_target_id"] for r in rows if r["restates_target_id"]}
    for first in sorted(restated)[:3] or [rows[0]["id"]]:
        item = get(served, f"{API}/targets/{quote(first)}").json()["item"]
        assert item["restated_by"] == sorted(r["id"] for r in rows if r["restates_target_id"] == first)
    assert get(served, f"{API}/targets?restatements=first").status_code == 400
