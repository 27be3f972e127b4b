"""Errors a reader meets, in the reader's language (issue 14, audit items 7, 8, 9 and 16), on the portal's
Datasette in process (a real build): the request guard's refusals as the site's page for a browser and as
JSON for clients of data; page errors worded from the catalogue; an address that names no page answered
with the site's 404 and its nearest pages; Datasette's own 404s and chrome in Chinese; search boxes that
cannot submit an address the guard refuses."""

from __future__ import annotations

import html
import re
import sqlite3

import pytest

from conftest import InProcessPortal as Portal
from kechuang.serve.search.routes import MAX_QUERY_CHARS
from kechuang.serve.security.guard import MAX_QUERY_BYTES, check_request
from kechuang.serve.site import limits, routes

PAGE = {"Accept": "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"}
JSON = {"Accept": "application/json"}
CJK = "科"


def html_lang(body: str) -> str:
    return re.search(r'<html lang="([^"]+)"', body).group(1)


def message_of(body: str) -> tuple[str, str]:
    """The language and text of the error page's message."""
    found = re.search(r'<p class="kc-error-message" lang="([^"]+)"><code>\d+</code> (.*?)</p>', body, re.S)
    assert found, body[:2000]
    return found.group(1), found.group(2)


def test_a_full_search_box_never_makes_an_address_the_guard_refuses(portal: Portal):
    chars = limits.search_box_chars()
    assert 0 < chars <= MAX_QUERY_CHARS
    query = "q=" + "".join(f"%{b:02X}" for b in (CJK * chars).encode())  # what a browser submits
    assert len(query) + limits.OTHER_FIELDS_BYTES - 2 <= MAX_QUERY_BYTES
    scope = {"type": "http", "method": "GET", "path": "/-/search", "raw_path": b"/-/search", "headers": []}
    assert check_request({**scope, "query_string": query.encode()}) is None
    body = portal.get("/", headers=PAGE).text
    boxes = re.findall(r'<input type="search" id="(kc-find-q|home-q)"[^>]*maxlength="(\d+)"', body)
    assert {name for name, _ in boxes} == {"kc-find-q", "home-q"} and {int(n) for _, n in boxes} == {chars}


def test_guard_refusals_are_the_sites_page_for_browsers_and_json_for_clients(portal: Portal):
    long = "/-/search?q=" + CJK * (MAX_QUERY_BYTES // 9 + 10)
    english = portal.get(long + "&lang=en", headers=PAGE)
    assert english.status_code == 414 and english.headers["content-type"].startswith("text/html")
    assert html_lang(english.text) == "en" and message_of(english.text)[0] == "en"
    assert "script-src 'self'" in english.headers["content-security-policy"]
    chinese = portal.get(long, headers=PAGE, cookies={"kechuang_lang": "zh"})
    assert chinese.status_code == 414 and html_lang(chinese.text) == "zh-Hans"
    assert message_of(chinese.text) == ("zh-Hans", "网址超出了本站可读取的长度。")
    assert 'href="/-/lang?to=en&amp;next=%2F-%2Fsearch"' in chinese.text  # the toggle drops the refused query
    for path, headers in ((long, JSON), (long, {}), ("/api/v1/search?q=" + CJK * 1000, PAGE)):
        data = portal.get(path, headers=headers)
        assert data.status_code == 414 and data.json()["error"]["code"] == "uri_too_long", path
    sorted_twice = portal.get("/kechuang/units?_sort=id&_sort_desc=id&lang=zh", headers=PAGE)
    assert sorted_twice.status_code == 400 and message_of(sorted_twice.text)[1] == "网址中“_sort_desc”的取值无法使用。"


def test_the_language_toggle_refuses_an_unknown_language_as_a_page_or_as_json(portal: Portal):
    page = portal.get("/-/lang?to=xx", headers={**PAGE, "Accept-Language": "en"})
    assert page.status_code == 400 and message_of(page.text) == (
        "en",
        "The language must be zh (Chinese) or en (English).",
    )
    data = portal.get("/-/lang?to=xx", headers=JSON)
    assert data.status_code == 400 and data.json()["error"]["param"] == "to"


@pytest.mark.parametrize(
    ("path", "status", "zh", "en"),
    [
        ("/targets?sort=garbage", 400, "参数“sort”只能取以下值之一：", "“sort” must be one of "),
        ("/targets?q=" + CJK * 201, 400, "关键词太长：最多 200 个字符。", "The keywords are too long: at most 200"),
        (
            "/targets?year=abcd",
            400,
            "参数“year”须为 1900 至 2100 之间的整数",
            "“year” must be a whole number from 1900",
        ),
        ("/agencies?sort=garbage", 400, "参数“sort”只能取以下值之一：", "“sort” must be one of "),
        ("/glossary/nonexistent", 404, "术语表中没有编号为“nonexistent”的术语。", "There is no glossary term with"),
        ("/targets/nonexistent", 404, "没有编号为“nonexistent”的目标。", "There is no target with the id"),
        ("/platforms/nonexistent", 404, "没有编号为“nonexistent”的平台。", "There is no platform with the id"),
    ],
)
def test_page_errors_speak_the_pages_language(portal: Portal, path, status, zh, en):
    joiner = "&" if "?" in path else "?"
    for lang, expected, html_lang in (("zh", zh, "zh-Hans"), ("en", en, "en")):
        response = portal.get(f"{path}{joiner}lang={lang}", headers=PAGE)
        assert response.status_code == status
        shown_lang, text = message_of(response.text)
        assert shown_lang == html_lang and expected in text, text
    data = portal.get(f"{path}{joiner}lang=zh", headers=JSON).json()["error"]
    assert data["status"] == status and re.fullmatch(r"[ -~]+", data["message"]), data  # clients keep the English


def test_a_message_without_wording_falls_back_to_english():
    assert routes.error_message("zh", "messages.no_such_key", {}, "as raised") == ("as raised", "en")
    assert routes.error_message("zh", "not_found.no_such_kind", {"id": "x"}, "as raised")[0] == "没有编号为“x”的记录。"
    assert routes.error_message("zh", "messages.choice", {}, "as raised") == ("as raised", "en")  # params missing


@pytest.mark.parametrize(
    ("path", "suggested"),
    [
        ("/nope", None),
        ("/target", "/targets"),
        ("/target/some-id", "/targets/some-id"),
        ("/search?q=AI", "/-/search?q=AI"),
    ],
)
def test_an_address_that_names_no_page_gets_the_sites_404(portal: Portal, path, suggested):
    response = portal.get(path, headers={**PAGE, "Accept-Language": "zh-CN"})
    assert response.status_code == 404 and 'class="kc-main"' in response.text
    assert message_of(response.text) == ("zh-Hans", f"没有“{path.partition('?')[0]}”这个页面。")
    assert '<a href="/">返回首页</a>' in response.text and 'id="error-q"' in response.text
    if suggested:
        assert f'<a href="{suggested}">' in response.text
    data = portal.get(path.partition("?")[0] + ".json", headers=JSON)
    assert data.status_code == 404 and data.headers["content-type"].startswith("application/json")


def test_datasettes_own_404s_say_what_is_missing_and_the_way_back(portal: Portal):
    table = portal.get("/kechuang/no_such_table?lang=zh", headers=PAGE)
    assert table.status_code == 404 and "找不到该表" in table.text and '<a href="/kechuang">所有表</a>' in table.text
    row = portal.get("/kechuang/units/no-such-row?lang=en", headers=PAGE)
    assert row.status_code == 404 and "Record not found" in row.text
    assert '<a href="/kechuang/units">Back to the table</a>' in row.text


def test_datasettes_pages_show_the_metadata_in_chinese(portal: Portal):
    zh = portal.get("/kechuang/units?lang=zh", headers=PAGE).text
    assert re.search(r'<p class="crumbs">\s*<a href="/">首页</a>', zh)
    assert "CC BY 4.0（数据汇编" in zh and "武汉市、黄石市和武昌区的官方政策文件" in zh
    en = portal.get("/kechuang/units?lang=en", headers=PAGE).text
    assert re.search(r'<p class="crumbs">\s*<a href="/">home</a>', en) and "CC BY 4.0 (data compilation" in en
    query = portal.get("/kechuang/targets_due_by_year?year=2025&lang=zh", headers=PAGE).text
    assert "期限在给定年份或之前的全部目标" in query and "Every target whose deadline" not in query


def test_long_texts_in_datasettes_tables_open_on_a_tap(portal: Portal):
    """A long plain text is its first 50 characters, then the rest in an expander: nothing is lost or repeated."""
    with sqlite3.connect(portal.db) as conn:
        target, quote = conn.execute(
            "select id, quote_zh from targets where length(quote_zh) > 100 order by id"
        ).fetchone()
    body = portal.get(f"/kechuang/targets?id={target}&lang=zh", headers=PAGE).text
    cell = re.search(
        r'<td class="col-quote_zh [^"]*"><details class="kc-cell"><summary>(.*?)…</summary>(.*?)</details>', body, re.S
    )
    assert cell and html.unescape(cell.group(1) + cell.group(2)) == quote
