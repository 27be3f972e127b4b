"""Answer a repeated API request before Datasette routes it.

The database is immutable, so a GET that was answered once is answered the same way until the
process stops. The routes record each finished 200 by its exact request (path, raw query
string, Accept); this ASGI wrapper replays it, honouring If-None-Match and HEAD, without going
through Datasette's router, actor hooks and cookie handling. Requests that carry a cookie or an
Authorization header always take the full path, where Datasette applies its privacy rules, and so do
requests with `?lang=` (the site's wrapper takes it out of the query string before this one sees it).
Measured by tests/benchmarks/bench_api.py.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, MutableMapping
from dataclasses import dataclass
from typing import Any

from kechuang.serve import http as web
from kechuang.serve.api.collections import PREFIX
from kechuang.serve.site.routes import LANG_SCOPE_KEY

Scope = MutableMapping[str, Any]
ASGIApp = Callable[[Scope, Callable, Callable], Awaitable[None]]
RawKey = tuple[bytes, bytes, bytes]
_PREFIX = PREFIX.encode()
_PERSONAL = (b"cookie", b"authorization")


@dataclass(frozen=True)
class Finished:
    """A 200 response as sent: its ETag, headers (without length) and body."""

    etag: str
    headers: list[tuple[bytes, bytes]]
    body: bytes


def raw_key(scope: Scope) -> RawKey | None:
    """The exact request, or None when it must take the full path (other methods, cookies, auth)."""
    if scope.get("type") != "http" or scope.get("method") not in ("GET", "HEAD"):
        return None
    if scope.get(LANG_SCOPE_KEY):  # `?lang=` was taken out of the query string: the key would not show it
        return None
    path = scope.get("raw_path") or scope.get("path", "").encode()
    path = path.partition(b"?")[0]
    if not path.startswith(_PREFIX):
        return None
    accept = b""
    for name, value in scope.get("headers") or ():
        lowered = name.lower()
        if lowered in _PERSONAL:
            return None
        if lowered == b"accept":
            accept = value
    return path, scope.get("query_string") or b"", accept


def finished(etag: str, headers: dict[str, str], body: bytes) -> Finished:
    encoded = [(k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in headers.items()]
    return Finished(etag, encoded, body)


async def replay(scope: Scope, send: Callable, entry: Finished) -> None:
    if_none_match = ""
    for name, value in scope.get("headers") or ():
        if name.lower() == b"if-none-match":
            if_none_match = value.decode("latin-1")
    if if_none_match and web.etag_matches(if_none_match, entry.etag):
        await send({"type": "http.response.start", "status": 304, "headers": entry.headers})
        await send({"type": "http.response.body", "body": b""})
        return
    headers = [*entry.headers, (b"content-length", str(len(entry.body)).encode())]
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    await send({"type": "http.response.body", "body": b"" if scope["method"] == "HEAD" else entry.body})


def fast_path(datasette, lookup: Callable[[Any], web.ResponseCache | None]) -> Callable[[ASGIApp], ASGIApp]:
    """An `asgi_wrapper`: replays finished responses from `lookup(datasette)`'s cache, else calls Datasette."""

    def wrap(app: ASGIApp) -> ASGIApp:
        if datasette.setting("base_url") != "/":
            return app

        async def asgi(scope: Scope, receive: Callable, send: Callable) -> None:
            key = raw_key(scope)
            cache = lookup(datasette) if key is not None else None
            entry = cache.get(key) if cache is not None else None
            if entry is None:
                await app(scope, receive, send)
            else:
                await replay(scope, send, entry)

        return asgi

    return wrap
