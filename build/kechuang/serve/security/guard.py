"""An ASGI wrapper in front of Datasette: refuse hostile requests early, secure every response.

Requests: only GET, HEAD and OPTIONS; bounded path and query string; no path that a browser
would read as another site (`//host`, `/\\host`, encoded or not); no `]` in anything Datasette
0.65 turns into an SQL identifier; no parameter that Datasette would turn into a 500. A refusal is
the project's JSON error (`kechuang.serve.http.error_response`), or, when `wrap` is given a `page` that
answers it (the site's error page for a browser), that page with the same status.

Responses: the security headers (Content-Security-Policy without inline script, nosniff,
Referrer-Policy, frame-ancestors) are added when the inner application did not set them, and a
redirect whose Location would leave the site is replaced by a 400.
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Awaitable, Callable, MutableMapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from kechuang.serve.http import error_response

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

ALLOWED_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
MAX_PATH_BYTES = 2048
# nginx's default request-line buffer is 8 KB; a query string that fits there fits here.
MAX_QUERY_BYTES = 8192
MAX_PARAMETERS = 100
# Datasette's introspection pages that show the server's internals (threads, asyncio tasks): closed.
CLOSED_PATHS = frozenset({"/-/threads", "/-/threads.json"})
# Statuses whose Location a browser follows; a Location on any other response is not a redirect.
REDIRECTS = frozenset({300, 301, 302, 303, 305, 307, 308})

# Underscore parameters whose value Datasette uses as free text or SQL, where `]` is legitimate.
FREE_TEXT_PARAMETERS = frozenset({"_search", "_where", "_next"})
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_SCHEME = re.compile(r"^[a-zA-Z][a-zA-Z0-9+.-]*:")
_PLAIN_PATH = re.compile(rb"/(?:[A-Za-z0-9._-][A-Za-z0-9._/-]*)?")
_PLAIN_QUERY = re.compile(rb"(?:[A-Za-z0-9][A-Za-z0-9_-]*=[A-Za-z0-9._,-]*(?:&(?=[A-Za-z0-9]))?)*")

PAGE_POLICY = "; ".join(
    [
        "default-src 'self'",
        "script-src 'self'",
        # Datasette's templates carry style="" attributes (colours, widths); styles cannot run code.
        "style-src 'self' 'unsafe-inline'",
        "img-src 'self' data:",
        "font-src 'self'",
        "connect-src 'self'",
        "object-src 'none'",
        "base-uri 'none'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    ]
)
# JSON, CSV and files opened directly in a browser run nothing and load nothing.
DATA_POLICY = "default-src 'none'; frame-ancestors 'none'; sandbox"

COMMON_HEADERS = {
    "x-content-type-options": "nosniff",
    "referrer-policy": "strict-origin-when-cross-origin",
    "x-frame-options": "DENY",
    "cross-origin-opener-policy": "same-origin",
    "permissions-policy": "camera=(), microphone=(), geolocation=(), payment=(), usb=()",
}


@dataclass(frozen=True)
class Refusal:
    """Why a request is refused: HTTP status, error code, message and the parameter at fault."""

    status: int
    code: str
    message: str
    param: str | None = None


def _refuse_path(raw_path: str, path: str) -> Refusal | None:
    if len(raw_path.encode("latin-1", "replace")) > MAX_PATH_BYTES:
        return Refusal(414, "uri_too_long", f"the path is longer than {MAX_PATH_BYTES} bytes")
    for shown in (raw_path, path):
        if _CONTROL.search(shown):
            return Refusal(400, "invalid_path", "the path contains control characters")
        if "\\" in shown or shown.startswith("//") or re.match(r"/%(2f|5c)", shown, re.IGNORECASE):
            return Refusal(400, "invalid_path", "the path must not start with // or contain a backslash")
        if "]" in shown or re.search(r"%5d|~5d", shown, re.IGNORECASE):
            return Refusal(400, "invalid_path", "the path must not contain ]")
    return None


# Deepest JSON nesting read from a parameter: Datasette's JSON parameters are a list or an object of
# scalars. Python's parser recurses once per level, and 2,000 `[` raise RecursionError (which, caught
# in CPython 3.11 before 3.11.8, can leave the interpreter's recursion counter broken).
MAX_JSON_DEPTH = 20


def json_depth(value: str) -> int:
    """How deeply the arrays and objects in `value` nest, counted without recursion (strings skipped)."""
    depth = deepest = 0
    in_string = escaped = False
    for char in value:
        if in_string:
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == '"':
                in_string = False
        elif char == '"':
            in_string = True
        elif char in "[{":
            depth += 1
            deepest = max(deepest, depth)
        elif char in "]}":
            depth -= 1
    return deepest


def _json_or_none(value: str) -> Any:
    """The JSON in a parameter as Datasette would read it, or None when it is not JSON (or nests too deeply)."""
    if json_depth(value) > MAX_JSON_DEPTH:
        return None
    try:
        return json.loads(value)
    except (ValueError, RecursionError):
        return None


def _refuse_through(value: str) -> Refusal | None:
    through = _json_or_none(value)
    if not (
        isinstance(through, dict)
        and isinstance(through.get("table"), str)
        and isinstance(through.get("column"), str)
        and isinstance(through.get("value"), (str, int, float))
        and "]" not in through["table"] + through["column"]
    ):
        return Refusal(
            400,
            "invalid_parameter",
            '_through must be {"table": …, "column": …, "value": …} naming a table',
            "_through",
        )
    return None


def _refuse_in_list(key: str, value: str) -> Refusal | None:
    """`column__in=[…]` is parsed as JSON by Datasette; anything but a list of scalars is a 500 there."""
    if not value.startswith("["):
        return None
    values = _json_or_none(value)
    if not isinstance(values, list) or not all(isinstance(v, (str, int, float)) for v in values):
        return Refusal(400, "invalid_parameter", f"{key} must be a JSON list of strings or numbers", key)
    return None


def _refuse_facet(key: str, value: str) -> Refusal | None:
    """`_facet={…}` is parsed as JSON by Datasette; anything but {"simple": column} is a 500 there."""
    if not value.startswith("{"):
        return None
    config = _json_or_none(value)
    column = config.get("simple") if isinstance(config, dict) else None
    if not isinstance(column, str) or not column:
        return Refusal(400, "invalid_parameter", f'{key} must be a column name or {{"simple": column}}', key)
    return None


def _refuse_parameters(query_string: bytes) -> Refusal | None:
    if len(query_string) > MAX_QUERY_BYTES:
        return Refusal(414, "uri_too_long", f"the query string is longer than {MAX_QUERY_BYTES} bytes")
    if query_string.count(b"&") + query_string.count(b";") >= MAX_PARAMETERS:
        return Refusal(400, "too_many_parameters", f"at most {MAX_PARAMETERS} query parameters are accepted")
    # Parsed exactly as Datasette parses request.args.
    pairs = parse_qsl(query_string.decode("latin-1"), keep_blank_values=True)
    keys = {key for key, _value in pairs}
    for key, value in pairs:
        if "\x00" in key or (key.startswith("_") and "\x00" in value):
            # Datasette pastes parameter names and _where into SQL text, which cannot hold a NUL
            return Refusal(400, "invalid_parameter", "Datasette's parameters must not contain NUL characters", key)
        if "]" in key:
            return Refusal(400, "invalid_parameter", "parameter names must not contain ]", key)
        names_identifier = key.startswith("_") and not key.startswith("_search_") and key not in FREE_TEXT_PARAMETERS
        if names_identifier and "]" in value:
            return Refusal(400, "invalid_parameter", f"{key} names a column or table and must not contain ]", key)
        if key == "_timelimit" and not value.isdigit():
            return Refusal(400, "invalid_parameter", "_timelimit must be a whole number of milliseconds", key)
        if key == "_through" and (refusal := _refuse_through(value)):
            return refusal
        if key.endswith(("__in", "__notin")) and (refusal := _refuse_in_list(key, value)):
            return refusal
        if key.startswith("_facet") and (refusal := _refuse_facet(key, value)):
            return refusal
    if {"_sort", "_sort_desc"} <= keys:
        return Refusal(400, "invalid_parameter", "use either _sort or _sort_desc, not both", "_sort_desc")
    return None


def check_request(scope: Scope) -> Refusal | None:
    """Why this HTTP request must not reach Datasette, or None when it may."""
    method = str(scope.get("method", "GET")).upper()
    if method not in ALLOWED_METHODS:
        return Refusal(405, "method_not_allowed", f"{method} is not allowed: the portal is read-only")
    headers = dict(scope.get("headers") or [])
    length = headers.get(b"content-length", b"0").strip() or b"0"
    if length != b"0" or b"transfer-encoding" in headers:
        return Refusal(413, "payload_too_large", "requests must not carry a body")
    path = scope.get("path") or "/"
    if path.rstrip("/") in CLOSED_PATHS:
        return Refusal(404, "not_found", "this page is not served")
    raw = scope.get("raw_path")
    query_string = scope.get("query_string") or b""
    if is_plain(raw, path, query_string):
        return None
    raw_path = raw.decode("latin-1").partition("?")[0] if isinstance(raw, bytes) else path
    return _refuse_path(raw_path, path) or _refuse_parameters(query_string)


def is_plain(raw_path: object, path: str, query_string: bytes) -> bool:
    """True for the common request that no rule can refuse: a short path of letters, digits and
    `/._-` (so nothing encoded, no `//` start, no `]` or `~5d`) and parameters whose names do not
    start with `_` and whose values hold no JSON, `]`, escape or NUL. It skips the full parse."""
    return (
        isinstance(raw_path, bytes)
        and len(raw_path) <= MAX_PATH_BYTES
        and len(query_string) <= MAX_QUERY_BYTES
        and _PLAIN_PATH.fullmatch(raw_path) is not None
        and raw_path.decode("latin-1") == path
        and _PLAIN_QUERY.fullmatch(query_string) is not None
        and query_string.count(b"&") < MAX_PARAMETERS
    )


def is_safe_location(location: str, host: str | None) -> bool:
    """True when a redirect to `location` stays on this site.

    Browsers drop tabs and line breaks and treat a backslash like a slash, so `/\\evil.example`
    and `/\t/evil.example` mean `//evil.example`: only a path with one leading slash, or an
    absolute http(s) URL to our own host, is safe.
    """
    cleaned = _CONTROL.sub("", location).strip().replace("\\", "/")
    if cleaned.startswith("/"):
        return not cleaned.startswith("//")
    if _SCHEME.match(cleaned):
        parts = urlsplit(cleaned)
        return parts.scheme in ("http", "https") and bool(host) and parts.netloc.lower() == (host or "").lower()
    # A relative reference such as `kechuang` or `?page=2` stays on the site.
    return not cleaned.startswith("//")


def security_headers(content_type: str) -> dict[str, str]:
    """The headers every response carries; the CSP depends on whether it is a page."""
    policy = PAGE_POLICY if content_type.lower().startswith("text/html") else DATA_POLICY
    return {**COMMON_HEADERS, "content-security-policy": policy}


def nginx_headers(indent: str = "        ") -> str:
    """The headers of a response nginx answers itself (release files, its own errors), as `add_header`
    lines: the same values as the guard's, with the policy for non-pages."""
    headers = {**COMMON_HEADERS, "content-security-policy": DATA_POLICY}
    return f"\n{indent}".join(f'add_header {name} "{value}" always;' for name, value in headers.items())


@functools.lru_cache(maxsize=64)
def _encoded_security_headers(content_type: bytes) -> tuple[tuple[bytes, bytes], ...]:
    headers = security_headers(content_type.decode("latin-1"))
    return tuple((name.encode(), value.encode()) for name, value in headers.items())


def _with_security_headers(headers: list[tuple[bytes, bytes]]) -> list[tuple[bytes, bytes]]:
    present = {name.lower(): value for name, value in headers}
    extra = _encoded_security_headers(present.get(b"content-type", b""))
    return [*headers, *(h for h in extra if h[0] not in present)]


# The page a refusal is answered with instead of the JSON error, or None to keep the JSON (for clients of data).
RefusalPage = Callable[[Scope, Refusal], Awaitable[Any]]


async def send_refusal(
    refusal: Refusal, send: Send, scope: Scope | None = None, page: RefusalPage | None = None
) -> None:
    response = await page(scope or {}, refusal) if page is not None else None
    if response is None:
        response = error_response(refusal.status, refusal.message, param=refusal.param, code=refusal.code)
    await response.asgi_send(send)


def _host(scope: Scope) -> str:
    return next((v.decode("latin-1") for n, v in scope.get("headers") or [] if n == b"host"), "")


def wrap(app: ASGIApp, page: RefusalPage | None = None) -> ASGIApp:
    """The ASGI application that guards `app`; `page` may answer a refusal with a page (see RefusalPage)."""

    async def guarded(scope: Scope, receive: Receive, send: Send) -> None:
        if scope.get("type") != "http":
            await app(scope, receive, send)
            return

        async def secured_send(message: Message) -> None:
            if message["type"] == "http.response.start":
                message = {**message, "headers": _with_security_headers(list(message.get("headers") or []))}
            await send(message)

        refusal = check_request(scope)
        if refusal is not None:
            await send_refusal(refusal, secured_send, scope, page)
            return
        redirect_refused = False

        async def checked_send(message: Message) -> None:
            nonlocal redirect_refused
            if redirect_refused:
                return
            if message["type"] == "http.response.start" and message.get("status", 200) in REDIRECTS:
                location = next(
                    (v.decode("latin-1") for n, v in message.get("headers") or [] if n.lower() == b"location"), None
                )
                if location is not None and not is_safe_location(location, _host(scope)):
                    redirect_refused = True
                    refused = Refusal(400, "invalid_path", "this address would redirect to another site")
                    await send_refusal(refused, secured_send, scope, page)
                    return
            await secured_send(message)

        await app(scope, receive, checked_send)

    return guarded
