"""The /api/v1 routes: each view validates, negotiates, then answers from the response cache or the database.

The served database is immutable, so a finished response depends only on the data release and
the request; it is kept in a per-process cache and revalidated by ETag. Views run inside
`web.guarded`, which answers OPTIONS, 405 and every error in the one JSON error shape.
"""

from __future__ import annotations

import sqlite3
import weakref
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote, urlencode

from datasette.utils import sqlite_timelimit
from datasette.utils.asgi import Response
from markupsafe import Markup

from kechuang.serve import http as web
from kechuang.serve.api.collections import (
    PREFIX,
    Catalog,
    catalog_of,
    json_value,
)
from kechuang.serve.api.csv_export import write_csv, write_excel_csv, write_xlsx
from kechuang.serve.api.docs import render_docs
from kechuang.serve.api.fastpath import finished, raw_key
from kechuang.serve.api.items import fetch_item
from kechuang.serve.api.localize import localized_document
from kechuang.serve.api.openapi import openapi_document
from kechuang.serve.api.pagination import Position, encode_cursor
from kechuang.serve.api.query import ListQuery, known_params, list_params, parse_list_query
from kechuang.serve.http import HttpError
from kechuang.serve.search.matching import search_matches
from kechuang.serve.site import routes as site
from kechuang.serve.spreadsheets import XLSX, attachment
from kechuang.serve.state import served_meta

JSON = "application/json"
CSV = "text/csv"
EXCEL_CSV = "text/csv; bom"  # a cache and ETag variant of its own; answered as text/csv
OCTET = "application/octet-stream"  # what generated clients read as bytes; the workbook, if asked for so
HTML = "text/html"
JSON_CONTENT = "application/json; charset=utf-8"
QUERY_TIME_LIMIT_MS = 2000


@dataclass
class ApiState:
    """What one served database needs per process: its catalog, release, totals and finished responses."""

    catalog: Catalog
    release: dict[str, str]
    totals: dict[str, int]
    examples: dict[str, str]
    cache: web.ResponseCache = field(default_factory=web.ResponseCache)
    finished: web.ResponseCache = field(default_factory=web.ResponseCache)
    _spec: dict[str, Any] | None = None
    _localized: dict[str, dict[str, Any]] = field(default_factory=dict)

    @property
    def spec(self) -> dict[str, Any]:
        if self._spec is None:
            self._spec = openapi_document(self.catalog, self.release, self.examples)
        return self._spec

    def localized(self, lang: str) -> dict[str, Any]:
        """The document in `lang`: the spec itself in English, its translated copy (localize.py) in Chinese."""
        if lang == "en":
            return self.spec
        if lang not in self._localized:
            strings = site.strings(lang)["api_docs"]
            self._localized[lang] = localized_document(self.spec, self.catalog, strings)
        return self._localized[lang]


_states: weakref.WeakKeyDictionary[Any, ApiState] = weakref.WeakKeyDictionary()


async def api_state(datasette) -> ApiState:
    if datasette not in _states:
        db = datasette.get_database(web.DATABASE)
        release = await web.data_release(datasette)
        catalog = catalog_of((await served_meta(datasette)).model)
        totals, examples = {}, {}
        for name, collection in catalog.collections.items():
            first = (await db.execute(f'select count(*), min("{collection.key}") from "{name}"')).first()
            totals[name] = first[0]
            if first[1] is not None:
                examples[name] = first[1]
        _states[datasette] = ApiState(catalog, release, totals, examples)
    return _states[datasette]


async def run(datasette, fn) -> Any:
    """Run `fn(conn)` on the database's thread, under a time limit; a query that overruns is a 503."""

    def guarded(conn: sqlite3.Connection) -> Any:
        with sqlite_timelimit(conn, QUERY_TIME_LIMIT_MS):
            try:
                return fn(conn)
            except sqlite3.OperationalError as error:
                if error.args == ("interrupted",):
                    return HttpError(503, "The query took too long; narrow it with filters.", code="unavailable")
                raise

    result = await datasette.get_database(web.DATABASE).execute_fn(guarded)
    if isinstance(result, Exception):
        raise result
    return result


def _accept(request, offered: list[str]) -> str:
    chosen = web.negotiate(request.headers.get("accept"), offered)
    if chosen is None:
        raise HttpError(406, f"This endpoint answers with {' or '.join(offered)}; the Accept header allows neither.")
    return chosen


def _cache_key(request, params: dict[str, str], media: str) -> tuple:
    return (request.path, tuple(sorted(params.items())), media)


def _respond(request, state: ApiState, key: tuple, media: str) -> Response | None:
    hit = state.cache.get(key)
    if hit is None:
        return None
    body, content_type, headers = hit
    _remember(request, state, media, body, content_type, headers)
    return web.cached_response(request, body, content_type, state.release, variant=media, headers=headers)


def _store(
    request, state: ApiState, key: tuple, media: str, body: str | bytes, content_type: str, headers=None
) -> Response:
    data = body.encode("utf-8") if isinstance(body, str) else body
    state.cache.put(key, (data, content_type, headers or {}), len(data))
    _remember(request, state, media, data, content_type, headers)
    return web.cached_response(request, data, content_type, state.release, variant=media, headers=headers)


def _remember(request, state: ApiState, media: str, body: bytes, content_type: str, headers) -> None:
    """Keep the finished 200 under the exact request, for the fast path to replay."""
    raw = raw_key(request.scope)
    if raw is not None and state.finished.get(raw) is None:
        etag = web.etag_for(state.release["version"], request, media)
        state.finished.put(
            raw, finished(etag, web.cacheable_headers(state.release, etag, content_type, headers), body), len(body)
        )


def finished_responses(datasette) -> web.ResponseCache | None:
    """The fast path's cache for `datasette`, once the API has answered there."""
    state = _states.get(datasette)
    return state.finished if state is not None else None


def release_payload(state: ApiState) -> dict[str, str]:
    return {"version": state.release["version"], "date": state.release["date"]}


async def _document(request, datasette, media: str, content_type: str, render: Callable[[ApiState], Any]) -> Response:
    """A document that takes no parameters, rendered once per release and media type, then cached."""
    params = web.query_params(request, frozenset())
    state = await api_state(datasette)
    accepted = _accept(request, [media])
    key = _cache_key(request, params, accepted)
    if cached := _respond(request, state, key, accepted):
        return cached
    return _store(request, state, key, accepted, render(state), content_type)


def index_payload(state: ApiState) -> dict[str, Any]:
    """The collections with links, the data release and its date."""
    return {
        "api": "v1",
        "release": release_payload(state),
        "collections": [
            {
                "name": c.name,
                "title": c.schema.title,
                "title_zh": c.schema.title_zh,
                "description": c.schema.description,
                "count": state.totals[c.name],
                "url": c.path,
            }
            for c in state.catalog.collections.values()
        ],
        "links": {"openapi": f"{PREFIX}/openapi.json", "docs": f"{PREFIX}/docs"},
    }


async def index_view(request, datasette) -> Response:
    """GET /api/v1/: the collections with links, the data release and its date."""
    return await _document(request, datasette, JSON, JSON_CONTENT, lambda state: web.json_body(index_payload(state)))


async def openapi_view(request, datasette) -> Response:
    """GET /api/v1/openapi.json: the OpenAPI 3.1 document, generated from the schemas; `?lang=zh` (asked for
    in the URL only: the contract does not change with a cookie) a copy described in Chinese."""
    if site.requested_language(request) == "zh":
        web.query_params(request, frozenset())
        state = await api_state(datasette)
        _accept(request, [JSON])  # not kept for the fast path, which does not see `lang`
        return web.cached_response(request, web.json_body(state.localized("zh")), JSON_CONTENT, state.release, "zh")
    return await _document(request, datasette, JSON, JSON_CONTENT, lambda state: web.json_body(state.spec))


async def docs_view(request, datasette) -> Response:
    """GET /api/v1/docs: the human-readable reference, rendered from the OpenAPI document, in the reader's
    language (`?lang=`, cookie, Accept-Language, as every portal page), inside the portal's chrome."""
    web.query_params(request, frozenset())
    state = await api_state(datasette)
    media = _accept(request, [HTML])
    lang = site.request_language(request)
    labels = site.strings(lang)["api_docs"]
    key = ("docs", lang)
    fragment = state.cache.get(key)
    if fragment is None:
        openapi_href = f"{PREFIX}/openapi.json" + ("?lang=zh" if lang == "zh" else "")
        fragment = render_docs(state.localized(lang), labels, openapi_href)
        state.cache.put(key, fragment, len(fragment))
    context = {"page": {"body": Markup(fragment)}, "meta_description": labels["description"], "record_id": ""}
    body = await datasette.render_template("portal/api_docs.html", context, request=request)
    headers = {
        "Vary": "Accept, Accept-Encoding, Accept-Language, Cookie, Authorization",
        "Content-Language": site.i18n.HTML_LANG[lang],
    }
    return web.cached_response(request, body, HTML + "; charset=utf-8", state.release, f"{media}:{lang}", headers=headers)


def _collection(state: ApiState, name: str):
    collection = state.catalog.collections.get(name)
    if collection is None:
        raise HttpError(
            404,
            f"There is no collection {name[:60]!r}; the collections are {', '.join(state.catalog.collections)}.",
            "collection",
        )
    return collection


def _page(conn: sqlite3.Connection, query: ListQuery) -> tuple[list[dict[str, Any]], int, Position | None]:
    sql, params = query.rows_sql()
    cursor = conn.execute(sql, params)
    names = [d[0] for d in cursor.description]
    rows = [dict(zip(names, values, strict=True)) for values in cursor.fetchall()]
    count_sql, count_params = query.count_sql()
    total = conn.execute(count_sql, count_params).fetchone()[0]
    following = None
    if len(rows) > query.limit:
        rows = rows[: query.limit]
        last = rows[-1]
        following = Position(query.sort, query.descending, last[query.sort], last[query.collection.key])
    return rows, total, following


def _next_url(collection_path: str, params: dict[str, str], following: Position | None) -> str | None:
    if following is None:
        return None
    kept = {k: v for k, v in params.items() if k != "cursor"}
    kept["cursor"] = encode_cursor(following)
    return f"{collection_path}?{urlencode(kept)}"


async def collection_view(request, datasette) -> Response:
    """GET /api/v1/{collection}: filtered, sorted, paged records as JSON, CSV, CSV for Excel or a workbook."""
    return await _collection_page(request, datasette, suffix=None)


async def collection_csv_view(request, datasette) -> Response:
    """GET /api/v1/{collection}.csv (.excel_csv, .xlsx): the same page in that format, an operation of its own in
    the OpenAPI document so that generated clients read it as text or bytes (one operation answering JSON or CSV
    is read as JSON)."""
    return await _collection_page(request, datasette, suffix=request.url_vars["suffix"])


# format (the `format` parameter or the path's suffix) → the media types it may answer with, first the default
FORMAT_MEDIA = {"json": [JSON], "csv": [CSV], "excel_csv": [EXCEL_CSV], "xlsx": [XLSX, OCTET]}


async def _collection_page(request, datasette, suffix: str | None) -> Response:
    state = await api_state(datasette)
    collection = _collection(state, request.url_vars["collection"])
    params = web.query_params(request, known_params(collection), list_params(collection))
    query = parse_list_query(collection, params)
    offered = FORMAT_MEDIA[suffix or query.format] if (suffix or query.format) else [JSON, CSV]
    media = offered[0] if len(offered) == 1 else _accept(request, offered)
    key = _cache_key(request, params, media)
    if cached := _respond(request, state, key, media):
        return cached
    if query.search is not None:
        query.matched = await search_matches(datasette, query.search, collection.name)
    rows, total, following = await run(datasette, lambda conn: _page(conn, query))
    next_url = _next_url(collection.path + (f".{suffix}" if suffix else ""), params, following)
    headers = {"Link": f'<{next_url}>; rel="next"'} if next_url else {}
    columns = [collection.column_map[name] for name in query.fields]
    if media == CSV:
        headers["Content-Disposition"] = attachment(f"{collection.name}.csv")
        return _store(request, state, key, media, write_csv(columns, rows), "text/csv; charset=utf-8", headers)
    if media == EXCEL_CSV:  # a name of its own, so both CSVs can sit in one downloads folder
        headers["Content-Disposition"] = attachment(f"{collection.name}-excel.csv")
        return _store(request, state, key, media, write_excel_csv(columns, rows), "text/csv; charset=utf-8", headers)
    if media in (XLSX, OCTET):
        headers["Content-Disposition"] = attachment(f"{collection.name}.xlsx")
        return _store(request, state, key, media, write_xlsx(columns, rows, collection.name), media, headers)
    items = []
    for row in rows:
        record = {c.name: json_value(c, row[c.name]) for c in columns}
        record["url"] = collection.item_path(row[collection.key])
        items.append(record)
    payload = {
        "collection": collection.name,
        "count": total,
        "limit": query.limit,
        "sort": query.sort_param,
        "items": items,
        "next": next_url,
        "release": release_payload(state),
    }
    return _store(request, state, key, media, web.json_body(payload), JSON_CONTENT, headers)


async def item_view(request, datasette) -> Response:
    """GET /api/v1/{collection}/{id}: one record with its related records embedded."""
    state = await api_state(datasette)
    collection = _collection(state, request.url_vars["collection"])
    params = web.query_params(request, frozenset())
    media = _accept(request, [JSON])
    key = _cache_key(request, params, media)
    if cached := _respond(request, state, key, media):
        return cached
    try:
        record_id = unquote(request.url_vars["id"], errors="strict")
    except UnicodeDecodeError:
        raise HttpError(404, "There is no record with this id: it is not valid UTF-8.", "id") from None
    item = await run(datasette, lambda conn: fetch_item(conn, state.catalog, collection, record_id))
    if item is None:
        raise HttpError(404, f"There is no record of {collection.name} with id {record_id[:80]!r}.", "id")
    payload = {"collection": collection.name, "item": item, "release": release_payload(state)}
    return _store(request, state, key, media, web.json_body(payload), JSON_CONTENT)


async def not_found_view(request, datasette) -> Response:
    """Anything else under /api/v1: a JSON 404 that says where to look."""
    raise HttpError(404, f"Nothing is published at {request.path[:120]!r}; see {PREFIX}/ for the collections.")


ROUTES = [
    (rf"^{PREFIX}/?$", index_view),
    (rf"^{PREFIX}/openapi\.json$", openapi_view),
    (rf"^{PREFIX}/docs/?$", docs_view),
    # /api/v1/search is kechuang.serve.search's route; Datasette tries plugins' routes in no fixed order.
    (rf"^{PREFIX}/(?P<collection>[^/.]+)\.(?P<suffix>csv|excel_csv|xlsx)$", collection_csv_view),
    (rf"^{PREFIX}/(?P<collection>(?!search/?$)[^/.]+)/?$", collection_view),
    (rf"^{PREFIX}/(?P<collection>[^/]+)/(?P<id>[^/]+)$", item_view),
    (rf"^{PREFIX}/(?!search$).*$", not_found_view),
]


def api_routes() -> list[tuple[str, Any]]:
    """The routes for Datasette's register_routes hook, each wrapped in the shared HTTP conventions."""
    return [(pattern, web.guarded(view)) for pattern, view in ROUTES]
