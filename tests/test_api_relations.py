"""Items embed their related records, and filters through other tables, as the database joins them.

The explicit joins are written out here in SQL, independently of how the API derives them from the
schemas. They run on the sample database, which has rows in every table, and on the real data.
"""

from __future__ import annotations

from urllib.parse import quote

import pytest
from api_support import API, COLLECTION_NAMES, all_pages, db_ids, db_rows, get


@pytest.fixture(params=["portal", "sample_portal"])
def served(request):
    return request.getfixturevalue(request.param)


def item(served, collection: str, record_id: str) -> dict:
    response = get(served, f"{API}/{collection}/{quote(record_id, safe='')}")
    assert response.status_code == 200, response.text
    return response.json()["item"]


def ids(served, url: str) -> list[str]:
    items, _ = all_pages(served, url + ("&" if "?" in url else "?") + "limit=500&fields=id")
    return sorted(i["id"] for i in items)


def summary_of(served, table: str, record_id: str | None, label: str) -> dict | None:
    if record_id is None:
        return None
    row = db_rows(served.db, f"select id, {label}_zh, {label}_en from {table} where id = ?", [record_id])[0]
    return {
        "id": row["id"],
        f"{label}_zh": row[f"{label}_zh"],
        f"{label}_en": row[f"{label}_en"],
        "url": f"{API}/{table}/{row['id']}",
    }


def test_a_target_carries_policy_measure_indicator_jurisdiction_and_agencies(served):
    targets = db_rows(served.db, "select * from targets order by id")
    if not targets:
        pytest.skip("no targets curated in this database yet")
    for target in targets:
        got = item(served, "targets", target["id"])
        policy = db_rows(served.db, "select * from policies where id = ?", [target["policy_id"]])[0]
        assert got["policy"] == summary_of(served, "policies", target["policy_id"], "title")
        assert got["measure"] == summary_of(served, "measures", target["measure_id"], "title")
        assert got["indicator"] == summary_of(served, "indicators", target["indicator_id"], "name")
        assert got["jurisdiction"] == summary_of(served, "jurisdictions", policy["jurisdiction_id"], "name")
        agencies = db_rows(
            served.db,
            "select a.id, a.name_zh, a.name_en, ma.role, ma.position from measure_agencies ma "
            "join agencies a on a.id = ma.agency_id where ma.measure_id = ? order by ma.position",
            [target["measure_id"]],
        )
        assert got["agencies"] == [{**a, "url": f"{API}/agencies/{a['id']}"} for a in agencies]
        for key in ("value", "deadline_year", "status", "quote_zh"):
            assert got[key] == target[key]


def test_a_policy_carries_counts_and_links_to_its_measures_and_targets(served):
    for policy_id in db_ids(served.db, "select id from policies"):
        related = item(served, "policies", policy_id)["related"]
        for table in ("measures", "targets"):
            expected = db_ids(served.db, f"select id from {table} where policy_id = ? order by id", [policy_id])
            assert related[table]["count"] == len(expected)
            assert ids(served, related[table]["url"]) == expected


def test_an_agency_carries_the_measures_it_leads_or_shares(served):
    agencies = db_ids(served.db, "select id from agencies")
    if not agencies:
        pytest.skip("no agencies curated in this database yet")
    for agency_id in agencies:
        got = item(served, "agencies", agency_id)["measures"]
        rows = db_rows(
            served.db,
            "select m.id, m.title_zh, m.title_en, ma.role, ma.position from measure_agencies ma "
            "join measures m on m.id = ma.measure_id where ma.agency_id = ? order by m.id",
            [agency_id],
        )
        assert got == [{**r, "url": f"{API}/measures/{r['id']}"} for r in rows]
        assert {m["role"] for m in got} <= {"lead", "responsible"}


def test_a_measure_carries_its_mentions_with_their_quotes(served):
    for kind in ("platform", "fund", "event"):
        for mention in db_rows(served.db, f"select * from {kind}_mentions"):
            got = item(served, "measures", mention["measure_id"])[f"{kind}s"]
            entry = next(e for e in got if e["id"] == mention[f"{kind}_id"])
            assert entry["quote_zh"] == mention["quote_zh"] and entry["quote_en"] == mention["quote_en"]
            back = item(served, f"{kind}s", mention[f"{kind}_id"])["measures"]
            assert mention["measure_id"] in [m["id"] for m in back]


JOIN_FILTERS = [
    (
        "targets",
        "jurisdiction",
        "select id from jurisdictions",
        "select t.id from targets t join policies p on p.id = t.policy_id where p.jurisdiction_id = ?",
    ),
    (
        "measures",
        "jurisdiction",
        "select id from jurisdictions",
        "select m.id from measures m join policies p on p.id = m.policy_id where p.jurisdiction_id = ?",
    ),
    (
        "targets",
        "agency",
        "select id from agencies",
        "select distinct t.id from targets t join measure_agencies ma on ma.measure_id = t.measure_id "
        "where ma.agency_id = ?",
    ),
    (
        "measures",
        "agency",
        "select id from agencies",
        "select distinct measure_id from measure_agencies where agency_id = ?",
    ),
    ("agencies", "measure", "select id from measures", "select agency_id from measure_agencies where measure_id = ?"),
    ("measures", "platform", "select id from platforms", "select measure_id from platform_mentions where platform_id = ?"),
    ("measures", "fund", "select id from funds", "select measure_id from fund_mentions where fund_id = ?"),
    ("measures", "event", "select id from events", "select measure_id from event_mentions where event_id = ?"),
    ("platforms", "measure", "select id from measures", "select platform_id from platform_mentions where measure_id = ?"),
]


@pytest.mark.parametrize(("collection", "param", "values_sql", "expected_sql"), JOIN_FILTERS)
def test_filters_through_other_tables(served, collection, param, values_sql, expected_sql):
    values = db_ids(served.db, values_sql)
    for value in values:
        expected = sorted(set(db_ids(served.db, expected_sql, [value])))
        assert ids(served, f"{API}/{collection}?{param}={quote(value)}") == expected, value


def test_agency_and_role_combine_on_the_same_responsibility(served):
    for agency_id in db_ids(served.db, "select id from agencies"):
        for role in ("lead", "responsible"):
            expected = db_ids(
                served.db,
                "select distinct t.id from targets t join measure_agencies ma on ma.measure_id = t.measure_id "
                "where ma.agency_id = ? and ma.role = ? order by t.id",
                [agency_id, role],
            )
            assert ids(served, f"{API}/targets?agency={quote(agency_id)}&role={role}") == expected
            measures = db_ids(
                served.db,
                "select measure_id from measure_agencies where agency_id = ? and role = ? order by measure_id",
                [agency_id, role],
            )
            assert ids(served, f"{API}/measures?agency={quote(agency_id)}&role={role}") == measures


def test_the_sample_exercises_every_relation(sample_portal):
    """Guards the test data: without rows in every relation the tests above would prove nothing."""
    for table in ("targets", "measure_agencies", "platform_mentions", "fund_mentions", "event_mentions"):
        assert db_rows(sample_portal.db, f"select count(*) as n from {table}")[0]["n"] > 0, table
    roles = db_ids(sample_portal.db, "select distinct role from measure_agencies")
    assert sorted(roles) == ["lead", "responsible"]


@pytest.mark.parametrize("collection", COLLECTION_NAMES)
def test_every_related_count_matches_the_listing_it_links_to(served, collection):
    for record_id in db_ids(served.db, f"select id from {collection} order by id limit 25"):
        got = item(served, collection, record_id)
        for key, entry in got["related"].items():
            body = get(served, entry["url"]).json()
            assert body["count"] == entry["count"], (record_id, key)
