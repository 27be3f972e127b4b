"""The citizens' site over HTTP (the portal's Datasette in process, on a real build): status codes, language,
caching, escaping."""

from __future__ import annotations

import re
import sqlite3
from pathlib import Path
from urllib.parse import quote

import pytest
from site_support import page_types

from conftest import InProcessPortal as Portal
from conftest import serve_in_process
from kechuang.model.schema import load_schemas
from kechuang.serve.site.markdown import inline_code

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def page_paths(portal: Portal) -> dict[str, str]:
    """One URL per page type, with ids taken from the served database."""
    return page_types(portal.db)


ITEM_ROUTES = ["targets", "policies", "indicators", "agencies", "platforms", "funds", "events"]


def html_lang(body: str) -> str:
    found = re.search(r'<html lang="([^"]+)"', body)
    assert found, "no <html lang>"
    return found.group(1)


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_every_page_type_answers_in_the_language_asked(portal: Portal, page_paths, lang):
    expected = {"zh": "zh-Hans", "en": "en"}[lang]
    for name, path in page_paths.items():
        response = portal.get(
            path, headers={"Accept-Language": "en" if lang == "zh" else "zh-CN"}, params={"lang": lang}
        )
        assert response.status_code == 200, f"{name} {path}: {response.status_code}"
        assert response.headers["content-type"].startswith("text/html")
        assert html_lang(response.text) == expected, name
        assert response.headers["content-language"] == expected
        assert 'class="kc-header"' in response.text and 'href="/-/lang?' in response.text, name
        # the strict CSP forbids inline script (our own files from /static/ only); JSON-LD data blocks (the
        # downloads page's Dataset) run nothing
        inline = r'<script(?! type="application/ld\+json">)(?! src="/static/[\w.-]+\.js"( defer)?></script>)'
        assert not re.search(inline, response.text), f"{name} has an inline script"


def test_pages_cache_per_release_url_and_language(portal: Portal, page_paths):
    path = page_paths["targets"]
    zh = portal.get(path, headers={"Accept-Language": "zh-CN"})
    en = portal.get(path, headers={"Accept-Language": "en"})
    for response in (zh, en):
        vary = response.headers["vary"].lower()
        assert "cookie" in vary and "accept-language" in vary
        assert response.headers["x-data-release"]
        assert "max-age" in response.headers["cache-control"]
    assert zh.headers["etag"] != en.headers["etag"]
    again = portal.get(path, headers={"Accept-Language": "zh-CN", "If-None-Match": zh.headers["etag"]})
    assert again.status_code == 304 and again.content == b""
    head = portal.head(path)
    assert head.status_code == 200 and head.content == b""


def test_cookie_and_accept_language_choose_the_language(portal: Portal):
    assert html_lang(portal.get("/", headers={"Accept-Language": "en-US,en;q=0.9"}).text) == "en"
    assert html_lang(portal.get("/", headers={"Accept-Language": "fr"}).text) == "zh-Hans"
    cookie = {"kechuang_lang": "zh"}
    assert html_lang(portal.get("/", headers={"Accept-Language": "en"}, cookies=cookie).text) == "zh-Hans"
    overridden = portal.get("/?lang=en", cookies=cookie)
    assert html_lang(overridden.text) == "en"
    assert "kechuang_lang=en" in overridden.headers["set-cookie"]
    assert overridden.headers["cache-control"].startswith("private")


def test_the_toggle_remembers_the_language_and_returns_to_the_page(portal: Portal):
    response = portal.get("/-/lang", params={"to": "en", "next": "/targets?year=2026&lang=zh"})
    assert response.status_code == 303
    assert response.headers["location"] == "/targets?year=2026"
    assert "kechuang_lang=en" in response.headers["set-cookie"]
    for unsafe in ("//evil.example/", "https://evil.example/", "/\\evil.example", "javascript:alert(1)", ""):
        bounced = portal.get("/-/lang", params={"to": "zh", "next": unsafe})
        assert bounced.headers["location"] == "/", unsafe
    bad = portal.get("/-/lang", params={"to": "fr"}, headers={"Accept": "application/json"})
    assert bad.status_code == 400 and bad.json()["error"]["param"] == "to"


def test_the_toggle_on_each_page_leads_back_to_that_page(portal: Portal):
    body = portal.get("/targets?year=2026", headers={"Accept-Language": "zh"}).text
    href = re.search(r'class="kc-lang" href="([^"]+)"', body).group(1).replace("&amp;", "&")
    response = portal.get(href)
    assert response.status_code == 303 and response.headers["location"] == "/targets?year=2026"


@pytest.mark.parametrize("route", ITEM_ROUTES)
def test_unknown_ids_are_404_html_or_json(portal: Portal, route):
    html = portal.get(f"/{route}/no-such-id", headers={"Accept": "text/html"})
    assert html.status_code == 404 and html.headers["content-type"].startswith("text/html")
    assert 'class="kc-header"' in html.text
    json = portal.get(f"/{route}/no-such-id", headers={"Accept": "application/json"})
    assert json.status_code == 404
    error = json.json()["error"]
    assert error["status"] == 404 and error["code"] == "not_found" and "no-such-id" in error["message"]


@pytest.mark.parametrize(
    ("query", "param"),
    [("year=abc", "year"), ("year=99999", "year"), ("page=0", "page"), ("page=-1", "page"), ("status=maybe", "status")],
)
def test_malformed_filters_are_400(portal: Portal, query, param):
    response = portal.get(f"/targets?{query}", headers={"Accept": "application/json"})
    assert response.status_code == 400
    assert response.json()["error"]["param"] == param
    assert portal.get(f"/targets?{query}").status_code == 400


ODD_VALUES = [
    "",
    " ",
    "'; drop table targets; --",
    "%",
    "\u0000",
    "<script>",
    "技术合同",
    "𠀀" * 50,
    "a" * 2000,
    "../..",
    "1e9",
]


@pytest.mark.parametrize("value", ODD_VALUES)
def test_no_input_produces_a_server_error(portal: Portal, value):
    encoded = quote(value, safe="")
    for name in ("jurisdiction", "policy", "year", "indicator", "agency", "status", "page", "lang", "q", "sort"):
        assert portal.get(f"/targets?{name}={encoded}").status_code < 500, name
    for route in ITEM_ROUTES:
        assert portal.get(f"/{route}/{encoded or 'x'}").status_code in (200, 400, 404), route
    assert portal.get(f"/releases/{encoded or 'x'}/{encoded or 'y'}").status_code in (400, 404, 414)
    assert portal.get(f"/-/lang?to=en&next={encoded}").status_code == 303


def test_other_methods_are_refused(portal: Portal, page_paths):
    for path in (page_paths["targets"], page_paths["policy"]):
        response = portal.request("POST", path)
        assert response.status_code == 405
        assert response.json()["error"]["code"] == "method_not_allowed"


def all_cards(portal: Portal, path: str) -> set[str]:
    """The ids of the target cards on every page of a listing, following its "next" links."""
    shown: set[str] = set()
    while path:
        body = portal.get(path).text
        found = re.findall(r'class="tb-name" id="card-([a-z0-9-]+)"', body)
        assert found and not shown & set(found), path
        shown |= set(found)
        following = re.search(r'<a rel="next" href="([^"]+)"', body)
        path = following.group(1).replace("&amp;", "&") if following else ""
    return shown


def test_targets_filters_agree_with_the_database(portal: Portal):
    with sqlite3.connect(portal.db) as conn:
        year, place, count = conn.execute(
            """select t.deadline_year, p.jurisdiction_id, count(*) from targets t join policies p on p.id = t.policy_id
               group by 1, 2 order by 3 desc limit 1"""
        ).fetchone()
        ids = {
            r[0]
            for r in conn.execute(
                "select t.id from targets t join policies p on p.id = t.policy_id where t.deadline_year = ? "
                "and p.jurisdiction_id = ?",
                (year, place),
            )
        }
        agency, agency_count = conn.execute(
            """select ma.agency_id, count(distinct t.id) from measure_agencies ma join targets t on t.measure_id =
               ma.measure_id group by 1 order by 2 desc limit 1"""
        ).fetchone()
    assert all_cards(portal, f"/targets?year={year}&jurisdiction={place}") == ids and len(ids) == count
    assert len(all_cards(portal, f"/targets?agency={agency}")) == agency_count
    assert f'<option value="{year}" selected>' in portal.get(f"/targets?year={year}").text


def test_each_target_names_its_agencies_lead_first_and_links_its_sentence(portal: Portal):
    with sqlite3.connect(portal.db) as conn:
        target_id, policy_id, quote_zh = conn.execute(
            """select t.id, t.policy_id, t.quote_zh from targets t
               where exists (select 1 from measure_agencies ma where ma.measure_id = t.measure_id and ma.role = 'lead')
               and exists (select 1 from measure_agencies ma where ma.measure_id = t.measure_id
                           and ma.role = 'responsible') order by t.id"""
        ).fetchone()
        agencies = [
            r[0]
            for r in conn.execute(
                """select a.name_zh from targets t join measure_agencies ma on ma.measure_id = t.measure_id
               join agencies a on a.id = ma.agency_id where t.id = ? order by ma.role = 'lead' desc, ma.position""",
                (target_id,),
            )
        ]
    body = portal.get(f"/targets/{target_id}?lang=zh").text
    positions = [body.index(f">{name}</a>") for name in agencies]
    assert positions == sorted(positions)
    assert quote_zh in body
    assert f'href="/policies/{policy_id}#t-{target_id}"' in body
    reader = portal.get(f"/policies/{policy_id}").text
    assert f'id="t-{target_id}"' in reader


def test_masked_figures_are_words_never_zero(portal: Portal):
    with sqlite3.connect(portal.db) as conn:
        target_id, figure = conn.execute("select id, figure_zh from targets where status = 'redacted'").fetchone()
    for lang, words in (("zh", "原文数字被遮蔽"), ("en", "masked in the source")):
        body = portal.get(f"/targets/{target_id}?lang={lang}").text
        amount = re.search(r'<strong class="amount">([^<]*)</strong>', body).group(1)
        assert amount == words
        assert figure in body  # and the masked figure as printed, for the record


def test_policy_reader_shows_outline_marks_and_translations(portal: Portal):
    with sqlite3.connect(portal.db) as conn:
        policy_id = conn.execute(
            "select policy_id from headings group by policy_id order by count(*) desc limit 1"
        ).fetchone()[0]
        headings = conn.execute("select ordinal, heading_en from headings where policy_id = ?", (policy_id,)).fetchall()
        measures = conn.execute(
            "select id, text_en from measures where policy_id = ? and text_start is not null", (policy_id,)
        ).fetchall()
        text = conn.execute("select text_zh from policies where id = ?", (policy_id,)).fetchone()[0]
    body = portal.get(f"/policies/{policy_id}?lang=en").text
    for ordinal, heading_en in headings:
        assert f'href="#sec-{ordinal}"' in body and f'id="sec-{ordinal}"' in body
        assert httpx_escape(heading_en) in body
    words = re.sub(r"<[^>]+>", "", body)  # a translation carries the marks of its sentences
    for measure_id, text_en in measures:
        assert f'id="m-{measure_id}"' in body and httpx_escape(text_en) in words
    text_part = re.sub(r'<span class="refs">.*?</span>', "", body.split('id="text-title"')[1])  # links to records
    visible = re.sub(r"<[^>]+>", "", text_part)
    for line in text.splitlines():
        assert httpx_escape(line.strip()) in httpx_escape(visible) or not line.strip()


def httpx_escape(text: str) -> str:
    from markupsafe import escape

    return str(escape(text))


def test_indicator_page_has_accessible_chart_and_a_table_row_per_target(portal: Portal):
    with sqlite3.connect(portal.db) as conn:
        indicator, n = conn.execute(
            # one point and one row per commitment: a restatement in the same document is not another target
            "select indicator_id, count(*) from targets where indicator_id is not null and restates_target_id is null "
            "group by 1 order by 2 desc"
        ).fetchone()
    body = portal.get(f"/indicators/{indicator}").text
    svg = body[body.index('<svg class="chart"') : body.index("</svg>", body.index('<svg class="chart"'))]
    assert 'role="group"' in svg and "<title" in svg and "<desc" in svg
    assert len(re.findall(r'<path class="point( masked)?" ', svg)) == n
    table = body[body.index('<table class="data-table chart-table">') : body.index("</table>")]
    assert table.count("<tr>") == n + 1


def test_data_dictionary_shows_every_column_in_both_languages(portal: Portal):
    schemas = load_schemas(ROOT / "schemas")
    for lang in ("zh", "en"):
        body = portal.get(f"/data-dictionary?lang={lang}").text
        for name, schema in schemas.items():
            assert f'id="table-{name}"' in body
            for field in schema.fields:
                assert f"<code>{field.name}</code>" in body
                described = field.description_zh if lang == "zh" else field.description
                assert str(inline_code(described)) in body, f"{name}.{field.name}"
            for column in schema.derived:
                assert f"<code>{column.name}</code>" in body


def test_downloads_lists_the_release_files_and_the_database(portal: Portal):
    from kechuang.serve.site.downloads import list_releases

    body = portal.get("/downloads").text
    for release in list_releases(ROOT / "dist" / "releases"):
        for file in release.files:
            assert f'href="{file.href}"' in body
    assert 'href="/kechuang.db"' in body
    assert portal.get("/kechuang.db").status_code == 200
    for name in load_schemas(ROOT / "schemas"):
        assert f'href="/kechuang/{name}.csv?_stream=on&amp;_size=max&amp;_dl=1"' in body
    assert portal.get("/kechuang/targets.csv?_stream=on&_size=max").status_code == 200


def test_datasette_pages_carry_the_site_chrome_and_toggle(portal: Portal):
    for path in ("/kechuang", "/kechuang/targets", "/kechuang/targets_detail?deadline_year=2026", "/no-such-page"):
        response = portal.get(path, headers={"Accept-Language": "en"})
        assert response.status_code in (200, 404), path
        assert 'class="kc-header"' in response.text and 'class="kc-footer"' in response.text, path
        assert 'class="skip-link"' in response.text and 'id="main"' in response.text, path
    table = portal.get("/kechuang/targets", headers={"Accept-Language": "en"})
    assert 'href="/-/lang?to=zh' in table.text
    vary = {part.strip().lower() for part in table.headers["vary"].split(",")}
    assert {"cookie", "accept-language"} <= vary


def test_lang_parameter_works_on_datasette_pages_without_becoming_a_filter(portal: Portal):
    plain = portal.get("/kechuang/targets.json?_shape=objects&_size=max").json()
    with_lang = portal.get("/kechuang/targets.json?_shape=objects&_size=max&lang=en").json()
    assert len(with_lang["rows"]) == len(plain["rows"]) > 0
    page = portal.get("/kechuang/targets?lang=en", headers={"Accept-Language": "zh"})
    assert page.status_code == 200 and "Skip to content" in page.text


def test_home_page_counts_agree_with_the_database(portal: Portal):
    body = portal.get("/?lang=en").text
    with sqlite3.connect(portal.db) as conn:
        for table, href in (("policies", "/policies"), ("targets", "/targets"), ("agencies", "/agencies")):
            n = conn.execute(f"select count(*) from {table}").fetchone()[0]
            assert f'<a href="{href}"><strong>{n}</strong>' in body, table
    assert 'action="/-/search"' in body and 'href="/api/v1/docs"' in body and 'href="/kechuang"' in body


# --- escaping: records that carry markup ---------------------------------------------------------


@pytest.fixture(scope="module")
def hostile_portal(sample_portal) -> Portal:
    """The test sample, where a target, agency, platform and indicator carry markup in their text
    (hostile.markup_rows), besides the script payloads in every table."""
    return sample_portal


@pytest.mark.parametrize(
    "path",
    [
        "/targets",
        "/targets/hostile-target",
        "/agencies",
        "/agencies/hostile-agency",
        "/platforms",
        "/platforms/hostile-platform",
        "/indicators",
        "/indicators/hostile-indicator",
        "/kechuang/agencies",
    ],
)
def test_markup_in_records_is_shown_as_text(hostile_portal: Portal, path):
    body = hostile_portal.get(path, headers={"Accept-Language": "en"}).text
    assert "<script>alert" not in body and "<img src=x" not in body
    assert "&lt;script&gt;alert(" in body


def test_markup_in_records_is_text_in_the_policy_reader(hostile_portal: Portal):
    with sqlite3.connect(hostile_portal.db) as conn:
        policy_id = conn.execute("select policy_id from targets where id = 'hostile-target'").fetchone()[0]
    body = hostile_portal.get(f"/policies/{policy_id}?lang=en").text
    assert "<script>alert" not in body and "&lt;script&gt;alert(" in body


@pytest.fixture(scope="module")
def portal_with_releases(tmp_path_factory, built_db: Path) -> Portal:
    """A portal serving a release from dist/releases/ (one release, the `latest` link and a staging folder):
    it finds the releases folder from the served database alone."""
    import shutil

    root = tmp_path_factory.mktemp("root")
    releases = root / "dist" / "releases"
    (releases / "2026.11.0").mkdir(parents=True)
    shutil.copy(built_db, releases / "2026.11.0" / "kechuang.db")
    (releases / "2026.11.0" / "kechuang-2026.11.0.zip").write_bytes(b"PK\x05\x06" + b"\x00" * 18)
    (releases / "latest").symlink_to("2026.11.0", target_is_directory=True)
    (releases / ".2026.11.1.staging").mkdir()
    (releases / ".2026.11.1.staging" / "kechuang.db").write_bytes(b"half written")
    return serve_in_process(releases / "2026.11.0" / "kechuang.db")


def test_downloads_lists_and_serves_each_release_file(portal_with_releases: Portal):
    body = portal_with_releases.get("/downloads").text
    assert 'href="/releases/2026.11.0/kechuang.db"' in body
    assert 'href="/releases/2026.11.0/kechuang-2026.11.0.zip"' in body
    assert "/releases/latest/" not in body and "staging" not in body
    zipped = portal_with_releases.get("/releases/2026.11.0/kechuang-2026.11.0.zip")
    assert zipped.status_code == 200 and zipped.content.startswith(b"PK\x05\x06")
    assert "attachment" in zipped.headers["content-disposition"]
    assert portal_with_releases.get("/releases/latest/kechuang.db").status_code == 200
    for path in (
        "/releases/2026.11.0/nope.csv",
        "/releases/.2026.11.1.staging/kechuang.db",
        "/releases/2026.11.0/..%2F..%2F..%2Fpyproject.toml",
        "/releases/..%2Fdatasets/policies.csv",
    ):
        assert portal_with_releases.get(path).status_code == 404, path
