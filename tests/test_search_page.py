"""The search page /-/search: grouped by type, bilingual, highlighted, escaped, inside the site chrome."""

from __future__ import annotations

import re
import sqlite3
from html.parser import HTMLParser
from pathlib import Path

import pytest

from conftest import serve_in_process
from kechuang.model.search import RECORDS, TERMS, shard_names


class Sections(HTMLParser):
    """The result groups of the page: data-type of each <section>, and the links of its results."""

    def __init__(self) -> None:
        super().__init__()
        self.groups: list[str] = []
        self.links: dict[str, list[str]] = {}
        self.marks = 0

    def handle_starttag(self, tag, attrs):
        attributes = dict(attrs)
        if tag == "section" and "data-type" in attributes:
            self.groups.append(attributes["data-type"] or "")
            self.links[self.groups[-1]] = []
        elif tag == "a" and self.groups and attributes.get("href", "").startswith("/kechuang/"):
            self.links[self.groups[-1]].append(attributes["href"])
        elif tag == "mark":
            self.marks += 1


def parse(html: str) -> Sections:
    parser = Sections()
    parser.feed(html)
    return parser


def test_page_groups_results_by_type_with_site_chrome(portal):
    response = portal.get("/-/search", params={"q": "技术经理人"})
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    page = parse(response.text)
    api = portal.get("/api/v1/search", params={"q": "技术经理人", "limit": 60}).json()
    types_in_order = list(dict.fromkeys(r["type"] for r in api["results"]))
    assert page.groups == types_in_order
    for result in api["results"]:
        assert result["url"] in page.links[result["type"]]
    assert page.marks >= len(api["results"])
    assert '<footer class="ft">' in response.text  # the site's chrome wraps the page
    assert f"共 {api['total']} 条结果" in response.text  # the visitor's language only
    assert f"{api['total']} results" not in response.text
    english = portal.get("/-/search", params={"q": "技术经理人", "lang": "en"}).text
    assert f"{api['total']} results" in english and "条结果" not in english


def test_page_shows_both_languages(portal):
    response = portal.get("/-/search", params={"q": "天使基金"})
    assert 'lang="zh"' in response.text and 'lang="en"' in response.text
    assert "<mark>天使基金</mark>" in response.text
    assert re.search(r"<mark>[Aa]ngel</mark>", response.text)


@pytest.mark.parametrize("q", ['<script>alert("x")</script>', '"><img src=x onerror=alert(1)>', "基金</mark><b>"])
def test_query_text_is_escaped_in_the_page(portal, q):
    response = portal.get("/-/search", params={"q": q})
    assert response.status_code == 200
    assert "<script>alert" not in response.text and "<img src=x" not in response.text
    assert "</mark><b>" not in response.text


def test_page_cache_follows_the_readers_language(portal):
    """The site's chrome around the results is in the reader's language, so the ETag differs by language."""
    english = portal.get("/-/search", params={"q": "人才"}, headers={"Accept-Language": "en"})
    chinese = portal.get("/-/search", params={"q": "人才"}, headers={"Accept-Language": "zh-CN"})
    assert english.status_code == chinese.status_code == 200
    assert english.headers["etag"] != chinese.headers["etag"]
    assert "accept-language" in english.headers["vary"].lower() and "cookie" in english.headers["vary"].lower()
    again = portal.get(
        "/-/search", params={"q": "人才"}, headers={"Accept-Language": "en", "If-None-Match": english.headers["etag"]}
    )
    assert again.status_code == 304


def test_page_without_query_is_a_form(portal):
    response = portal.get("/-/search")
    assert response.status_code == 200
    assert 'name="q"' in response.text and "kc-total" not in response.text


@pytest.mark.parametrize(("params", "status"), [({"q": "x" * 1001}, 400), ({"q": "人才", "type": "nope"}, 400)])
def test_page_reports_bad_input_without_failing(portal, params, status):
    response = portal.get("/-/search", params=params)
    assert response.status_code == status
    assert 'role="alert"' in response.text and response.headers["cache-control"] == "no-store"


def test_page_type_filter_and_next_page(portal):
    response = portal.get("/-/search", params={"q": "创新", "type": "targets", "limit": "5"})
    page = parse(response.text)
    assert page.groups == ["targets"] and len(page.links["targets"]) == 5
    assert 'rel="next"' in response.text and "offset=5" in response.text


def test_a_database_without_search_index_answers_503(tmp_path: Path, built_db: Path):
    """An older database (no search tables) gets a clear 503, never a 500."""
    old = tmp_path / "kechuang.db"
    old.write_bytes(built_db.read_bytes())
    conn = sqlite3.connect(old)
    for name in [*shard_names(conn), RECORDS, TERMS]:
        conn.execute(f"drop table [{name}]")
    conn.commit()
    conn.close()
    portal = serve_in_process(old)
    api = portal.get("/api/v1/search", params={"q": "人才"})
    assert api.status_code == 503 and api.json()["error"]["code"] == "search_unavailable"
    assert portal.get("/-/search", params={"q": "人才"}).status_code == 503


@pytest.mark.browser
def test_search_from_the_form_in_a_browser(live_portal, chromium):
    page = chromium.new_page()
    page.goto(live_portal.base_url + "/-/search")
    page.fill(".kc-search input[name=q]", "科學城")
    page.click(".kc-search button[type=submit]")
    page.wait_for_selector("section.kc-group")
    assert "q=" in page.url
    groups = page.eval_on_selector_all("section.kc-group", "els => els.map(e => e.dataset.type)")
    assert "platforms" in groups
    marked = page.eval_on_selector_all("mark", "els => els.map(e => e.textContent)")
    assert "科学城" in marked
    page.click("section.kc-group[data-type=platforms] a.kc-page")
    page.wait_for_load_state()
    assert "/platforms/" in page.url  # the platform's page of the site, not its row


def test_search_plugin_only_wires_routes():
    """plugins/search.py is a thin adapter: the search logic lives in kechuang.serve.search (architecture rule)."""
    source = (Path(__file__).resolve().parents[1] / "plugins" / "search.py").read_text(encoding="utf-8")
    assert "def register_routes" in source and "execute" not in source and source.count("\n") < 15


def test_page_gives_the_answer_and_facet_links_that_narrow(portal):
    """A question's answer above the results (figure as written, link to the sentence); a place facet's link
    narrows the results to that place with the count it showed."""
    q = "武汉技术合同成交额是多少"
    answer = portal.get("/api/v1/search", params={"q": q}).json()["answer"]
    page = portal.get("/-/search", params={"q": q}).text
    assert f'class="kc-answer" data-place="{answer["place"]["id"]}"' in page
    for target in answer["targets"]:
        assert f'data-target="{target["id"]}"' in page and target["figure_zh"] in page
        assert f'href="{target["source_url"]}"' in page
    assert 'class="kc-masked"' in page  # a masked figure is said to be masked
    facets = portal.get("/api/v1/search", params={"q": "高新技术企业"}).json()["facets"]
    huangshi = next(v for v in facets["place"] if v["value"] == "huangshi")
    page = portal.get("/-/search", params={"q": "高新技术企业"}).text
    link = re.search(r'<a href="([^"]+)" data-value="huangshi">[^<]*\((\d+)\)</a>', page)
    assert link and int(link.group(2)) == huangshi["count"]
    narrowed = portal.get(link.group(1).replace("&amp;", "&")).text
    assert 'aria-current="true"' in narrowed
    assert f"{huangshi['count']} results" in narrowed or f"共 {huangshi['count']} 条结果" in narrowed


class Results(HTMLParser):
    """Each result of the page: its id, the link of its title (its page) and its data-view link (its row)."""

    def __init__(self) -> None:
        super().__init__()
        self.results: list[dict[str, str]] = []

    def handle_starttag(self, tag, attrs):
        attributes = dict(attrs)
        if tag == "article" and "kc-result" in (attributes.get("class") or ""):
            self.results.append({"key": f"{attributes.get('data-type')}/{attributes.get('data-id')}"})
        elif tag == "a" and self.results:
            kind = {"kc-page": "page", "kc-data-view": "data"}.get(attributes.get("class") or "")
            if kind:
                self.results[-1][kind] = attributes.get("href") or ""


@pytest.mark.parametrize("q", ["人工智能", "技术经理人", "黄石"])
def test_every_result_links_to_its_page_and_to_its_row(portal, q):
    api = portal.get("/api/v1/search", params={"q": q, "limit": 60}).json()["results"]
    parser = Results()
    parser.feed(portal.get("/-/search", params={"q": q}).text)
    shown = {r["key"]: r for r in parser.results}
    assert len(shown) == len(api) > 0
    for result in api:
        assert shown[f"{result['type']}/{result['id']}"]["page"] == result["page_url"], result
        assert shown[f"{result['type']}/{result['id']}"]["data"] == result["url"], result


@pytest.mark.parametrize(
    ("lang", "title", "words", "absent"),
    [
        ("zh", "人工智能 · 搜索 · 科创开放数据", ["全部类型", "<h2>目标</h2>", "数据视图", "共 "], ["All types", "data view"]),
        ("en", "人工智能 · Search · Kechuang Open Data", ["All types", "<h2>Targets</h2>", "data view", " results"],
         ["全部类型", "数据视图", "<h2>目标</h2>"]),
    ],
)
def test_the_page_speaks_the_readers_language(portal, lang, title, words, absent):
    response = portal.get("/-/search", params={"q": "人工智能"}, cookies={"kechuang_lang": lang})
    assert f"<title>{title}</title>" in response.text
    assert response.headers["content-language"] == {"zh": "zh-Hans", "en": "en"}[lang]
    for word in words:
        assert word in response.text, word
    for word in absent:
        assert word not in response.text, word


@pytest.mark.parametrize(
    ("params", "status", "zh", "en"),
    [
        ({"q": "zzqqxxjj"}, 200, "没有找到与“zzqqxxjj”相关的结果", "Nothing found for “zzqqxxjj”"),
        ({"q": "人才", "type": "nope"}, 400, "“type”的取值无效", "the value of “type” is not valid"),
        ({"q": "x" * 1001}, 400, "最多 1000 个字符", "at most 1000 characters"),
    ],
)
def test_empty_and_error_states_are_in_the_readers_language(portal, params, status, zh, en):
    for lang, words, other in (("zh", zh, en), ("en", en, zh)):
        response = portal.get("/-/search", params=params, cookies={"kechuang_lang": lang})
        assert response.status_code == status
        assert words in response.text and other not in response.text, lang


@pytest.mark.parametrize("path", ["/targets", "/kechuang/targets"])
def test_every_page_has_a_labelled_search_box_in_its_header_that_works_without_script(portal, path):
    """A portal page and a Datasette page: a GET form to /-/search in the header, its box labelled."""
    html = portal.get(path, cookies={"kechuang_lang": "en"}).text
    header = html[html.index('<header class="kc-header"') : html.index("</header>")]
    form = re.search(r'<form class="kc-find" action="([^"]+)" method="get" role="search" aria-label="([^"]+)">', header)
    assert form and form.group(1) == "/-/search" and form.group(2) == "Search the site"
    assert '<label class="visually-hidden" for="kc-find-q">Search the site</label>' in header
    assert 'id="kc-find-q" name="q"' in header
    assert portal.get(form.group(1), params={"q": "光谷"}).status_code == 200  # what submitting it asks
