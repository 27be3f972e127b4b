"""HTTP conventions shared by every route we own (/api/v1/…, /-/search, pages).

One place decides the error shape, CORS, caching and the data-release headers, so the API,
search and pages cannot drift apart.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any
from urllib.parse import parse_qsl

from datasette.utils.asgi import Response

DATABASE = "kechuang"
CACHE_SECONDS = 300
_release_cache: dict[int, dict[str, str]] = {}


async def data_release(datasette) -> dict[str, str]:
    """The release the served database carries: version and date (dev builds get a build stamp)."""
    key = id(datasette)
    if key not in _release_cache:
        db = datasette.get_database(DATABASE)
        rows = await db.execute("select key, value from _meta")
        meta = {row["key"]: row["value"] for row in rows}
        built = meta.get("built_at", "")
        _release_cache[key] = {
            "version": meta.get("release_version") or "dev-" + built.replace(":", "").replace("-", "")[:15],
            "date": meta.get("release_date") or built[:10],
            "built_at": built,
        }
    return _release_cache[key]


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
    wanted = request.headers.get("if-none-match", "")
    return etag in {tag.strip() for tag in wanted.split(",")} or wanted.strip() == "*"


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
    all_headers = {
        **common_headers(release),
        "ETag": etag,
        "Cache-Control": f"public, max-age={CACHE_SECONDS}",
        "Vary": "Accept, Accept-Encoding",
        **(headers or {}),
    }
    if status == 200 and not_modified(request, etag):
        return Response("", status=304, headers=all_headers, content_type=content_type)
    if request.method == "HEAD":
        body = ""
    return Response(body, status=status, headers=all_headers, content_type=content_type)


def json_body(payload: Any) -> str:
    return json.dumps(payload, ensure_ascii=False, separators=(",", ":"))


def json_response(request, payload: Any, release: dict[str, str], **kwargs) -> Response:
    return cached_response(request, json_body(payload), "application/json; charset=utf-8", release, **kwargs)


ERROR_CODES = {
    400: "bad_request",
    404: "not_found",
    405: "method_not_allowed",
    406: "not_acceptable",
    413: "payload_too_large",
    414: "uri_too_long",
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
        headers["Allow"] = "GET, HEAD, OPTIONS"
    return Response(json_body(payload), status=status, headers=headers, content_type="application/json; charset=utf-8")
