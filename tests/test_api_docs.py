"""/api/v1/docs as a developer sees it in a browser: no CDN, every example runs, the policy is there."""

from __future__ import annotations

import re
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
    assert forms.count() == len(spec["paths"])  # the sample has a record in every collection
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
    for path, item in chinese["paths"].items():
        operation = item["get"]
        assert CJK.search(operation["summary"]), path
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
