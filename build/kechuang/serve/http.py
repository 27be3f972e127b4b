"""HTTP conventions shared by every route we own (/api/v1/…, /-/search, pages).

One place decides the error shape, CORS, caching and the data-release headers, so the API,
search and pages cannot drift apart.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import parse_qsl

from datasette.utils.asgi import Response

from kechuang.serve.state import served_meta

DATABASE = "kechuang"
CACHE_SECONDS = 300
ALLOWED_METHODS = "GET, HEAD, OPTIONS"
MAX_QUERY_FIELDS = 1024  # lists may be repeated (status=a&status=b); the request guard admits 100 in all
log = logging.getLogger("kechuang.serve.http")


async def data_release(datasette) -> dict[str, str]:
    """The release the served database carries: version and date (dev builds get a build stamp)."""
    return (await served_meta(datasette)).release


def configure_access_log() -> None:
    """Keep uvicorn's per-request access log only when KECHUANG_ACCESS_LOG=1.

    Formatting one INFO line per request costs about as much as answering a cached API request
    (tests/benchmarks/bench_api.py measures both); a proxy in front keeps the access log anyway.
    """
    if os.environ.get("KECHUANG_ACCESS_LOG") != "1":
        # Without handlers uvicorn skips the log call and the formatting of its arguments altogether.
        access = logging.getLogger("uvicorn.access")
        access.handlers.clear()
        access.propagate = False


def etag_for(release: str, request, variant: str = "") -> str:
    """A strong ETag: the data release plus everything in the request that shapes the response."""
    query = sorted(parse_qsl(request.query_string, keep_blank_values=True))
    basis = json.dumps([release, request.path, query, variant], ensure_ascii=False)
    return '"' + hashlib.sha256(basis.encode()).hexdigest()[:32] + '"'


def common_headers(release: dict[str, str] | None) -> dict[str, str]:
    headers = {
        "Access-Control-Allow-Origin": "*",
        "Access-Control-Expose-Headers": "ETag, X-Data-Release, Link",
    }
    if release:
        headers["X-Data-Release"] = release["version"]
    return headers


def not_modified(request, etag: str) -> bool:
    return etag_matches(request.headers.get("if-none-match", ""), etag)


def etag_matches(if_none_match: str, etag: str) -> bool:
    """If-None-Match semantics (weak comparison, as RFC 9110 asks for GET): any listed tag, or `*`."""
    tags = {tag.strip().removeprefix("W/") for tag in if_none_match.split(",")}
    return etag in tags or if_none_match.strip() == "*"


def cacheable_headers(
    release: dict[str, str], etag: str, content_type: str, extra: dict[str, str] | None = None
) -> dict[str, str]:
    """The headers of every cacheable 200 (and its 304): CORS, release, ETag, Cache-Control, Vary."""
    return {
        **common_headers(release),
        "ETag": etag,
        "Cache-Control": f"public, max-age={CACHE_SECONDS}",
        # Datasette adds Cookie and Authorization to Vary; saying so here keeps every path identical.
        "Vary": "Accept, Accept-Encoding, Cookie, Authorization",
        **(extra or {}),
        "content-type": content_type,
    }


def cached_response(
    request,
    body: str | bytes,
    content_type: str,
    release: dict[str, str],
    variant: str = "",
    status: int = 200,
    headers: dict[str, str] | None = None,
) -> Response:
    """A cacheable response: ETag + Cache-Control, 304 on a matching If-None-Match, no body for HEAD."""
    etag = etag_for(release["version"], request, variant)
    all_headers = cacheable_headers(release, etag, content_type, headers)
    del all_headers["content-type"]
    if status == 200 and not_modified(request, etag):
        return Response("", status=304, headers=all_headers, content_type=content_type)
    if request.method == "HEAD":
        size = len(body.encode() if isinstance(body, str) else body)
        all_headers["Content-Length"] = str(size)
        body = ""
    return Response(body, status=status, headers=all_headers, content_type=content_type)


def json_body(payload: Any) -> str:
    return json.dumps(payload, ensure_ascii=False, separators=(",", ":"))


def json_response(request, payload: Any, release: dict[str, str], **kwargs) -> Response:
    return cached_response(request, json_body(payload), "application/json; charset=utf-8", release, **kwargs)


ERROR_CODES = {
    304: "not_modified",
    400: "bad_request",
    404: "not_found",
    405: "method_not_allowed",
    406: "not_acceptable",
    413: "payload_too_large",
    414: "uri_too_long",
    500: "internal_error",
    503: "unavailable",
}


def wants_json(request) -> bool:
    """True when the client asks for JSON rather than HTML (pages answer errors in the format asked for)."""
    accept = request.headers.get("accept", "").lower()
    if "text/html" in accept:
        return False
    return "json" in accept


def error_response(
    status: int,
    message: str,
    param: str | None = None,
    code: str | None = None,
    release: dict[str, str] | None = None,
) -> Response:
    """The one error shape: {"error": {"status", "code", "message", "param"}}, never cached."""
    payload = {
        "error": {
            "status": status,
            "code": code or ERROR_CODES.get(status, "error"),
            "message": message,
            "param": param,
        }
    }
    headers = {**common_headers(release), "Cache-Control": "no-store"}
    if status == 405:
        headers["Allow"] = ALLOWED_METHODS
    return Response(json_body(payload), status=status, headers=headers, content_type="application/json; charset=utf-8")


class HttpError(Exception):
    """A request we refuse, with the status and the parameter at fault; rendered by `error_response`."""

    def __init__(self, status: int, message: str, param: str | None = None, code: str | None = None):
        super().__init__(message)
        self.status = status
        self.message = message
        self.param = param
        self.code = code


def query_params(
    request, known: set[str] | frozenset[str] | None = None, repeatable: frozenset[str] = frozenset()
) -> dict[str, str]:
    """The query string as a dict, or HttpError 400: not UTF-8, too many fields, a name given twice,
    or (when `known` is given) a name the route does not take. A `repeatable` name (a list) given twice
    gets its values joined with commas: `?status=a&status=b` is `?status=a,b`, as generated clients send it."""
    try:
        text = request.query_string.encode("latin-1").decode("utf-8")
        pairs = parse_qsl(text, keep_blank_values=True, errors="strict", max_num_fields=MAX_QUERY_FIELDS)
    except UnicodeError:
        raise HttpError(400, "The query string is not valid UTF-8.") from None
    except ValueError:
        raise HttpError(400, f"The query string has more than {MAX_QUERY_FIELDS} parameters.") from None
    params: dict[str, str] = {}
    for name, value in pairs:
        if known is not None and name not in known:
            allowed = ", ".join(sorted(known)) or "none"
            raise HttpError(400, f"Unknown parameter {name!r}. This endpoint takes: {allowed}.", param=name)
        if name in params and name in repeatable:
            params[name] += "," + value
            continue
        if name in params:
            raise HttpError(400, f"{name!r} is given more than once; separate several values with commas.", name)
        params[name] = value
    return params


_MEDIA_RANGE = re.compile(r"^\s*([^\s;/]+)/([^\s;/]+)\s*(?:;(.*))?$")


def negotiate(accept: str | None, offered: list[str]) -> str | None:
    """The media type of `offered` the Accept header prefers (the first offered on a tie), or None
    when it accepts none of them. Each offer takes the q of the most specific range that matches it."""
    if not accept or not accept.strip():
        return offered[0]
    ranges: list[tuple[str, str, float]] = []
    for part in accept.split(","):
        match = _MEDIA_RANGE.match(part)
        if not match:
            continue
        q = 1.0
        for param in (match.group(3) or "").split(";"):
            key, _, value = param.strip().partition("=")
            if key.strip().lower() == "q":
                try:
                    q = min(max(float(value), 0.0), 1.0)
                except ValueError:
                    q = 0.0
        ranges.append((match.group(1).lower(), match.group(2).lower(), q))
    best, best_q = None, 0.0
    for media in offered:
        kind, sub = media.split("/")
        quality, specificity = 0.0, -1
        for r_kind, r_sub, q in ranges:
            level = 2 if (r_kind, r_sub) == (kind, sub) else 1 if (r_kind, r_sub) == (kind, "*") else 0
            if (level or (r_kind, r_sub) == ("*", "*")) and level > specificity:
                quality, specificity = q, level
        if quality > best_q:
            best, best_q = media, quality
    return best


PREFLIGHT_HEADERS = ("Accept", "Content-Type", "If-None-Match")  # what clients of a read-only API send


def preflight_response(request) -> Response:
    """The answer to a CORS preflight (OPTIONS): any origin may GET, with the headers it asks for."""
    asked = request.headers.get("access-control-request-headers", "")
    named = [h.strip() for h in asked.split(",") if re.fullmatch(r"[A-Za-z0-9-]{1,64}", h.strip())]
    known = {h.lower() for h in PREFLIGHT_HEADERS}
    allowed = ", ".join([*PREFLIGHT_HEADERS, *(h for h in dict.fromkeys(named) if h.lower() not in known)])
    headers = {
        **common_headers(None),
        "Access-Control-Allow-Methods": ALLOWED_METHODS,
        "Access-Control-Allow-Headers": allowed,
        "Access-Control-Max-Age": "86400",
        "Allow": ALLOWED_METHODS,
        "Cache-Control": f"public, max-age={CACHE_SECONDS}",
    }
    return Response("", status=204, headers=headers, content_type="text/plain")


View = Callable[..., Awaitable[Response]]


def guarded(view: View) -> View:
    """Wrap a route we own: methods other than GET/HEAD/OPTIONS get 405, OPTIONS the CORS preflight,
    an HttpError its JSON error, and anything unexpected is logged and still answered in JSON."""

    async def route(request, datasette) -> Response:
        if request.method == "OPTIONS":
            return preflight_response(request)
        if request.method not in ("GET", "HEAD"):
            return error_response(405, f"{request.method} is not allowed here; use GET or HEAD.")
        try:
            return await view(request, datasette)
        except HttpError as error:
            return error_response(error.status, error.message, error.param, error.code)
        except Exception:
            log.exception("unexpected error answering %s", request.path)
            return error_response(500, "An unexpected error occurred; it has been logged.", code="internal_error")

    route.__name__ = view.__name__
    route.__doc__ = view.__doc__
    return route


# What one cache entry costs beyond its key and body: the entry tuple, the value tuple, the headers
# and the ordered-dict slot, measured with tracemalloc (about 1.5 KB with the API's headers).
ENTRY_OVERHEAD = 2048


def key_size(key: Any) -> int:
    """Bytes a cache key holds: its strings and byte strings, however nested."""
    if isinstance(key, (str, bytes)):
        return len(key)
    if isinstance(key, (tuple, list, frozenset, set)):
        return sum(key_size(part) for part in key)
    if isinstance(key, dict):
        return sum(key_size(k) + key_size(v) for k, v in key.items())
    return 8


class ResponseCache:
    """Finished responses by request, for a database that never changes while it is served.
    Least recently used entries go first once the entries pass `max_bytes`.

    An entry counts its key and a fixed overhead as well as its body: a visitor can make a key of up
    to 8 KB (the longest query string the request guard lets through) for a body of 100 bytes, and
    counting bodies alone let a flood of distinct requests hold gigabytes under a 64 MB budget.
    """

    def __init__(self, max_bytes: int = 64 * 2**20):
        self.max_bytes = max_bytes
        self.size = 0
        self.entries: OrderedDict[Any, tuple[Any, int]] = OrderedDict()

    def get(self, key: Any) -> Any:
        entry = self.entries.get(key)
        if entry is None:
            return None
        self.entries.move_to_end(key)
        return entry[0]

    def put(self, key: Any, value: Any, size: int) -> None:
        size += key_size(key) + ENTRY_OVERHEAD
        if size > self.max_bytes // 8:
            return
        if key in self.entries:
            self.size -= self.entries.pop(key)[1]
        self.entries[key] = (value, size)
        self.size += size
        while self.size > self.max_bytes:
            _, (_old, old_size) = self.entries.popitem(last=False)
            self.size -= old_size
