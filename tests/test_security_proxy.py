"""The proxy layer: what nginx answers itself carries the security headers and the JSON error shape,
and the guard behind it still decides, through nginx, what reaches Datasette.

Real nginx from Debian in front of two real workers (`kechuang serve --workers 2`) serving a release.
"""

from __future__ import annotations

from urllib.parse import urlsplit

import pytest
from test_security_http import OPEN_REDIRECTS, raw_request

from kechuang.serve.security.guard import DATA_POLICY, MAX_QUERY_BYTES, is_safe_location

pytestmark = [pytest.mark.nginx, pytest.mark.slow]


@pytest.fixture(scope="module")
def proxied(served_release) -> tuple[str, str]:
    """A release of the test sample, served by `kechuang serve --workers 2` behind nginx (fixture `served_release`)."""
    return served_release.url, served_release.version


def assert_secured(headers: dict[str, str]) -> None:
    assert "frame-ancestors 'none'" in headers["content-security-policy"]
    assert headers["x-content-type-options"] == "nosniff"
    assert headers["x-frame-options"] == "DENY"
    assert headers["referrer-policy"]


def test_release_files_and_listings_carry_the_headers(proxied):
    url, version = proxied
    for target in (f"/releases/{version}/SHA256SUMS", f"/releases/{version}/kechuang.db", "/releases/", "/releases/.x"):
        status, headers, _ = raw_request(url, target)
        assert status in (200, 404), target
        assert_secured(headers)
        assert headers["content-security-policy"] == DATA_POLICY


@pytest.mark.parametrize(
    ("target", "extra", "method", "status"),
    [
        ("/kechuang.json?sql=" + "1" * (MAX_QUERY_BYTES + 100), "", "GET", 414),  # the guard, behind nginx
        ("/kechuang", "X-Big: " + "a" * 20_000 + "\r\n", "GET", 400),  # nginx: header over 16 KB
        ("/kechuang", "Content-Length: 2000000\r\n", "POST", 413),  # nginx: body over 1 MB
        ("/kechuang", "", "DELETE", 405),  # the guard, behind nginx
    ],
    ids=["query over 8 KB", "header over 16 KB", "body over 1 MB", "delete"],
)
def test_refusals_are_json_with_the_headers(proxied, target, extra, method, status):
    url, _version = proxied
    got, headers, body = raw_request(url, target, method, extra)
    assert got == status, body[:300]
    assert headers["content-type"].startswith("application/json")
    assert f'"status":{status}'.encode() in body
    assert_secured(headers)


def test_a_request_line_over_16_kb_is_refused_with_the_headers(proxied):
    url, _version = proxied
    status, headers, _ = raw_request(url, "/kechuang.json?sql=" + "1" * 20_000)
    assert status == 414
    assert_secured(headers)


@pytest.mark.parametrize("target", OPEN_REDIRECTS)
def test_no_redirect_leaves_the_site_through_the_proxy(proxied, target):
    url, _version = proxied
    status, headers, _ = raw_request(url, target)
    assert status < 500
    if "location" in headers:
        assert is_safe_location(headers["location"], urlsplit(url).netloc), headers["location"]
