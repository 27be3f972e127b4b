"""GET /api/v1/search on the real data (the portal's Datasette in process; odd and overlong URLs to a served
one, over raw HTTP): shape, findability, errors, HTTP."""

from __future__ import annotations

import html
import http.client
import json
import re
import sqlite3
from urllib.parse import urlencode, urlsplit

import jsonschema
import opencc
import pytest
from api_support import db_records
from sqlite_utils import Database

from kechuang.model.meta import compiled_schemas
from kechuang.model.search import CONTEXT, RECORDS, searchable_tables
from kechuang.serve.security.guard import MAX_QUERY_BYTES
from kechuang.text.normalize import pinyin

RESULT_KEYS = {"type", "id", "title_zh", "title_en", "snippet_zh", "snippet_en", "url", "page_url", "score"}
MARK = re.compile(r"</?mark>")


def raw_get(portal, path: str) -> tuple[int, dict[str, str], str]:
    """GET with the standard library, which (unlike httpx) sends URLs of any length, to a served portal."""
    parts = urlsplit(portal.base_url)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=60)
    try:
        conn.request("GET", path)
        response = conn.getresponse()
        return response.status, {k.lower(): v for k, v in response.getheaders()}, response.read().decode()
    finally:
        conn.close()


def search(portal, **params):
    return portal.get("/api/v1/search", params=params)


def found(portal, q: str, limit: int = 100, **params) -> list[tuple[str, str]]:
    response = search(portal, q=q, limit=limit, **params)
    assert response.status_code == 200, response.text
    return [(r["type"], r["id"]) for r in response.json()["results"]]


def test_index_holds_one_record_per_row_of_every_searchable_table(built_db):
    db = Database(built_db)
    schemas = compiled_schemas(db)
    counts = dict(db.execute(f"select type, count(*) from [{RECORDS}] group by type").fetchall())
    tables = searchable_tables(schemas)
    assert {"policies", "measures", "targets", "indicators", "platforms", "funds", "events", "agencies", "glossary"} <= {
        t.name for t in tables
    }
    for schema in tables:
        assert counts.get(schema.name, 0) == db[schema.name].count, schema.name


def test_response_shape_and_order(portal, built_db):
    title = db_records(built_db, "select name_zh from indicators order by id limit 1")
    if not title:
        pytest.skip("no indicators curated yet")
    response = search(portal, q=title[0]["name_zh"])
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/json")
    body = response.json()
    assert set(body) == {"query", "total", "answer", "facets", "results"}
    assert body["query"] == title[0]["name_zh"]
    assert body["total"] >= len(body["results"]) > 0
    for result in body["results"]:
        assert set(result) == RESULT_KEYS
        assert isinstance(result["score"], float) and result["score"] > 0
    scores = [r["score"] for r in body["results"]]
    assert scores == sorted(scores, reverse=True)


@pytest.mark.parametrize("table", ["targets", "indicators", "platforms", "funds", "events", "agencies", "glossary"])
@pytest.mark.parametrize("script", ["simplified", "traditional", "english"])
def test_every_named_record_is_found_by_its_name(portal, built_db, table, script):
    """Each record's own name finds it, typed in simplified or traditional Chinese or in English."""
    db = Database(built_db)
    label = compiled_schemas(db)[table].label_column
    english = label[:-3] + "_en"
    rows = db_records(built_db, f"select id, [{label}] as zh, [{english}] as en from [{table}] order by id")
    if not rows:
        pytest.skip(f"no {table} curated yet")
    to_traditional = opencc.OpenCC("s2t")
    missing = []
    for row in rows[:: max(1, len(rows) // 25)]:
        q = {"simplified": row["zh"], "traditional": to_traditional.convert(row["zh"]), "english": row["en"]}[script]
        if (table, row["id"]) not in found(portal, q, type=table):
            missing.append((q, row["id"]))
    assert not missing


def test_platforms_are_found_by_the_pinyin_of_their_names(portal, built_db):
    rows = db_records(built_db, "select id, name_zh from platforms where name_zh not like '%*%' order by id")
    if not rows:
        pytest.skip("no platforms curated yet")
    for row in rows[:: max(1, len(rows) // 15)]:
        whole = "".join(pinyin(row["name_zh"]))
        spaced = " ".join(pinyin(row["name_zh"]))
        for q in (whole, spaced):
            assert ("platforms", row["id"]) in found(portal, q, type="platforms"), q


def test_measures_are_found_by_a_phrase_of_their_text(portal, built_db):
    """A sentence copied from a measure's text finds the measure (the citizen pasting a quote)."""
    rows = db_records(built_db, "select id, text_zh from measures order by id")
    if not rows:
        pytest.skip("no measures curated yet")
    for row in rows[:: max(1, len(rows) // 20)]:
        sentence = max(re.split(r"[。；]", row["text_zh"]), key=len)[:40]
        assert ("measures", row["id"]) in found(portal, sentence, limit=10), sentence


def test_type_filter_and_pagination(portal, built_db):
    everything = search(portal, q="创新", limit=100).json()
    assert everything["total"] > 0
    types = {r["type"] for r in everything["results"]}
    for name in types:
        filtered = search(portal, q="创新", type=name, limit=100).json()
        assert filtered["results"] and {r["type"] for r in filtered["results"]} == {name}
    two = ",".join(sorted(types)[:2])
    filtered = search(portal, q="创新", type=two, limit=100).json()
    assert {r["type"] for r in filtered["results"]} <= set(two.split(","))
    first = search(portal, q="创新", limit=5).json()["results"]
    second = search(portal, q="创新", limit=5, offset=5).json()["results"]
    whole = search(portal, q="创新", limit=10).json()["results"]
    assert [(r["type"], r["id"]) for r in first + second] == [(r["type"], r["id"]) for r in whole]
    beyond = search(portal, q="创新", offset=everything["total"]).json()
    assert beyond["results"] == [] and beyond["total"] == everything["total"]


def test_snippets_are_escaped_excerpts_of_the_original_text(portal, built_db):
    """Every snippet, without its <mark> tags and unescaped, is a stretch of one of the record's texts."""
    originals = {
        (r["type"], r["id"]): [r[c] or "" for c in ("title_zh", "title_en", "quote_zh", "quote_en", "body_zh", "body_en")]
        for r in db_records(built_db, f"select * from [{RECORDS}]")
    }
    for q in ("人才", "技术合同成交额", "technology transfer", "实验室 laboratory", "<b>基金</b>"):
        for result in search(portal, q=q, limit=30).json()["results"]:
            texts = [" ".join(t.split()) for t in originals[(result["type"], result["id"])]]
            for key in ("snippet_zh", "snippet_en"):
                snippet = result[key]
                assert "<" not in MARK.sub("", snippet), snippet
                plain = html.unescape(MARK.sub("", snippet)).strip("…")
                assert any(plain in t for t in texts), (q, key, snippet)


def test_matches_are_marked_in_snippets(portal):
    results = search(portal, q="技术合同成交额", limit=10).json()["results"]
    assert results
    assert all("<mark>" in r["snippet_zh"] for r in results)


def test_result_urls_are_the_records_pages(portal):
    for result in search(portal, q="实验室", limit=10).json()["results"]:
        page = portal.get(result["url"] + ".json?_shape=objects")
        assert page.status_code == 200, result["url"]
        rows = page.json()["rows"]
        assert len(rows) == 1


HOSTILE = [
    '"',
    '""',
    '"人才',
    "人才\"",
    "'",
    "(",
    ")",
    "(人才",
    "人才)",
    "[基金]",
    "{title}: 基金",
    "title:基金",
    "*",
    "人*",
    "^人才",
    "-",
    "-人才",
    "人才 -基金",
    "AND",
    "OR",
    "NOT",
    "NEAR",
    "人才 AND 基金",
    "人才 OR",
    "NOT 人才",
    "NEAR(人才 基金, 2)",
    "a NEAR/2 b",
    "。",
    "，",
    "、",
    "……",
    "·",
    "%",
    "%%",
    "_",
    "\\",
    "\\x00",
    "\x00",
    "🙂",
    "\u200b",
    "\ufeff人才",
    "<script>alert(1)</script>",
    "'; drop table targets; --",
    "人" * 500,
    "a" * 1000,
    "人才" * 3500,
    "x" * 10_000,
    "技术 " * 300,
    " ".join(str(i) for i in range(300)),
]


@pytest.mark.parametrize("q", HOSTILE, ids=range(len(HOSTILE)))
def test_hostile_queries_are_searched_as_text(live_portal, q):
    status, _headers, text = raw_get(live_portal, "/api/v1/search?" + urlencode({"q": q}))
    # 414: over the request guard's query-string limit, refused before search (kechuang.serve.security.guard)
    assert status in (200, 400, 414), text
    body = json.loads(text)
    if status == 200:
        assert set(body) == {"query", "total", "answer", "facets", "results"}
        assert body["query"] == q
    else:
        assert set(body["error"]) == {"status", "code", "message", "param"}


@pytest.mark.parametrize(
    ("params", "param"),
    [
        ({}, "q"),
        ({"q": ""}, "q"),
        ({"q": "   "}, "q"),
        ({"q": "人" * 7000}, "q"),
        ({"q": "x" * 10_000}, "q"),
        ({"q": "x" * 1001}, "q"),
        ({"q": "人才", "limit": "0"}, "limit"),
        ({"q": "人才", "limit": "101"}, "limit"),
        ({"q": "人才", "limit": "ten"}, "limit"),
        ({"q": "人才", "limit": "1e3"}, "limit"),
        ({"q": "人才", "offset": "-1"}, "offset"),
        ({"q": "人才", "offset": "99999999999999999999"}, "offset"),
        ({"q": "人才", "type": "nonsense"}, "type"),
        ({"q": "人才", "type": "targets,_meta"}, "type"),
        ({"q": "人才", "type": "search_records"}, "type"),
        ({"q": "人才", "type": ""}, "type"),
        ({"q": "人才", "type": "targets,,platforms"}, "type"),
    ],
)
def test_bad_parameters_get_a_400_json_error(live_portal, params, param):
    query = urlencode(params)
    status, headers, body = raw_get(live_portal, "/api/v1/search?" + query)
    expected = 400
    if len(query) > MAX_QUERY_BYTES:  # refused by the request guard before search: no parameter named
        expected, param = 414, None
    assert status == expected, body
    assert headers["content-type"].startswith("application/json")
    error = json.loads(body)["error"]
    assert error["status"] == expected and error["param"] == param and error["message"]
    assert headers["cache-control"] == "no-store"
    assert headers["access-control-allow-origin"] == "*"


def test_http_conventions(portal):
    response = search(portal, q="人才")
    assert response.headers["access-control-allow-origin"] == "*"
    assert response.headers["x-data-release"]
    etag = response.headers["etag"]
    # weak when the body is compressed for the client (kechuang.serve.wire), strong otherwise
    assert etag.removeprefix("W/").startswith('"') and "max-age" in response.headers["cache-control"]
    again = portal.get("/api/v1/search", params={"q": "人才"}, headers={"If-None-Match": etag})
    assert again.status_code == 304
    assert search(portal, q="基金").headers["etag"] != etag
    url = "/api/v1/search"
    head = portal.head(url, params={"q": "人才"})
    assert head.status_code == 200 and head.content == b"" and head.headers["etag"] == etag
    options = portal.request("OPTIONS", url)
    assert options.status_code == 204 and "GET" in options.headers["allow"]
    assert options.headers["access-control-allow-origin"] == "*"
    post = portal.request("POST", url, params={"q": "人才"})
    assert post.status_code == 405 and post.json()["error"]["status"] == 405


def test_search_tables_are_hidden_from_the_table_list(portal):
    """The index is plumbing: Datasette's database page lists the curated tables, not the search tables."""
    tables = portal.get("/kechuang.json").json()["tables"]
    search_tables = [t for t in tables if t["name"].startswith("search_")]
    assert search_tables and all(t["hidden"] for t in search_tables)


def test_no_api_route_but_search_answers_its_path():
    """Datasette tries plugins' routes in no fixed order, so the API's catch-all routes must leave
    /api/v1/search to kechuang.serve.search whichever plugin loads first."""
    from kechuang.serve.api.routes import ROUTES
    from kechuang.serve.search.routes import API_PATH

    assert re.match(API_PATH, "/api/v1/search")
    assert not [pattern for pattern, _view in ROUTES if re.match(pattern, "/api/v1/search")]
    assert any(re.match(pattern, "/api/v1/targets") for pattern, _view in ROUTES)


@pytest.mark.parametrize(
    ("query", "status", "param"),
    [
        ("q=%E4%BA%BA%E6%89%8D&sort=score", 400, "sort"),
        ("q=%E4%BA%BA&q=x", 400, "q"),
        ("q=x&type=targets&type=measures", 400, "type"),
        ("q=%FF", 400, None),
    ],
)
def test_api_parameters_follow_the_v1_conventions(live_portal, query, status, param):
    """Unknown and repeated parameters and broken UTF-8 are refused, as on every /api/v1 route."""
    code, _headers, body = raw_get(live_portal, "/api/v1/search?" + query)
    assert code == status and json.loads(body)["error"]["param"] == param


def test_api_refuses_an_accept_header_without_json(portal):
    response = portal.get("/api/v1/search", params={"q": "人才"}, headers={"Accept": "text/csv"})
    assert response.status_code == 406 and response.json()["error"]["status"] == 406


def test_search_is_in_the_api_reference(portal):
    spec = portal.get("/api/v1/openapi.json").json()
    operation = spec["paths"]["/api/v1/search"]["get"]
    assert {p["name"] for p in operation["parameters"]} == {"q", "type", "place", "year", "document", "limit", "offset"}
    for q in ("人才", "武汉技术合同成交额"):  # without an answer, and with one (that has a masked figure)
        response = search(portal, q=q, limit=3).json()
        jsonschema.validate(response, {**spec["components"]["schemas"]["SearchResults"], "$defs": {}})


def test_ten_thousand_chinese_characters_are_refused_with_a_400(live_portal):
    """Percent-encoded, 10,000 Chinese characters make a 90 KB request line: the HTTP server (granian) lets
    a request head of up to about 100 KB through, and the request guard refuses a query string over 8 KB
    with the portal's JSON 414; shorter ones reach search and get its JSON 400 (see the cases above). A
    refusal either way, never a 500."""
    status, _headers, _body = raw_get(live_portal, "/api/v1/search?" + urlencode({"q": "人" * 10_000}))
    assert status in (400, 414)


# --- questions: the answer, facets and filters -------------------------------------------------------------


def place_targets(built_db, place: str, indicator: str) -> list[sqlite3.Row]:
    """The targets of a place's policies that measure an indicator, in date order (what the answer should list)."""
    sql = """select t.* from targets t join policies p on p.id = t.policy_id
             where p.jurisdiction_id = ? and t.indicator_id = ? order by t.deadline_year, t.id"""
    return db_records(built_db, sql, [place, indicator])


@pytest.mark.parametrize(
    "q",
    ["武昌区技术合同成交额目标", "武昌區技術合同成交額目標", "Wuchang technology contract turnover target"],
)
def test_a_question_for_a_figure_is_answered_by_the_target_of_the_place_asked(portal, built_db, q):
    """The place named in the question decides, although the target's own text does not name it."""
    wanted = place_targets(built_db, "wuchang", "technology-contract-turnover")
    assert wanted, "Wuchang's technology contract turnover target is in the data"
    body = search(portal, q=q, limit=10).json()
    answer = body["answer"]
    assert answer and answer["place"]["id"] == "wuchang" and answer["place"]["name_zh"] == "武昌区"
    assert [t["id"] for t in answer["targets"]] == [r["id"] for r in wanted]
    first, row = answer["targets"][0], wanted[0]
    assert (first["figure_zh"], first["comparator"], first["deadline_year"]) == (row["figure_zh"], row["comparator"], row["deadline_year"])
    assert first["policy"]["id"] == row["policy_id"] and first["source_url"].startswith(f"/policies/{row['policy_id']}#")
    assert body["results"][0]["id"] == row["id"]


def test_several_targets_are_answered_in_date_order_and_masked_figures_stay_masked(portal, built_db):
    wanted = place_targets(built_db, "wuhan", "technology-contract-turnover")
    masked = [r for r in wanted if r["status"] == "redacted"]
    assert len({r["deadline_year"] for r in wanted}) > 1 and masked
    answer = search(portal, q="武汉技术合同成交额是多少", limit=10).json()["answer"]
    years = [t["deadline_year"] for t in answer["targets"]]
    assert years == sorted(years) and len(set(years)) > 1
    shown = {t["id"]: t for t in answer["targets"]}
    for row in masked:
        if row["id"] in shown:
            assert shown[row["id"]]["masked"] and shown[row["id"]]["value"] is None
            assert shown[row["id"]]["figure_zh"] == row["figure_zh"] and "*" in row["figure_zh"]
    assert any(r["id"] in shown for r in masked)


@pytest.mark.parametrize("q", ["技术合同成交额", "what is a technology manager"])
def test_no_answer_without_a_place_in_the_question(portal, q):
    assert search(portal, q=q).json()["answer"] is None


def test_a_glossary_entry_ranks_below_the_records_that_use_its_term(portal):
    """For a question the figure comes first; for the term alone, the explanation of the term."""
    question = found(portal, "黄石高新技术企业要达到多少家", limit=10)
    assert question[0][0] == "targets"
    assert question.index(("glossary", "high-tech-enterprise")) >= 3
    assert found(portal, "什么是高新技术企业", limit=3)[0] == ("glossary", "high-tech-enterprise")


def test_facets_count_the_matches_and_a_filter_narrows_to_them(portal, built_db):
    body = search(portal, q="高新技术企业", limit=100).json()
    facets = body["facets"]
    assert set(facets) == {"type", "place", "year", "document"}
    assert sum(v["count"] for v in facets["type"]) == body["total"]
    huangshi = next(v for v in facets["place"] if v["value"] == "huangshi")
    assert huangshi["label_zh"] == "黄石市" and huangshi["label_en"] == "Huangshi"
    narrowed = search(portal, q="高新技术企业", place="huangshi", limit=100).json()
    assert narrowed["total"] == huangshi["count"] > 0
    keys = [(r["type"], r["id"]) for r in narrowed["results"]]
    sql = f"select r.type, r.id, c.places from [{RECORDS}] r join [{CONTEXT}] c on c.rowid = r.rowid"
    places = {(t, i): p for t, i, p in db_records(built_db, sql)}
    assert all(places[key].split()[0] == "huangshi" for key in keys)
    # each facet counts under the others' filters: the place facet of a place filter still offers the others
    assert {v["value"] for v in narrowed["facets"]["place"]} == {v["value"] for v in facets["place"]}
    by_year = next(v for v in narrowed["facets"]["year"])
    both = search(portal, q="高新技术企业", place="huangshi", year=by_year["value"], limit=100).json()
    assert both["total"] == by_year["count"]


@pytest.mark.parametrize(("params", "param"), [({"place": "Wu Han"}, "place"), ({"year": "26"}, "year"), ({"document": "a,,b"}, "document")])
def test_malformed_filters_are_a_400_and_unknown_ones_find_nothing(portal, params, param):
    response = search(portal, q="人才", **params)
    assert response.status_code == 400 and response.json()["error"]["param"] == param
    assert search(portal, q="人才", place="atlantis").json()["total"] == 0


def expected_page(db, kind: str, key: str) -> str:
    """The page of the site a record of this type lands on (kechuang.index.pages), written out by hand."""
    if kind in ("policies", "targets", "indicators", "agencies", "platforms", "funds", "events", "glossary"):
        return f"/{kind}/{key}"
    if kind == "measures":
        return f"/policies/{db_records(db, 'select policy_id from measures where id = ?', [key])[0][0]}#m-{key}"
    if kind == "headings":
        policy, section = key.split(",", 1)
        ordinal = db_records(db, "select ordinal from headings where policy_id = ? and section = ?", [policy, section])
        return f"/policies/{policy}#sec-{ordinal[0][0]}"
    if kind == "jurisdictions":
        return f"/targets?jurisdiction={key}"
    if kind == "themes":
        return f"/indicators?theme={key}"
    return ""  # a table without pages: the row


def test_each_result_type_lands_on_its_page_of_the_site_and_keeps_its_row(portal, built_db):
    """For one record of every searchable type: `page_url` is its page of the site (at the measure's paragraph
    or the heading's section in its policy's text, whose anchor is on that page), `url` its Datasette row."""
    for kind, key, title in db_records(built_db, f"select type, min(id), title_zh from [{RECORDS}] group by type"):
        hit = next(
            (r for r in search(portal, q=title, type=kind, limit=100).json()["results"] if r["id"] == key), None
        )
        assert hit, (kind, key)
        wanted = expected_page(built_db, kind, key) or hit["url"]
        assert hit["page_url"] == wanted, (kind, hit["page_url"], wanted)
        path, _, anchor = hit["page_url"].partition("#")
        page = portal.get(path)
        assert page.status_code == 200, hit["page_url"]
        if anchor:
            assert f'id="{anchor}"' in page.text, hit["page_url"]
        row = portal.get(hit["url"] + ".json?_shape=objects")
        assert row.status_code == 200 and len(row.json()["rows"]) == 1, hit["url"]


# Short forms and acronyms of policy English and their Chinese terms (the glossary's aliases): each finds the
# records the other finds.
ACRONYMS = [
    ("AI", "人工智能", "artificial-intelligence"),
    ("R&D", "研发", "research-and-development"),
    ("SMEs", "中小企业", "small-and-medium-sized-enterprises"),
    ("IP", "知识产权", "intellectual-property"),
    ("IPO", "上市", "stock-market-listing"),
]


@pytest.mark.parametrize(("short", "chinese", "term"), ACRONYMS, ids=[a[0] for a in ACRONYMS])
def test_acronyms_find_what_their_chinese_term_finds_and_back(portal, short, chinese, term):
    by_short, by_chinese = found(portal, short), found(portal, chinese)
    assert by_short and by_chinese
    assert by_short[0] == by_chinese[0] == ("glossary", term)  # the term itself first, both ways
    for first, other in ((by_short, by_chinese), (by_chinese, by_short)):
        top = first[:10]
        shared = [r for r in top if r in other]
        assert len(shared) >= 0.8 * len(top), (short, chinese, sorted(set(top) - set(other)))


def test_5g_is_found_as_written_in_either_language(portal, built_db):
    """The documents write 5G in Chinese and English alike: every record with 5G in either language's text."""
    sql = f"select type, id from [{RECORDS}] where (title_zh || quote_zh || body_zh || title_en || quote_en || body_en) like '%5G%'"
    wanted = {(kind, key) for kind, key in db_records(built_db, sql)}
    assert wanted and wanted <= set(found(portal, "5G"))
    assert ("events", "china-5g-industrial-internet-conference") in found(portal, "5G industrial internet")[:3]


def test_a_policy_matched_in_its_text_lands_at_the_passage(portal, built_db):
    """元宇宙 is in no policy's title or summary, only in one paragraph of its text: the policy result lands at
    that paragraph's measure in the reader; a policy matched by its title lands at the top of its page."""
    policies = [r for r in search(portal, q="元宇宙", type="policies").json()["results"]]
    assert policies
    for result in policies:
        path, _, anchor = result["page_url"].partition("#")
        assert path == f"/policies/{result['id']}" and anchor.startswith("m-"), result["page_url"]
        measure = db_records(built_db, "select text_zh from measures where id = ?", [anchor[2:]])
        assert "元宇宙" in measure[0]["text_zh"]
        assert f'id="{anchor}"' in portal.get(path).text
    title = db_records(built_db, "select id, title_zh from policies order by id limit 1")[0]
    hit = next(r for r in search(portal, q=title["title_zh"], type="policies").json()["results"] if r["id"] == title["id"])
    assert hit["page_url"] == f"/policies/{title['id']}"
