"""What search engines, dataset catalogues and link previews read (in process, on a real build): the
description, Open Graph and hreflang of every page, robots.txt, sitemap.xml, the DCAT catalogue and the
downloads page's schema.org Dataset (parsed as RDF by rdflib), and the "report a problem" link."""

from __future__ import annotations

import html
import json
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
        "glossary term": "/glossary/" + first(db, "select id from glossary order by id"),
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
        # the alternate really is the page in the other language
        other = {"zh": "en", "en": "zh-Hans"}[lang]
        assert f'<html lang="{other}"' in portal.get(tags["hreflang:" + other]).text, path


CJK = re.compile(r"[\u4e00-\u9fff]")


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_each_page_describes_itself_in_its_language(portal: InProcessPortal, lang):
    """No two page types share a description; a record's names the record, a target's its figure, place and
    year; Chinese pages are described in Chinese and English pages in English."""
    records = record_pages(portal.db)
    paths = {
        "home": "/",
        **{name: f"/{name}" for name in ("targets", "policies", "indicators", "agencies", "platforms", "funds")},
        **{name: f"/{name}" for name in ("events", "about", "methodology", "data-dictionary", "downloads")},
        "filtered targets": "/targets?year=2030",
        "api docs": "/api/v1/docs",
        "datasette database": "/kechuang",
        "datasette table": "/kechuang/targets_detail",
        **records,
    }
    site_description = {"zh": "武汉都市圈科技创新政策承诺了什么", "en": "What the science and technology innovation"}
    seen: dict[str, str] = {}
    for name, path in paths.items():
        body = portal.get(path, cookies={"kechuang_lang": lang}).text
        description = head_tags(body)["description"]
        assert description not in seen.values(), (name, [k for k, v in seen.items() if v == description])
        seen[name] = description
        chinese = len(CJK.findall(description)) / len(description)
        if name != "glossary term":  # a term is described in both languages on purpose
            assert chinese > 0.3 if lang == "zh" else chinese < 0.05, (name, description)
        if not name.startswith(("home", "datasette")):  # the portal's own pages say what they are
            assert site_description[lang] not in description, (name, "the generic fallback", description)
        if name in records:
            title = html.unescape(re.search(r"<title>(.*?) · ", body).group(1)).strip()
            assert title[:30] in description, (name, description)
    with sqlite3.connect(portal.db) as conn:
        conn.row_factory = sqlite3.Row
        target = conn.execute(
            "select t.*, j.name_zh, j.name_en from targets t join policies p on p.id = t.policy_id "
            "join jurisdictions j on j.id = p.jurisdiction_id where t.id = ?",
            [records["target"].rsplit("/", 1)[1]],
        ).fetchone()
    place, figure = target[f"name_{lang}"], target["figure_zh"] if lang == "zh" else None
    assert place in seen["target"] and str(target["deadline_year"]) in seen["target"]
    if figure and target["status"] != "redacted":
        assert figure in seen["target"]


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


def report_links(body: str) -> list[dict[str, list[str]]]:
    """The links of the page's "report a problem" paragraphs, as (scheme:path, query fields)."""
    out = []
    for paragraph in re.findall(r'<p class="kc-report[^"]*">(.*?)</p>', body, re.S):
        for href in re.findall(r'href="([^"]+)"', paragraph):
            link = urlsplit(html.unescape(href))
            out.append({"to": [f"{link.scheme}:{link.netloc}{link.path}"], **parse_qs(link.query)})
    return out


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_every_record_page_links_to_report_a_problem(portal: InProcessPortal, lang):
    version = portal.get("/", cookies={"kechuang_lang": lang}).headers["x-data-release"]
    for kind, path in record_pages(portal.db).items():
        body = portal.get(path, cookies={"kechuang_lang": lang}).text
        main = body[body.index("<main") : body.index("</main>")]
        found = report_links(main[main.rindex("</article>") if kind == "policy" else 0 :])
        assert len(found) == 1, f"{kind} {path} has no single report link"
        (fields,) = found
        assert fields["to"] == ["mailto:data@kechuang.example"]  # metadata.yml plugins: kechuang: report_problem
        title = html.unescape(re.search(r"<title>(.*?) · ", body).group(1)).strip()
        record_id = path.rsplit("/", 1)[1]
        subject, text = fields["subject"][0], fields["body"][0]
        assert title in subject and f"{record_id}" in subject and version in subject, (kind, subject)
        assert f"{portal.base_url}{path}?lang={lang}" in text and title in text and version in text, kind
    assert 'class="kc-report' not in portal.get("/targets").text


def test_each_measure_in_the_reader_has_its_own_report_link(portal: InProcessPortal):
    path = record_pages(portal.db)["policy"]
    with sqlite3.connect(portal.db) as conn:
        measures = [r[0] for r in conn.execute("select id from measures where policy_id = ?", [path.rsplit("/", 1)[1]])]
    found = report_links(portal.get(path, cookies={"kechuang_lang": "zh"}).text)
    for measure in measures:
        (fields,) = [f for f in found if f"#m-{measure}\n" in f["body"][0]]
        assert f"（{measure}）" in fields["subject"][0]


def test_the_report_channel_can_be_an_issue_tracker_as_well(tmp_path, built_db: Path):
    """metadata.yml may name an issue tracker beside (or instead of) the e-mail: both links render, prefilled."""
    db = tmp_path / "kechuang.db"
    shutil.copy(built_db, db)
    with sqlite3.connect(db) as conn:
        portal_meta = json.loads(conn.execute("select value from _meta where key = 'portal'").fetchone()[0])
        channel = {"email": "fix@kechuang.example", "issue_url": "https://git.example/kc/data/issues/new"}
        portal_meta["plugins"] = {"kechuang": {"report_problem": channel}}
        conn.execute("update _meta set value = ? where key = 'portal'", [json.dumps(portal_meta)])
    served = serve_in_process(db)
    path = record_pages(db)["target"]
    for lang, labels in (("zh", ["发送电子邮件", "在问题跟踪系统提交"]), ("en", ["by e-mail", "on the issue tracker"])):
        body = served.get(path, cookies={"kechuang_lang": lang}).text
        paragraph = re.search(r'<p class="kc-report">(.*?)</p>', body, re.S).group(1)
        assert re.findall(r">([^<]+)</a>", paragraph) == labels
        mail, tracker = report_links(body)
        assert mail["to"] == ["mailto:fix@kechuang.example"]
        assert tracker["to"] == ["https:git.example/kc/data/issues/new"]
        assert path.rsplit("/", 1)[1] in tracker["title"][0] and served.base_url + path in tracker["body"][0]


def test_json_ld_text_cannot_close_its_script_element():
    from kechuang.serve.site.discovery import json_ld_script

    block = str(json_ld_script({"name": "</script><script>alert(1)</script> & more"}))
    assert block.count("</script>") == 1 and block.endswith("</script>")
    assert "\\u003c/script\\u003e" in block and "\\u0026" in block


def test_report_channel_is_email_or_issue_tracker_or_none():
    from kechuang.serve.site.discovery import report_links

    (mail,) = report_links({"report_problem": {"email": "a@b.example"}}, "目标 & x", "line 1\nline 2")
    href = mail["href"]
    assert href.startswith("mailto:a@b.example?subject=") and "%E7%9B%AE" in href and "%26" in href and "+" not in href
    (tracker,) = report_links({"report_problem": {"issue_url": "https://git.example/issues/new"}}, "s", "b")
    assert tracker == {"kind": "issue_url", "href": "https://git.example/issues/new?title=s&body=b"}
    gitlab = "https://gitlab.example/x/-/issues/new?issue[title]={title}&issue[description]={body}"
    (tracker,) = report_links({"report_problem": {"issue_url": gitlab}}, "a&b", "c d")
    assert tracker["href"] == "https://gitlab.example/x/-/issues/new?issue[title]=a%26b&issue[description]=c%20d"
    assert report_links({}, "s", "b") == []


def test_schema_descriptions_show_code_not_backticks_and_stay_escaped():
    from kechuang.serve.site.markdown import inline_code, without_code_marks

    assert str(inline_code("<b>e.g. `wuhan`</b>")) == "&lt;b&gt;e.g. <code>wuhan</code>&lt;/b&gt;"
    assert without_code_marks("e.g. `wuhan`.") == "e.g. wuhan."


@pytest.mark.parametrize(
    ("lang", "headings", "count"),
    [
        ("zh", ["收录哪些文件", "英译由谁完成", "发现错误与更正"], "目前共 {n} 份"),
        ("en", ["Which documents are included", "Who translates", "Reporting mistakes and corrections"], "There are {n} so far"),
    ],
)
def test_the_methodology_says_how_documents_are_chosen_translated_and_corrected(
    portal: InProcessPortal, lang, headings, count
):
    body = portal.get("/methodology", cookies={"kechuang_lang": lang}).text
    for heading in headings:
        assert f">{heading}</h2>" in body, heading
    with sqlite3.connect(portal.db) as conn:
        documents = conn.execute("select count(*) from policies").fetchone()[0]
    words = {5: "five"}  # the English page spells the number out: a new document means a new sentence
    assert count.format(n=documents if lang == "zh" else words.get(documents, documents)) in body
    for link in re.findall(r'href="(/[^"#]*)"', body[body.index("<main") :]):  # the withdrawn table, downloads
        assert portal.get(link).status_code == 200, link
