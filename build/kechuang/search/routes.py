"""The two search routes: `GET /api/v1/search` (JSON) and the page `/-/search` (HTML).

Parameters are checked here and every mistake gets a 400 in the shared error shape; the search
itself runs in Datasette's thread pool under a time limit. Headers, ETags and caching come from
`kechuang.web`, like every route we own.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

from datasette.utils import sqlite_timelimit
from datasette.utils.asgi import Response

from .. import web
from ..site.routes import HTML, VARY, request_language
from .rank import MATCH_CAP
from .records import compiled_schemas
from .service import SearchIndex, SearchResult, load_search_index, run_search

API_PATH = r"^/api/v1/search$"
PAGE_PATH = r"^/-/search$"
MAX_QUERY_CHARS = 1000
DEFAULT_LIMIT = 20
MAX_LIMIT = 100
MAX_OFFSET = MATCH_CAP  # no match beyond the cap is ranked
PAGE_LIMIT = 60
TIME_LIMIT_MS = 2000


class BadRequest(Exception):
    """A request parameter the person must correct."""

    def __init__(self, message: str, param: str | None, code: str = "bad_request"):
        super().__init__(message)
        self.message, self.param, self.code = message, param, code


class SearchUnavailable(Exception):
    """The served database was built without the search tables."""


@dataclass
class SearchContext:
    """What a served database needs for search, loaded once per data release."""

    index: SearchIndex
    labels: dict[str, tuple[str, str]] = field(default_factory=dict)  # type → (English, Chinese)

    @property
    def types(self) -> list[str]:
        return self.index.types


_contexts: dict[tuple[int, str], SearchContext] = {}


async def search_context(datasette, release: dict[str, str]) -> SearchContext:
    key = (id(datasette), release["built_at"])
    if key not in _contexts:
        db = datasette.get_database(web.DATABASE)

        def load(conn: sqlite3.Connection) -> SearchContext:
            from sqlite_utils import Database

            schemas = compiled_schemas(Database(conn))
            labels = {name: (s.title, s.title_zh) for name, s in schemas.items()}
            return SearchContext(load_search_index(conn), labels)

        try:
            _contexts[key] = await db.execute_fn(load)
        except sqlite3.OperationalError as error:
            raise SearchUnavailable(
                f"this database has no search index ({error}); rebuild it with `kechuang build`"
            ) from None
    return _contexts[key]


def _integer(request, name: str, default: int, low: int, high: int) -> int:
    raw = request.args.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw.strip())
    except ValueError:
        raise BadRequest(f"{name} must be a whole number from {low} to {high}, got {raw[:40]!r}", name) from None
    if not low <= value <= high:
        raise BadRequest(f"{name} must be from {low} to {high}, got {value}", name)
    return value


@dataclass
class SearchParams:
    q: str
    types: list[str]
    limit: int
    offset: int


def read_params(request, context: SearchContext, default_limit: int = DEFAULT_LIMIT) -> SearchParams:
    """The validated parameters of a search request; BadRequest says which one is wrong and why."""
    q = request.args.get("q") or ""
    if not q.strip():
        raise BadRequest("q is required: the words to search for, in Chinese, English or pinyin", "q", "missing_query")
    if len(q) > MAX_QUERY_CHARS:
        raise BadRequest(
            f"q is {len(q)} characters long; search takes at most {MAX_QUERY_CHARS}", "q", "query_too_long"
        )
    types: list[str] = []
    for raw in request.args.getlist("type"):
        for name in raw.split(","):
            name = name.strip()
            if not name:
                continue
            if name not in context.types:
                raise BadRequest(
                    f"type {name[:60]!r} is not searchable; use one of: {', '.join(context.types)}", "type"
                )
            types.append(name)
    limit = _integer(request, "limit", default_limit, 1, MAX_LIMIT)
    offset = _integer(request, "offset", 0, 0, MAX_OFFSET)
    return SearchParams(q, list(dict.fromkeys(types)), limit, offset)


async def execute_search(
    datasette, context: SearchContext, params: SearchParams, html_titles: bool = False
) -> SearchResult:
    db = datasette.get_database(web.DATABASE)

    def run(conn: sqlite3.Connection) -> SearchResult:
        with sqlite_timelimit(conn, TIME_LIMIT_MS):
            return run_search(conn, params.q, context.index, params.types, params.limit, params.offset, html_titles)

    try:
        return await db.execute_fn(run)
    except sqlite3.OperationalError as error:
        if "interrupted" not in str(error):
            raise
        raise BadRequest("this query matches too much to rank in time; add words to narrow it", "q", "query_too_broad") from None


def _method_response(request, release: dict[str, str]) -> Response | None:
    """OPTIONS (CORS preflight) and unsupported methods; None for GET and HEAD."""
    if request.method == "OPTIONS":
        headers = {
            **web.common_headers(release),
            "Allow": "GET, HEAD, OPTIONS",
            "Access-Control-Allow-Methods": "GET, HEAD, OPTIONS",
            "Access-Control-Allow-Headers": "If-None-Match",
            "Access-Control-Max-Age": "86400",
        }
        return Response("", status=204, headers=headers)
    if request.method not in ("GET", "HEAD"):
        return web.error_response(405, f"{request.method} is not supported; use GET", release=release)
    return None


async def search_api(datasette, request) -> Response:
    """GET /api/v1/search?q=&type=&limit=&offset= → {"query", "total", "results": [...]}."""
    release = await web.data_release(datasette)
    if (response := _method_response(request, release)) is not None:
        return response
    try:
        context = await search_context(datasette, release)
    except SearchUnavailable as missing:
        return web.error_response(503, str(missing), code="search_unavailable", release=release)
    try:
        params = read_params(request, context)
        found = await execute_search(datasette, context, params)
    except BadRequest as bad:
        return web.error_response(400, bad.message, param=bad.param, code=bad.code, release=release)
    results = [{**r, "url": datasette.urls.path(r["url"])} for r in found.results]
    payload = {"query": found.query, "total": found.total, "results": results}
    return web.json_response(request, payload, release)


def group_results(results: list[dict[str, Any]], labels: dict[str, tuple[str, str]]) -> list[dict[str, Any]]:
    """Results grouped by type, groups in the order of their best result."""
    groups: dict[str, dict[str, Any]] = {}
    for result in results:
        english, chinese = labels.get(result["type"], (result["type"], ""))
        group = groups.setdefault(
            result["type"], {"type": result["type"], "label_en": english, "label_zh": chinese, "results": []}
        )
        group["results"].append(result)
    return list(groups.values())


async def search_page(datasette, request) -> Response:
    """The search page: a form, then the results grouped by type, each in Chinese and English."""
    release = await web.data_release(datasette)
    if (response := _method_response(request, release)) is not None:
        return response
    page: dict[str, Any] = {"q": request.args.get("q") or "", "error": None, "groups": [], "total": None}
    page["types"], page["selected_types"] = [], []
    try:
        context = await search_context(datasette, release)
    except SearchUnavailable as missing:
        page["error"] = str(missing)
        body = await datasette.render_template("search.html", page, request=request)
        headers = {**web.common_headers(release), "Cache-Control": "no-store", "Vary": VARY}
        return Response(body, status=503, headers=headers, content_type=HTML)
    page["types"] = [(t, *context.labels.get(t, (t, ""))) for t in context.types]
    status = 200
    if page["q"].strip():
        try:
            params = read_params(request, context, default_limit=PAGE_LIMIT)
            found = await execute_search(datasette, context, params, html_titles=True)
        except BadRequest as bad:
            page["error"], status = bad.message, 400
        else:
            page["selected_types"] = params.types
            results = [{**r, "url": datasette.urls.path(r["url"])} for r in found.results]
            page["total"] = found.total
            page["groups"] = group_results(results, context.labels)
            page["offset"] = params.offset
            if params.offset + len(found.results) < found.total:
                query = [("q", params.q), *(("type", t) for t in params.types)]
                query += [("limit", params.limit), ("offset", params.offset + params.limit)]
                page["next_url"] = datasette.urls.path("/-/search?" + urlencode(query))
    body = await datasette.render_template("search.html", page, request=request)
    # The results are bilingual; the site's header and footer around them follow the reader's language.
    headers = {"Vary": VARY, **({"Cache-Control": "no-store"} if status != 200 else {})}
    lang = request_language(request)
    return web.cached_response(request, body, HTML, release, variant=lang, status=status, headers=headers)
