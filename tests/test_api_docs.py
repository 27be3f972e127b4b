"""/api/v1/docs as a developer sees it in a browser: no CDN, every example runs, the policy is there."""

from __future__ import annotations

import re
from urllib.parse import urlparse

import pytest
from api_support import API

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
    html = portal.get(f"{API}/docs").text
    assert "Stability policy" in html and "Ids never change once published" in html
    assert not re.search(r"""(src|href)=["']?https?://""", html.replace(portal.base_url, ""))
    spec = portal.get(f"{API}/openapi.json").json()
    for path, item in spec["paths"].items():
        assert f'id="{item["get"]["operationId"]}"' in html, path
        for parameter in item["get"].get("parameters", []):
            assert f"<code>{parameter['name']}</code>" in html
