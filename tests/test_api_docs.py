"""/api/v1/docs as a developer sees it in a browser: no CDN, every example runs, the policy is there."""

from __future__ import annotations

import re
from html.parser import HTMLParser
from urllib.parse import urlparse

import pytest
from api_support import API
from openapi_spec_validator import validate

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def browser(chromium):
    return chromium


def test_docs_load_nothing_from_elsewhere_and_every_example_runs(browser, live_sample_portal):
    page = browser.new_page()
    hosts = set()
    page.on("request", lambda request: hosts.add(urlparse(request.url).netloc))
    failures = []
    page.on("pageerror", lambda error: failures.append(str(error)))
    page.goto(live_sample_portal.base_url + f"{API}/docs")
    assert hosts == {urlparse(live_sample_portal.base_url).netloc}
    spec = live_sample_portal.get(f"{API}/openapi.json").json()
    forms = page.locator("form.try")
    downloads = page.locator(".also-as a[id]")  # a listing's .csv/.excel_csv/.xlsx: one line under it
    # the sample has a record in every collection
    assert forms.count() + downloads.count() == len(spec["paths"]) and downloads.count() > 0
    for index in range(downloads.count()):
        href = downloads.nth(index).get_attribute("href")
        assert live_sample_portal.get(href).status_code == 200, href
    # their parameters are the listing's, folded: the link under the listing opens them
    page.locator("#list_targets .also-as a[href='#list_targets-parameters']").click()
    assert page.evaluate("document.getElementById('list_targets-parameters').open")
    for index in range(forms.count()):
        form = forms.nth(index)
        form.locator("button").click()
        result = form.locator("xpath=following-sibling::pre[1]")
        result.wait_for(state="visible")
        page.wait_for_function("(el) => el.textContent.startsWith('HTTP')", arg=result.element_handle())
        text = result.text_content()
        assert text.startswith("HTTP 200"), (form.get_attribute("data-operation"), text[:300])
        assert "x-data-release:" in text
    assert not failures
    page.close()


def test_docs_state_the_stability_policy_and_document_every_endpoint(portal):
    html = portal.get(f"{API}/docs?lang=en").text
    assert "Stability policy" in html and "Ids never change once published" in html
    # nothing loaded from elsewhere (the portal's footer may link out: datasette.io, the licence)
    assert not re.search(r"""(src=|<link[^>]+href=)["']?https?://""", html.replace(portal.base_url, ""))
    spec = portal.get(f"{API}/openapi.json").json()
    for path, item in spec["paths"].items():
        assert f'id="{item["get"]["operationId"]}"' in html, path
        for parameter in item["get"].get("parameters", []):
            assert f"<code>{parameter['name']}</code>" in html


CJK = re.compile(r"[\u4e00-\u9fff]")


def _section(body: str, operation_id: str) -> str:
    section = body[body.index(f'<section class="op" id="{operation_id}"') :]
    return section[: section.index("</section>")]


def _text(fragment: str) -> str:
    return re.sub(r"<[^>]+>", "", fragment)


def test_docs_in_chinese_translate_every_summary_and_parameter_from_the_schemas(portal):
    """?lang=zh (like a cookie or Accept-Language): every operation summary and parameter description in
    Chinese, field and table texts from the schemas' x_description_zh, inside the portal's chrome in Chinese;
    the translated OpenAPI copy at openapi.json?lang=zh is valid and has the same shape as the contract."""
    english = portal.get(f"{API}/openapi.json").json()
    chinese = portal.get(f"{API}/openapi.json?lang=zh").json()
    validate(chinese)
    assert portal.get(f"{API}/openapi.json").json() == english  # the contract did not change under it
    strip = {"summary", "description"}

    def shape(node):
        if isinstance(node, dict):
            return {k: shape(v) for k, v in node.items() if k not in strip}
        return [shape(v) for v in node] if isinstance(node, list) else node

    assert shape(chinese) == shape(english)
    page = portal.get(f"{API}/docs?lang=zh")
    assert page.status_code == 200 and page.headers["content-language"] == "zh-Hans"
    body = page.text
    assert '<html lang="zh-Hans"' in body and 'class="kc-header' in body and 'class="kc-footer' in body
    assert "<title>API 文档 · 科创开放数据</title>" in body
    listings = {path.rpartition(".")[0] for path in chinese["paths"] if path.endswith((".csv", ".xlsx"))}
    for path, item in chinese["paths"].items():
        operation = item["get"]
        assert CJK.search(operation["summary"]), path
        download = path.rpartition(".")[0] in listings
        if download:  # a link in the one line under its listing, whose parameters it shares
            path, operation = path.rpartition(".")[0], chinese["paths"][path.rpartition(".")[0]]["get"]
            assert f'id="{item["get"]["operationId"]}"' in _section(body, operation["operationId"]), path
            continue
        section = body[body.index(f'id="{operation["operationId"]}"') :]
        section = section[: section.index("</section>")]
        assert f"<strong>{operation['summary']}</strong>" in section, path
        for parameter in operation.get("parameters", []):
            assert CJK.search(parameter["description"]), (path, parameter["name"])
            row = re.search(rf"<tr><td><code>{re.escape(parameter['name'])}</code></td>.*?</tr>", section, re.S)
            assert row and CJK.search(_text(row.group(0))), (path, parameter["name"])
    # the schemas' Chinese, not a translation written elsewhere
    from conftest import ROOT
    from kechuang.model import load_model

    targets = load_model(ROOT / "schemas").tables["targets"]
    listing = chinese["paths"][f"{API}/targets"]["get"]
    assert listing["description"] == targets.description_zh and targets.title_zh in listing["summary"]
    policy = next(p for p in listing["parameters"] if p["name"] == "policy")
    assert targets.field("policy_id").description_zh in policy["description"]
    # the language comes from the cookie or Accept-Language as on every page; English stays English
    assert "<strong>List targets" in portal.get(f"{API}/docs", cookies={"kechuang_lang": "en"}).text
    assert "<strong>List targets" in portal.get(f"{API}/docs", headers={"Accept-Language": "en-GB"}).text
    assert "Stability policy" not in body and "稳定性承诺" in body


class _Prose(HTMLParser):
    """The text a reader reads as prose: outside code, preformatted examples, scripts and form controls (where
    parameter names, URLs, enum values, media types and example data are)."""

    SKIP = frozenset({"code", "pre", "script", "style", "select", "textarea"})
    VOID = frozenset({"br", "input", "img", "hr", "meta", "link", "wbr"})

    def __init__(self) -> None:
        super().__init__()
        self.open: list[str] = []
        self.texts: list[str] = []

    def handle_starttag(self, tag: str, attrs) -> None:
        if tag not in self.VOID:
            self.open.append(tag)

    def handle_endtag(self, tag: str) -> None:
        if tag in self.open:
            del self.open[len(self.open) - 1 - self.open[::-1].index(tag) :]

    def handle_data(self, data: str) -> None:
        if not self.SKIP.intersection(self.open):
            self.texts.append(data)


# English prose: three or more ASCII words in a row, separated by spaces and punctuation (a word starts with a
# letter; "/", digits-first tokens and CJK break a run), e.g. "string or null", "A page of policies."
ENGLISH_RUN = re.compile(r"[A-Za-z][\w'-]*(?:[\s,;:.()]+[A-Za-z][\w'-]*){2,}", re.ASCII)


def test_docs_in_chinese_have_no_english_prose(portal):
    """Every sentence of /api/v1/docs?lang=zh is Chinese: the response fields and schemas (openapi.py's sentences,
    from zh.yaml, and the schemas' x_description_zh), the type labels, the statuses and media types; only code
    (names, values, URLs, examples) stays as it is. The English page keeps the English words."""
    body = portal.get(f"{API}/docs?lang=zh").text
    fragment = body[body.index('<div class="api-docs"') :]
    parser = _Prose()
    parser.feed(fragment[: fragment.index("<script")])
    english = sorted({match.group(0) for text in parser.texts for match in ENGLISH_RUN.finditer(text)})
    assert english == [], english[:20]
    assert "字符串或空" in fragment and "列表（每项：字符串）" in fragment  # the type labels
    assert 'data-request-failed="请求失败"' in fragment  # the try-it script's error, in the page's language
    english_page = portal.get(f"{API}/docs?lang=en").text
    assert "string or null" in english_page and "What went wrong, for the person who must act." in english_page
    assert 'data-request-failed="Request failed"' in english_page


def test_docs_state_each_parameter_table_once_and_fold_the_details(portal):
    """The downloads of a listing share its parameters, so its table is not repeated for them (it was, three
    times per collection: a page 339,149 px tall on a phone); an endpoint's parameters and responses are folded
    under its summary and example, reachable by a link (#<operationId>-parameters)."""
    spec = portal.get(f"{API}/openapi.json").json()
    body = portal.get(f"{API}/docs?lang=en").text
    downloads = [path for path in spec["paths"] if path.endswith((".csv", ".excel_csv", ".xlsx"))]
    assert downloads
    shown = [path for path in spec["paths"] if path not in downloads]
    assert body.count('<section class="op"') == len(shown)
    assert body.count("<th>parameter</th>") == sum(bool(spec["paths"][p]["get"].get("parameters")) for p in shown)
    assert body.count('<details class="op-part"') == 2 * len(shown) and "<details open" not in body
    for path in downloads:
        listing = path.rpartition(".")[0]
        section = _section(body, spec["paths"][listing]["get"]["operationId"])
        operation_id = spec["paths"][path]["get"]["operationId"]
        assert f'<a id="{operation_id}" href="{path}?limit=3"' in section, path
        assert f'href="#{spec["paths"][listing]["get"]["operationId"]}-parameters"' in section
        # the download takes the listing's parameters, except the format its path already names
        own = {p["name"] for p in spec["paths"][path]["get"]["parameters"]}
        assert own == {p["name"] for p in spec["paths"][listing]["get"]["parameters"]} - {"format"}
