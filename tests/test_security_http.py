"""The request guard in front of Datasette, tested through the portal: raw requests to a served one, the
rest in process.

Raw sockets (to a real `datasette serve` process, fixture `live_portal`) are used where an HTTP client
would normalise the path (`//`, `\\`, control characters) and so never send what an attacker sends.
"""

from __future__ import annotations

import re
import socket
from urllib.parse import quote, urlsplit

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kechuang.model.schema import load_schemas
from kechuang.serve.security.guard import (
    MAX_PARAMETERS,
    MAX_PATH_BYTES,
    MAX_QUERY_BYTES,
    _refuse_parameters,
    _refuse_path,
    check_request,
    is_plain,
    is_safe_location,
)


def raw_request(base_url: str, target: str, method: str = "GET", extra: str = "") -> tuple[int, dict[str, str], bytes]:
    """Send one request line exactly as given; return status, headers (lower-case) and body."""
    parts = urlsplit(base_url)
    with socket.create_connection((parts.hostname, parts.port), timeout=30) as s:
        s.sendall(f"{method} {target} HTTP/1.1\r\nHost: {parts.netloc}\r\nConnection: close\r\n{extra}\r\n".encode())
        data = b""
        # Until the response is complete, not until the server closes: after refusing a body it was
        # promised, nginx waits seconds for it before closing (lingering close).
        while not response_complete(data) and (chunk := s.recv(65536)):
            data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    headers = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    if headers.get("transfer-encoding") == "chunked":
        body = dechunk(body)
    return status, headers, body


def response_complete(data: bytes) -> bool:
    """Whether `data` holds a whole response: its head, and the body its head announces."""
    head, found, body = data.partition(b"\r\n\r\n")
    if not found:
        return False
    headers = head.decode("latin-1").lower()
    if "transfer-encoding: chunked" in headers:
        return body.endswith(b"0\r\n\r\n")
    length = re.search(r"\r\ncontent-length: *(\d+)", headers)
    return length is not None and len(body) >= int(length.group(1))


def dechunk(data: bytes) -> bytes:
    out = b""
    while data:
        size_line, _, rest = data.partition(b"\r\n")
        size = int(size_line.split(b";")[0], 16)
        if size == 0:
            break
        out += rest[:size]
        data = rest[size + 2 :]
    return out


def assert_json_error(status: int, headers: dict[str, str], body: bytes, expected: int) -> dict:
    assert status == expected, body[:300]
    assert headers["content-type"].startswith("application/json")
    error = httpx.Response(status, content=body).json()["error"]
    assert error["status"] == expected and error["code"] and error["message"]
    return error


OPEN_REDIRECTS = [
    "//example.com/",
    "///example.com/",
    "/\\example.com/",
    "/\\/example.com/",
    "/\\\\example.com/",
    "/%2F%2Fexample.com/",
    "/%2f/example.com/",
    "/%5Cexample.com/",
    "/%5c%5cexample.com/",
    "/%09/example.com/",
    "/kechuang/..%2F%2Fexample.com/",
]


@pytest.mark.parametrize("target", OPEN_REDIRECTS)
def test_no_redirect_leaves_the_site(live_portal, target):
    status, headers, body = raw_request(live_portal.base_url, target)
    assert status < 500
    if "location" in headers:
        assert is_safe_location(headers["location"], urlsplit(live_portal.base_url).netloc), headers["location"]
    else:
        assert_json_error(status, headers, body, status)


def test_trailing_slash_redirect_still_works(live_portal):
    status, headers, _ = raw_request(live_portal.base_url, "/kechuang/")
    assert status == 302 and headers["location"] == "/kechuang"


BRACKET_IDENTIFIERS = [
    ("/kechuang/units.json?_sort=unit_zh%5D", "_sort"),
    ("/kechuang/units.json?_sort_desc=x%5D%20from%20units--", "_sort_desc"),
    ("/kechuang/units.json?_facet=unit_zh%5D", "_facet"),
    ("/kechuang/units.json?_facet_array=unit_zh%5D", "_facet_array"),
    ("/kechuang/units.json?_col=unit_zh%5D", "_col"),
    ("/kechuang/units.json?unit_zh%5D__exact=1", "unit_zh]__exact"),
    ("/kechuang/units.json?_through=" + quote('{"table":"x]","column":"y","value":"1"}'), "_through"),
    ("/kechuang/units.json?_fts_table=x%5D&_search=a", "_fts_table"),
    ("/kechuang/units%5D.json", None),
    ("/kechuang/units~5D.json", None),
]


@pytest.mark.parametrize(("target", "param"), BRACKET_IDENTIFIERS)
def test_bracket_in_identifiers_is_refused(live_portal, target, param):
    status, headers, body = raw_request(live_portal.base_url, target)
    error = assert_json_error(status, headers, body, 400)
    assert error["param"] == param
    assert "]" in error["message"] or "_through" in error["message"]


@pytest.mark.parametrize(
    "target",
    [
        "/kechuang.json?sql=" + quote("select [unit_zh] from units where unit_zh != ']'"),
        "/kechuang/units.json?_where=" + quote("[unit_zh] != ']'"),
        "/kechuang/units.json?unit_en__contains=" + quote("]"),
        "/kechuang/units.json?_facet=" + quote('{"simple": "unit_en"}'),
    ],
)
def test_bracket_in_sql_and_values_still_works(portal, target):
    response = portal.get(target)
    assert response.status_code == 200, response.text[:300]


DATASETTE_500_INPUTS = [
    "/kechuang/units.json?_sort=no_such_column",
    "/kechuang/units.json?_sort_desc=no_such_column",
    "/kechuang/units?_sort=no_such_column",
    "/kechuang/units.json?_sort=unit_zh&_sort_desc=unit_zh",
    "/kechuang/units.json?_timelimit=abc",
    "/kechuang/units.json?factor__in=%5B",
    "/kechuang/units.json?factor__in=%5B%7B%7D%5D",
    "/kechuang/units.json?_through=xyz",
    "/kechuang/units.json?_through=%7B%7D",
    "/kechuang/units.json?_through=" + quote('{"table":"units","column":"unit_zh","value":"x"}'),
    "/kechuang/units.json?_facet=%7B",
    "/kechuang/jurisdictions?_facet=%7B%7D",
    "/kechuang/units.json?_facet_array=" + quote('{"simple": 1}'),
    "/kechuang/units.json?_facet=" + quote('{"column": "unit_en"}'),
    "/kechuang.json?sql=select%201%00",
    "/kechuang/units?%00=1",
    "/kechuang/units?_where=%00",
    "/kechuang/targets_detail.json?_next=abc",
    "/kechuang.csv?sql=",
    "/kechuang/units.json?_json_infinity=maybe",
]


@pytest.mark.parametrize("target", DATASETTE_500_INPUTS)
def test_bad_input_datasette_would_answer_with_500_gets_400(portal, target):
    response = portal.get(target)
    assert response.status_code == 400, response.text[:300]
    if target.partition("?")[0].endswith(".json"):
        assert response.json()["error"]


def test_row_address_with_too_few_key_parts_is_not_found(portal, project):
    compound = next(name for name, s in load_schemas(project.schemas).items() if len(s.primary_key) > 1)
    response = portal.get(f"/kechuang/{compound}/only-one-part.json")
    assert response.status_code == 404, response.text[:300]


def test_input_errors_leave_no_traceback_in_the_log(live_portal):
    """A 400 costs nothing: Datasette would print a `rich` traceback with locals for each, for seconds."""
    before = len(live_portal.log_text())
    for target in [*DATASETTE_500_INPUTS[:3], "/kechuang.json?sql=select%20nothing"]:
        assert live_portal.get(target).status_code == 400
    assert "Traceback" not in live_portal.log_text()[before:]


@pytest.mark.parametrize(
    ("target", "status"),
    [
        ("/" + "a" * (MAX_PATH_BYTES + 1), 414),
        ("/kechuang.json?sql=" + "1" * (MAX_QUERY_BYTES + 1), 414),
        ("/kechuang/units.json?" + "&".join(f"a{i}=1" for i in range(MAX_PARAMETERS + 1)), 400),
    ],
    ids=["long path", "long query", "too many parameters"],
)
def test_oversized_requests_are_refused(live_portal, target, status):
    assert_json_error(*raw_request(live_portal.base_url, target), status)


@pytest.mark.parametrize("method", ["POST", "PUT", "PATCH", "DELETE"])
def test_only_reading_methods_are_allowed(live_portal, method):
    status, headers, body = raw_request(live_portal.base_url, "/kechuang/units", method, "Content-Length: 0\r\n")
    assert_json_error(status, headers, body, 405)
    assert headers["allow"] == "GET, HEAD, OPTIONS"


def test_request_bodies_are_refused(live_portal):
    status, headers, body = raw_request(live_portal.base_url, "/kechuang/units.json", "GET", "Content-Length: 3\r\n\r\nabc")
    assert_json_error(status, headers, body, 413)


def test_interrupted_query_page_has_no_inline_script(portal):
    bomb = "with recursive r(i) as (select 1 union all select i + 1 from r) select count(*) from r"
    response = portal.get("/kechuang", params={"sql": bomb, "_timelimit": "50"})
    assert response.status_code == 400 and "too long" in response.text
    assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", response.text)


SECURED = [
    "/",
    "/kechuang",
    "/kechuang/units",
    "/kechuang/units.json",
    "/kechuang/units.csv",
    "/kechuang?sql=select+1",
    "/kechuang/no_such_table",
    "/-/static/app.css",
    "/static/datasette-codemirror.js",
    "/kechuang/units.json?_sort=nope",
    "//example.com/",
    "/kechuang/",
]


@pytest.mark.parametrize("target", SECURED)
def test_every_response_carries_the_security_headers(live_portal, target):
    status, headers, _ = raw_request(live_portal.base_url, target)
    assert status < 500
    policy = headers["content-security-policy"]
    directives = {d.split()[0]: d.split()[1:] for d in policy.split("; ")}
    assert directives["frame-ancestors"] == ["'none'"]
    assert "'unsafe-inline'" not in directives.get("script-src", directives["default-src"])
    assert "'unsafe-eval'" not in policy
    assert headers["x-content-type-options"] == "nosniff"
    assert headers["referrer-policy"]
    assert headers["x-frame-options"] == "DENY"


def test_pages_allow_only_own_scripts(portal):
    policy = portal.get("/kechuang/units").headers["content-security-policy"]
    assert "script-src 'self'" in policy.split("; ")


# --- the guard's pure functions ----------------------------------------------------------------


@pytest.mark.parametrize(
    "location",
    [
        "//evil.example",
        "/\\evil.example",
        "\\\\evil.example",
        "/\t/evil.example",
        " //evil.example",
        "https://evil.example/",
        "javascript:alert(1)",
        "//evil.example/%2F..",
        "http://127.0.0.1.evil.example/",
    ],
)
def test_unsafe_locations(location):
    assert not is_safe_location(location, "127.0.0.1:8001")


@pytest.mark.parametrize(
    "location", ["/kechuang", "/kechuang/units?_sort=id", "kechuang", "?page=2", "http://127.0.0.1:8001/x"]
)
def test_safe_locations(location):
    assert is_safe_location(location, "127.0.0.1:8001")


def scopes():
    return st.fixed_dictionaries(
        {
            "type": st.just("http"),
            "method": st.sampled_from(["GET", "HEAD", "OPTIONS", "POST", "get", "TRACE", ""]),
            "path": st.text(max_size=300),
            "raw_path": st.binary(max_size=300),
            "query_string": st.binary(max_size=600),
            "headers": st.lists(st.tuples(st.binary(max_size=20), st.binary(max_size=40)), max_size=5),
        }
    )


@settings(max_examples=1000, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(scopes())
def test_check_request_never_raises(scope):
    refusal = check_request(scope)
    if refusal is not None:
        assert 400 <= refusal.status < 500 and refusal.message


PATH_CHARS = "/._-aZ09~%]\\\x00 5dD"
VALUE_CHARS = 'a_=&[]{}%.,-09;+\x00 "'
# Names the rules treat specially, beside ordinary ones.
KEYS = [
    "_timelimit",
    "_sort",
    "_sort_desc",
    "_through",
    "_facet",
    "_facet_array",
    "x__in",
    "x__notin",
    "_where",
    "a",
    "q",
    "limit",
]
queries = st.lists(
    st.tuples(st.sampled_from(KEYS) | st.text(VALUE_CHARS, max_size=8), st.text(VALUE_CHARS, max_size=12)), max_size=4
).map(lambda pairs: "&".join(f"{k}={v}" for k, v in pairs))


@settings(max_examples=1000, deadline=None)
@given(
    st.sampled_from(["/", "/api/v1/targets", "/kechuang/units.json"]) | st.text(PATH_CHARS, max_size=40),
    queries,
    st.booleans(),
)
def test_the_plain_request_shortcut_never_lets_through_what_the_rules_refuse(path, query, decoded_differs):
    """check_request skips the full parse for plain requests; every one it skips, the rules accept."""
    raw = path.encode("latin-1")
    shown = path + ("]" if decoded_differs else "")
    if is_plain(raw, shown, query.encode("latin-1")):
        assert _refuse_path(path, shown) is None
        assert _refuse_parameters(query.encode("latin-1")) is None


def test_the_common_requests_take_the_shortcut():
    assert is_plain(b"/api/v1/targets", "/api/v1/targets", b"limit=50&sort=-deadline_year")
    assert not is_plain(b"/kechuang/targets.json", "/kechuang/targets.json", b"policy_id=wuhan-2024&_x=")
    assert not is_plain(b"//example.com", "//example.com", b"")
    assert not is_plain(b"/kechuang/a~5db", "/kechuang/a~5db", b"")
    assert not is_plain(b"/kechuang/units.json", "/kechuang/units.json", b"factor__in=[1]")


@settings(max_examples=1000, deadline=None)
@given(st.text(max_size=100), st.text(max_size=30))
def test_is_safe_location_never_raises_and_never_allows_protocol_relative(location, host):
    safe = is_safe_location(location, host)
    cleaned = re.sub(r"[\x00-\x1f\x7f]", "", location).strip().replace("\\", "/")
    if cleaned.startswith("//"):
        assert not safe
