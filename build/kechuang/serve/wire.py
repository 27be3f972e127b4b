"""HTTP once for every path, Datasette's own included: preflights, conditional requests, framing, compression.

Our routes follow `kechuang.serve.http`; Datasette's JSON and CSV, its database download and anything
else it answers pass through two ASGI wrappers (`http_conventions` right around Datasette, inside the
request guard; `compression` outermost), so a client sees the same conventions everywhere:

- every CORS preflight (OPTIONS) is answered 204 with the headers clients send (`http.preflight_response`);
- Datasette's JSON and CSV carry an ETag (the served database never changes while it is served) and a
  matching If-None-Match is answered 304 without running a query;
- Datasette's CSV has its formula cells made inert, as the API's and the release's (`inert_csv`);
- the server frames the body: an application's `Transfer-Encoding` is dropped (Datasette's database
  download sends it beside `Content-Length`, which HTTP forbids and Node's clients refuse);
- brotli, or gzip, when the client asks (brotli-asgi), also when no nginx is in front; the ETag
  becomes weak for a client that accepts compression, as nginx makes it.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any
from urllib.parse import quote

from brotli_asgi import BrotliMiddleware
from datasette.utils.asgi import Request

from kechuang.serve import http as web
from kechuang.serve.inert_csv import inert_csv

Scope = MutableMapping[str, Any]
ASGIApp = Callable[[Scope, Callable, Callable], Awaitable[None]]

# Datasette's JSON and CSV of the database, its tables, rows and queries (not the .db file: Datasette's own ETag).
DATASETTE_DATA = re.compile(rf"^/{web.DATABASE}(/[^?]*)?\.(json|csv)$")
COMPRESS_FROM_BYTES = 500
BROTLI_QUALITY = 4  # brotli-asgi's default: about gzip's speed, a fifth smaller


def _header(scope: Scope, name: bytes) -> str:
    for key, value in scope.get("headers") or ():
        if key.lower() == name:
            return value.decode("latin-1")
    return ""


def framed(send: Callable) -> Callable:
    """`send` without an application's Transfer-Encoding: the server chooses the framing."""

    async def send_framed(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start":
            headers = [(k, v) for k, v in message.get("headers") or () if k.lower() != b"transfer-encoding"]
            message = {**message, "headers": headers}
        await send(message)

    return send_framed


def weak_when_encodable(send: Callable) -> Callable:
    """`send` with the ETag made weak and the Vary header said once, for a client that accepts compression.

    A compressed body's bytes differ from the identity body's, so its ETag is weak (as nginx makes it);
    a 304 or a body too small to compress to the same client gets the same weak tag, so the tag a client
    holds never depends on a body's size. The compressor adds Accept-Encoding to Vary even where our routes
    already did.
    """

    async def send_weak(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start":
            headers = [
                (k, b"W/" + v if k.lower() == b"etag" and not v.startswith(b"W/") else v)
                for k, v in message.get("headers") or ()
            ]
            varies = [part.strip() for k, v in headers if k.lower() == b"vary" for part in v.split(b",")]
            if varies:
                once: dict[bytes, bytes] = {}
                for part in varies:
                    once.setdefault(part.lower(), part)
                headers = [(k, v) for k, v in headers if k.lower() != b"vary"] + [(b"vary", b", ".join(once.values()))]
            message = {**message, "headers": headers}
        await send(message)

    return send_weak


def accepts_compression(scope: Scope) -> bool:
    """What brotli-asgi and its gzip fallback test: `br` or `gzip` anywhere in Accept-Encoding."""
    accepted = _header(scope, b"accept-encoding")
    return "br" in accepted or "gzip" in accepted


def with_encoded_name(disposition: bytes) -> bytes:
    """Datasette's `attachment; filename="x.csv"` with the RFC 6266 `filename*` every browser reads."""
    match = re.search(rb'filename="([^"]*)"', disposition)
    if b"filename*" in disposition or not match:
        return disposition
    name = match.group(1).decode("latin-1")
    return disposition + f"; filename*=UTF-8''{quote(name, safe='')}".encode()


def with_etag(send: Callable, etag: str) -> Callable:
    """`send` with the ETag on a 200, readable by scripts of other origins, and a download's name per RFC 6266."""

    async def send_tagged(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start" and message.get("status") == 200:
            headers = [
                (k, v)
                for k, v in message.get("headers") or ()
                if k.lower() not in (b"etag", b"access-control-expose-headers")
            ]
            headers += [(b"etag", etag.encode()), (b"access-control-expose-headers", b"ETag, X-Data-Release, Link")]
            headers = [(k, with_encoded_name(v) if k.lower() == b"content-disposition" else v) for k, v in headers]
            message = {**message, "headers": headers}
        await send(message)

    return send_tagged


def http_conventions(datasette) -> Callable[[ASGIApp], ASGIApp]:
    """The `asgi_wrapper` around Datasette itself: preflights, Datasette's ETags and 304s, inert CSV, framing.

    Innermost, so the request guard's security headers and refusals apply to what it answers."""

    def wrap(app: ASGIApp) -> ASGIApp:
        async def conventions(scope: Scope, receive: Callable, send: Callable) -> None:
            if scope.get("type") != "http":
                await app(scope, receive, send)
                return
            send = framed(send)
            method = scope.get("method")
            if method == "OPTIONS":
                await web.preflight_response(Request(scope, receive)).asgi_send(send)
                return
            if method in ("GET", "HEAD") and DATASETTE_DATA.match(scope.get("path", "")):
                request = Request(scope, receive)
                release = await web.data_release(datasette)
                etag = web.etag_for(release["version"], request, "datasette")
                if_none_match = _header(scope, b"if-none-match")
                if if_none_match and web.etag_matches(if_none_match, etag):
                    headers = {**web.common_headers(release), "ETag": etag, "Vary": "Cookie, Authorization"}
                    await send({"type": "http.response.start", "status": 304, "headers": _encode(headers)})
                    await send({"type": "http.response.body", "body": b""})
                    return
                send = with_etag(send, etag)
                if scope.get("path", "").endswith(".csv"):
                    send = inert_csv(send)
            await app(scope, receive, send)

        return conventions

    return wrap


def compression(app: ASGIApp) -> ASGIApp:
    """The outermost `asgi_wrapper`: brotli or gzip for what the client accepts, ETags weak for such a client."""
    compressed = BrotliMiddleware(app, quality=BROTLI_QUALITY, minimum_size=COMPRESS_FROM_BYTES, gzip_fallback=True)

    async def outermost(scope: Scope, receive: Callable, send: Callable) -> None:
        if scope.get("type") == "http" and accepts_compression(scope):
            send = weak_when_encodable(send)
        await compressed(scope, receive, send)

    return outermost


def _encode(headers: dict[str, str]) -> list[tuple[bytes, bytes]]:
    return [(k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in headers.items()]
