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
    assert '<footer class="ft">' in response.text  # Datasette's base.html wraps the page
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
    page.fill("input[name=q]", "科學城")
    page.click("button[type=submit]")
    page.wait_for_selector("section.kc-group")
    assert "q=" in page.url
    groups = page.eval_on_selector_all("section.kc-group", "els => els.map(e => e.dataset.type)")
    assert "platforms" in groups
    marked = page.eval_on_selector_all("mark", "els => els.map(e => e.textContent)")
    assert "科学城" in marked
    page.click("section.kc-group a")
    page.wait_for_load_state()
    assert "/kechuang/" in page.url


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
