"""What search engines, dataset catalogues and link previews read (in process, on a real build): the
description, Open Graph and hreflang of every page, robots.txt, sitemap.xml, the DCAT catalogue and the
downloads page's schema.org Dataset (parsed as RDF by rdflib), and the "report a problem" link."""

from __future__ import annotations

import html
import re
import shutil
import sqlite3
import xml.etree.ElementTree as ET
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
import rdflib
from rdflib.namespace import RDF

from conftest import InProcessPortal, serve_in_process

SCHEMA = rdflib.Namespace("https://schema.org/")
DCAT = rdflib.Namespace("http://www.w3.org/ns/dcat#")  # open: dcat:version is DCAT 3, newer than rdflib's
SITEMAP = "{http://www.sitemaps.org/schemas/sitemap/0.9}"
XHTML = "{http://www.w3.org/1999/xhtml}"


def first(db: Path, sql: str) -> str:
    with sqlite3.connect(db) as conn:
        return conn.execute(sql).fetchone()[0]


def record_pages(db: Path) -> dict[str, str]:
    return {
        "target": "/targets/" + first(db, "select id from targets order by id"),
        "policy": "/policies/" + first(db, "select policy_id from targets order by id"),
        "indicator": "/indicators/" + first(db, "select indicator_id from targets where indicator_id is not null"),
        "agency": "/agencies/" + first(db, "select agency_id from measure_agencies order by agency_id"),
        "platform": "/platforms/" + first(db, "select platform_id from platform_mentions"),
        "fund": "/funds/" + first(db, "select fund_id from fund_mentions"),
        "event": "/events/" + first(db, "select event_id from event_mentions"),
    }


@pytest.fixture(scope="module")
def released(tmp_path_factory, built_db: Path) -> InProcessPortal:
    """The portal serving a published release (dist/releases/<version>/), found from the database alone."""
    releases = tmp_path_factory.mktemp("discovery") / "dist" / "releases"
    (releases / "2026.12.0").mkdir(parents=True)
    shutil.copy(built_db, releases / "2026.12.0" / "kechuang.db")
    (releases / "2026.12.0" / "kechuang-2026.12.0.zip").write_bytes(b"PK\x05\x06" + b"\x00" * 18)
    return serve_in_process(releases / "2026.12.0" / "kechuang.db")


def head_tags(body: str) -> dict[str, str]:
    head = body[: body.index("</head>")]
    tags = {m[0]: html.unescape(m[1]) for m in re.findall(r'<meta (?:name|property)="([^"]+)" content="([^"]*)"', head)}
    for lang, href in re.findall(r'<link rel="alternate" hreflang="([^"]+)" href="([^"]+)"', head):
        tags["hreflang:" + lang] = html.unescape(href)
    return tags


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_every_page_has_a_description_open_graph_and_hreflang(portal: InProcessPortal, lang):
    paths = ["/", "/targets?year=2030", "/downloads", "/kechuang", *record_pages(portal.db).values()]
    for path in paths:
        body = portal.get(path, cookies={"kechuang_lang": lang}).text
        tags = head_tags(body)
        title = html.unescape(re.search(r"<title>(.*?) · ", body).group(1)).strip()
        assert tags["description"] and tags["og:description"] == tags["description"], path
        assert tags["og:title"] == title and tags["og:type"] == "website", path
        assert tags["og:locale"] == {"zh": "zh_CN", "en": "en_US"}[lang]
        assert tags["og:url"].startswith(portal.base_url + path.split("?")[0]), path
        assert parse_qs(urlsplit(tags["og:url"]).query)["lang"] == [lang]
        for hreflang, code in (("zh-Hans", "zh"), ("en", "en")):
            assert parse_qs(urlsplit(tags["hreflang:" + hreflang]).query)["lang"] == [code], path
        assert "lang=" not in tags["hreflang:x-default"]
        if "/targets/" in path:  # a record's own words describe it
            with sqlite3.connect(portal.db) as conn:
                quote = conn.execute(
                    f"select quote_{lang} from targets where id = ?", [path.split("/")[-1]]
                ).fetchone()[0]
            assert tags["description"][:20] == quote[:20], path
        # the alternate really is the page in the other language
        other = {"zh": "en", "en": "zh-Hans"}[lang]
        assert f'<html lang="{other}"' in portal.get(tags["hreflang:" + other]).text, path


def test_robots_keeps_crawlers_off_sql_and_search(portal: InProcessPortal):
    response = portal.get("/robots.txt")
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/plain")
    disallowed = re.findall(r"^Disallow: (\S+)$", response.text, re.M)
    for path in ("/kechuang?sql=", "/-/search", "/api/v1/search"):
        assert path in disallowed
    assert f"Sitemap: {portal.base_url}/sitemap.xml" in response.text


def test_sitemap_lists_every_page_in_both_languages(portal: InProcessPortal):
    response = portal.get("/sitemap.xml")
    assert response.status_code == 200 and "xml" in response.headers["content-type"]
    root = ET.fromstring(response.content)
    locs = [u.find(SITEMAP + "loc").text for u in root.iter(SITEMAP + "url")]
    assert len(locs) == len(set(locs))
    paths = {urlsplit(loc).path for loc in locs}
    for path in ["/", "/targets", "/about", "/downloads", "/data-dictionary", *record_pages(portal.db).values()]:
        for lang in ("zh", "en"):
            assert f"{portal.base_url}{path}?lang={lang}" in locs, path
    with sqlite3.connect(portal.db) as conn:
        targets = conn.execute("select count(*) from targets").fetchone()[0]
    assert sum(p.startswith("/targets/") for p in paths) == targets
    first_url = next(root.iter(SITEMAP + "url"))
    assert {link.get("hreflang") for link in first_url.iter(XHTML + "link")} == {"zh-Hans", "en", "x-default"}
    # one page of each type answers
    for prefix in ("/targets/", "/policies/", "/indicators/", "/agencies/", "/platforms/", "/funds/", "/events/"):
        loc = next(loc for loc in locs if urlsplit(loc).path.startswith(prefix))
        assert portal.get(loc).status_code == 200, loc


def test_the_dcat_catalogue_points_at_the_release_files(released: InProcessPortal):
    response = released.get("/catalog.jsonld")
    assert response.status_code == 200 and response.headers["content-type"].startswith("application/ld+json")
    graph = rdflib.Graph().parse(data=response.text, format="json-ld")
    datasets = set(graph.subjects(RDF.type, DCAT.Dataset))
    assert len(datasets) == 1
    (dataset,) = datasets
    assert str(graph.value(dataset, DCAT.version)) == "2026.12.0"
    urls = {str(graph.value(d, DCAT.downloadURL)) for d in graph.objects(dataset, DCAT.distribution)}
    base = released.base_url + "/releases/2026.12.0/"
    assert urls == {base + "kechuang.db", base + "kechuang-2026.12.0.zip"}
    for url in urls:
        assert released.head(url).status_code == 200, url
    downloads = released.get("/downloads").text
    for url in urls:
        assert f'href="{url.removeprefix(released.base_url)}"' in downloads


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_the_downloads_page_carries_schema_org_dataset_markup(released: InProcessPortal, lang):
    body = released.get("/downloads", cookies={"kechuang_lang": lang}).text
    (script,) = re.findall(r'<script type="application/ld\+json">(.*?)</script>', body, re.S)
    graph = rdflib.Graph().parse(data=script, format="json-ld")
    (dataset,) = graph.subjects(RDF.type, SCHEMA.Dataset)
    assert str(graph.value(dataset, SCHEMA.version)) == "2026.12.0"
    assert str(graph.value(dataset, SCHEMA.inLanguage)) == {"zh": "zh-Hans", "en": "en"}[lang]
    urls = {str(graph.value(d, SCHEMA.contentUrl)) for d in graph.objects(dataset, SCHEMA.distribution)}
    assert urls == {released.base_url + "/releases/2026.12.0/" + n for n in ("kechuang.db", "kechuang-2026.12.0.zip")}
    for url in urls:
        assert released.head(url).status_code == 200, url


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_every_record_page_links_to_report_a_problem(portal: InProcessPortal, lang):
    version = portal.get("/", cookies={"kechuang_lang": lang}).headers["x-data-release"]
    for kind, path in record_pages(portal.db).items():
        body = portal.get(path, cookies={"kechuang_lang": lang}).text
        found = re.search(r'<p class="kc-report"><a href="(mailto:[^"]+)"', body)
        assert found, f"{kind} {path} has no report link"
        link = urlsplit(html.unescape(found.group(1)))
        assert link.path == "data@kechuang.example"  # metadata.yml plugins: kechuang: report_problem
        fields = parse_qs(link.query)
        title = html.unescape(re.search(r"<title>(.*?) · ", body).group(1)).strip()
        assert title in fields["subject"][0] and version in fields["subject"][0], kind
        assert portal.base_url + path in fields["body"][0], kind
    assert 'class="kc-report"' not in portal.get("/targets").text


def test_json_ld_text_cannot_close_its_script_element():
    from kechuang.serve.site.discovery import json_ld_script

    block = str(json_ld_script({"name": "</script><script>alert(1)</script> & more"}))
    assert block.count("</script>") == 1 and block.endswith("</script>")
    assert "\\u003c/script\\u003e" in block and "\\u0026" in block


def test_report_channel_is_email_or_issue_tracker_or_none():
    from kechuang.serve.site.discovery import report_problem_href

    mail = report_problem_href({"report_problem": {"email": "a@b.example"}}, "目标 & x", "line 1\nline 2")
    assert mail.startswith("mailto:a@b.example?subject=") and "%E7%9B%AE" in mail and "%26" in mail and "+" not in mail
    tracker = report_problem_href({"report_problem": {"issue_url": "https://git.example/issues/new"}}, "s", "b")
    assert tracker == "https://git.example/issues/new?title=s&body=b"
    assert report_problem_href({}, "s", "b") is None


def test_schema_descriptions_show_code_not_backticks_and_stay_escaped():
    from kechuang.serve.site.markdown import inline_code, without_code_marks

    assert str(inline_code("<b>e.g. `wuhan`</b>")) == "&lt;b&gt;e.g. <code>wuhan</code>&lt;/b&gt;"
    assert without_code_marks("e.g. `wuhan`.") == "e.g. wuhan."
