"""HTTP done right on /api/v1: conditional requests, CORS, HEAD, content negotiation and every error status."""

from __future__ import annotations

import httpx
import pytest
from api_support import API, get

ERROR_KEYS = {"status", "code", "message", "param"}


def assert_error(response: httpx.Response, status: int, param: str | None = None) -> dict:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/json")
    assert response.headers["access-control-allow-origin"] == "*"
    error = response.json()["error"]
    assert set(error) == ERROR_KEYS
    assert error["status"] == status and error["message"]
    if param is not None:
        assert error["param"] == param
    return error


ROUTES = [f"{API}/", f"{API}/targets", f"{API}/jurisdictions/wuhan", f"{API}/openapi.json", f"{API}/docs"]


@pytest.mark.parametrize("path", ROUTES)
def test_responses_carry_cache_and_release_headers(portal, path):
    response = get(portal, path)
    assert response.status_code == 200
    assert response.headers["access-control-allow-origin"] == "*"
    assert response.headers["cache-control"].startswith("public, max-age=")
    assert response.headers["x-data-release"] == get(portal, f"{API}/").json()["release"]["version"]
    etag = response.headers["etag"]
    # strong for the identity body; weak for a client that accepts compression (kechuang.serve.wire)
    assert (
        etag.removeprefix("W/").startswith('"')
        and "W/" not in get(portal, path, headers={"Accept-Encoding": "identity"}).headers["etag"]
    )
    assert etag.endswith('"')


@pytest.mark.parametrize("path", ROUTES)
def test_if_none_match_gets_304_without_a_body(portal, path):
    first = get(portal, path)
    etag = first.headers["etag"]
    assert get(portal, path).headers["etag"] == etag  # stable
    for sent in (etag, f"W/{etag.removeprefix('W/')}", f'"other", {etag}', "*"):
        again = get(portal, path, headers={"If-None-Match": sent})
        assert again.status_code == 304, sent
        assert again.content == b""
        assert again.headers["etag"] == etag
        assert again.headers["access-control-allow-origin"] == "*"
    assert get(portal, path, headers={"If-None-Match": '"stale"'}).status_code == 200


def test_etag_depends_on_the_request_not_on_parameter_order(portal):
    a = get(portal, f"{API}/indicators?limit=2&sort=-id").headers["etag"]
    b = get(portal, f"{API}/indicators?sort=-id&limit=2").headers["etag"]
    c = get(portal, f"{API}/indicators?sort=-id&limit=3").headers["etag"]
    csv_tag = get(portal, f"{API}/indicators?sort=-id&limit=2", headers={"Accept": "text/csv"}).headers["etag"]
    assert a == b
    assert len({a, c, csv_tag}) == 3


@pytest.mark.parametrize("path", [*ROUTES, f"{API}/targets?status=bogus", f"{API}/nowhere"])
def test_head_is_get_without_the_body(portal, path):
    full = get(portal, path)
    head = portal.head(path)
    assert head.status_code == full.status_code
    assert head.content == b""
    for name in ("etag", "content-type", "cache-control", "access-control-allow-origin", "x-data-release"):
        assert head.headers.get(name) == full.headers.get(name), name
    if full.status_code == 200:
        assert int(head.headers["content-length"]) == len(full.content)


def test_cors_preflight_allows_any_origin_to_get(portal):
    response = portal.request(
        "OPTIONS",
        f"{API}/targets?status=stated",
        headers={
            "Origin": "https://example.org",
            "Access-Control-Request-Method": "GET",
            "Access-Control-Request-Headers": "If-None-Match, Accept",
        },
    )
    assert response.status_code == 204
    assert response.headers["access-control-allow-origin"] == "*"
    assert set(response.headers["access-control-allow-methods"].replace(" ", "").split(",")) == {
        "GET",
        "HEAD",
        "OPTIONS",
    }
    assert "if-none-match" in response.headers["access-control-allow-headers"].lower()
    assert "etag" in get(portal, f"{API}/").headers["access-control-expose-headers"].lower()


@pytest.mark.parametrize("method", ["POST", "PUT", "PATCH", "DELETE"])
@pytest.mark.parametrize("path", [f"{API}/", f"{API}/targets", f"{API}/targets/x", f"{API}/openapi.json"])
def test_other_methods_get_405_with_allow(portal, method, path):
    response = portal.request(method, path, content=b"{}")
    assert_error(response, 405)
    assert response.headers["allow"] == "GET, HEAD, OPTIONS"


@pytest.mark.parametrize(
    ("path", "accept", "status", "media"),
    [
        (f"{API}/targets", "text/csv", 200, "text/csv"),
        (f"{API}/targets", "application/json;q=0.5, text/csv", 200, "text/csv"),
        (f"{API}/targets", "text/*", 200, "text/csv"),
        (f"{API}/targets", "*/*", 200, "application/json"),
        (f"{API}/targets", "text/html, */*;q=0.1", 200, "application/json"),
        (f"{API}/targets", "text/html", 406, None),
        (f"{API}/targets", "application/xml", 406, None),
        (f"{API}/targets", "application/json;q=0, text/csv;q=0", 406, None),
        (f"{API}/jurisdictions/wuhan", "text/csv", 406, None),
        (f"{API}/", "image/png", 406, None),
        (f"{API}/docs", "application/json", 406, None),
        (f"{API}/docs", "text/html", 200, "text/html"),
    ],
)
def test_content_negotiation(portal, path, accept, status, media):
    response = get(portal, path, headers={"Accept": accept})
    if status == 406:
        assert_error(response, 406)
    else:
        assert response.status_code == status
        assert response.headers["content-type"].split(";")[0] == media
        assert "accept" in response.headers["vary"].lower()


def test_format_parameter_wins_over_accept(portal):
    response = get(portal, f"{API}/targets?format=csv", headers={"Accept": "application/json"})
    assert response.headers["content-type"].startswith("text/csv")
    response = get(portal, f"{API}/targets?format=json", headers={"Accept": "text/csv"})
    assert response.headers["content-type"].startswith("application/json")


@pytest.mark.parametrize(
    "path",
    [f"{API}/nope", f"{API}/targets/no-such-target", f"{API}/jurisdictions/wuhan/extra", f"{API}/policies/%FF%FE"],
)
def test_unknown_things_are_404_json(portal, path):
    assert_error(get(portal, path), 404)


BAD_REQUESTS = [
    ("targets?colour=red", "colour"),
    ("targets?limit=2&limit=3", "limit"),  # a list may be repeated (status=a&status=b), a single value not
    ("targets?status=finished", "status"),
    ("targets?status=stated,,redacted", "status"),
    ("targets?status=", "status"),
    ("targets?deadline_year=twenty", "deadline_year"),
    ("targets?deadline_year=%D9%A2%D9%A0%D9%A2%D9%A6", "deadline_year"),  # Arabic-Indic digits
    ("targets?deadline_year=99999999999999999999", "deadline_year"),
    ("targets?value_min=1e999", "value_min"),
    ("targets?value_min=nan", "value_min"),
    ("targets?limit=0", "limit"),
    ("targets?limit=501", "limit"),
    ("targets?limit=", "limit"),
    ("targets?sort=quote_zh", "sort"),
    ("targets?sort=--id", "sort"),
    ("targets?fields=id,secret", "fields"),
    ("targets?format=xml", "format"),
    ("targets?cursor=garbage", "cursor"),
    ("targets?cursor=" + "A" * 2000, "cursor"),
    ("policies?issued_on_min=2024-02-30", "issued_on_min"),
    ("policies?issued_on_min=yesterday", "issued_on_min"),
    ("policies?title_is_editorial=yes", "title_is_editorial"),
    ("glossary?q=" + "x" * 201, "q"),
    ("targets?policy=" + ",".join(f"p{i}" for i in range(101)), "policy"),
    ("jurisdictions/wuhan?fields=id", "fields"),
    ("?x=1", "x"),
    ("openapi.json?v=2", "v"),
]


@pytest.mark.parametrize(("query", "param"), BAD_REQUESTS)
def test_bad_parameters_are_400_naming_the_parameter(portal, query, param):
    assert_error(get(portal, f"{API}/{query}"), 400, param)


def test_query_strings_that_are_not_utf8_or_too_long_are_400(portal):
    assert_error(get(portal, f"{API}/targets?q=%FF%FE"), 400)
    many = "&".join(f"p{i}=1" for i in range(70))
    assert_error(get(portal, f"{API}/targets?{many}"), 400)


HOSTILE = [
    "' OR 1=1 --",
    '"; drop table targets; --',
    "1) union select * from _meta --",
    "\x00",
    "%",
    "_",
    "\\",
    "😀" * 50,
    "../../etc/passwd",
    "<script>alert(1)</script>",
    "${jndi:ldap://x}",
]


@pytest.mark.parametrize("value", HOSTILE)
def test_hostile_values_never_reach_sql_or_produce_5xx(portal, catalog_params, value):
    client = portal.client
    for collection, params in catalog_params.items():
        for param in params:
            extra = {} if param == "limit" else {"limit": "1"}
            response = client.get(f"{API}/{collection}", params={param: value, **extra})
            assert response.status_code in (200, 400), (collection, param, response.text)
            assert "error" in response.json() or response.json()["collection"] == collection


@pytest.fixture(scope="module")
def catalog_params(project) -> dict[str, list[str]]:
    from kechuang.model.schema import load_schemas
    from kechuang.serve.api.collections import CONTROL_PARAMS, build_catalog

    catalog = build_catalog(load_schemas(project.schemas))
    return {name: [*c.filter_map, *CONTROL_PARAMS] for name, c in catalog.collections.items()}


def test_a_replayed_response_is_the_response(portal):
    """The second identical request is answered from the finished-response cache: same status, headers, body."""
    url = f"{API}/jurisdictions?sort=-name_en&limit=4&fields=id,name_en"
    first, second = get(portal, url), get(portal, url)
    assert first.status_code == second.status_code == 200
    assert first.content == second.content
    same = ("etag", "content-type", "cache-control", "vary", "x-data-release", "access-control-allow-origin", "link")
    for name in same:
        assert first.headers.get(name) == second.headers.get(name), name
    assert int(second.headers["content-length"]) == second.num_bytes_downloaded  # as sent (compressed)
    assert get(portal, url, headers={"If-None-Match": first.headers["etag"]}).status_code == 304
    head = portal.head(url)
    assert head.content == b"" and head.headers["etag"] == first.headers["etag"]


def test_requests_with_credentials_keep_datasettes_privacy_rules(portal):
    url = f"{API}/jurisdictions?limit=2"
    get(portal, url)
    with_cookie = get(portal, url, headers={"Cookie": "ds_actor=someone"})
    assert with_cookie.status_code == 200
    assert with_cookie.headers["cache-control"] == "private, no-store"


def test_a_list_filter_is_the_same_repeated_or_comma_separated(portal):
    """Generators send `style: form, explode: true` lists repeated; people write them with commas."""
    commas = get(portal, f"{API}/targets?status=stated,redacted&fields=id&limit=500").json()
    repeated = get(portal, f"{API}/targets?status=stated&status=redacted&fields=id&fields=status&limit=500").json()
    assert commas["count"] == repeated["count"] > 0
    assert [i["id"] for i in commas["items"]] == [i["id"] for i in repeated["items"]]
    assert {i["status"] for i in repeated["items"]} <= {"stated", "redacted"}
