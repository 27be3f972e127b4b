"""The two search routes: `GET /api/v1/search` (JSON) and the page `/-/search` (HTML).

The API follows the conventions of every /api/v1 route (`kechuang.serve.http`): unknown or repeated
parameters are a 400, an Accept header without JSON a 406, OPTIONS the CORS preflight, and every
error the shared JSON shape. The page is lenient (it ignores parameters it does not know) and shows
mistakes in the page. The search runs in Datasette's thread pool under a time limit. Both give the
answer to a question for a figure (answer.py) and the facets of the matches, whose values narrow the
search (`place`, `year`, `document`, besides `type`).
"""

from __future__ import annotations

import re
import sqlite3
import weakref
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

from datasette.utils.asgi import Response

from kechuang.serve import http as web
from kechuang.serve.search.rank import MATCH_CAP
from kechuang.serve.search.served import run_timed, served_index
from kechuang.serve.search.service import SearchIndex, SearchResult, run_search
from kechuang.serve.site.i18n import HTML_LANG
from kechuang.serve.site.routes import HTML, VARY, request_language, strings
from kechuang.serve.state import served_meta

API_PATH = r"^/api/v1/search$"
PAGE_PATH = r"^/-/search$"
FILTERS = ("place", "year", "document")  # facets a search can be narrowed by, besides type
PARAMETERS = frozenset({"q", "type", "limit", "offset", *FILTERS})
MAX_QUERY_CHARS = 1000
# A query needs one character that is not blank. The class is spelled out, not `\S`, because the
# OpenAPI document publishes it and ECMAScript's `\s` and Python's str.isspace() disagree (U+0085,
# U+001C-U+001F, U+FEFF): spelled out, every client, the fuzzer and this server agree.
HAS_WORDS = r"[^\t\n\x0b\f\r\x1c-\x20\x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000\ufeff]"
_has_words = re.compile(HAS_WORDS)
DEFAULT_LIMIT = 20
MAX_LIMIT = 100
MAX_OFFSET = MATCH_CAP  # no match beyond the cap is ranked
PAGE_LIMIT = 60
JSON = "application/json"


@dataclass
class SearchContext:
    """What a served database needs for search, loaded once per data release."""

    index: SearchIndex
    labels: dict[str, tuple[str, str]] = field(default_factory=dict)  # type → (English, Chinese)

    @property
    def types(self) -> list[str]:
        return self.index.types


_contexts: weakref.WeakKeyDictionary[Any, SearchContext] = weakref.WeakKeyDictionary()


async def search_context(datasette) -> SearchContext:
    """The index of the served database; HttpError 503 when it was built without one."""
    if datasette not in _contexts:
        schemas = (await served_meta(datasette)).model.tables
        labels = {name: (s.title, s.title_zh) for name, s in schemas.items()}
        _contexts[datasette] = SearchContext(await served_index(datasette), labels)
    return _contexts[datasette]


def _integer(params: dict[str, str], name: str, default: int, low: int, high: int) -> int:
    raw = params.get(name, "")
    if raw == "":
        return default
    try:
        value = int(raw.strip())
    except ValueError:
        raise web.HttpError(400, f"{name} must be a whole number from {low} to {high}, got {raw[:40]!r}.", name) from None
    if not low <= value <= high:
        raise web.HttpError(400, f"{name} must be from {low} to {high}, got {value}.", name)
    return value


@dataclass
class SearchParams:
    q: str
    types: list[str]
    limit: int
    offset: int
    filters: dict[str, list[str]] = field(default_factory=dict)  # place, year, document → values


FILTER_PATTERNS = {  # published in the OpenAPI document; a well-formed value no record has finds nothing
    "place": r"^[a-z0-9]+(-[a-z0-9]+)*(,[a-z0-9]+(-[a-z0-9]+)*)*$",
    "document": r"^[a-z0-9]+(-[a-z0-9]+)*(,[a-z0-9]+(-[a-z0-9]+)*)*$",
    "year": r"^[0-9]{4}(,[0-9]{4})*$",
}
FILTER_HELP = {
    "place": "place ids, e.g. wuhan or huangshi,wuchang",
    "document": "policy ids, e.g. wuhan-2025-motion-1-work-plan",
    "year": "four-digit years, e.g. 2026 or 2025,2026",
}


def _filter_values(params: dict[str, str], name: str) -> list[str]:
    """A comma-separated filter's values; HttpError 400 when it is not written as FILTER_PATTERNS says."""
    raw = params.get(name, "")
    if raw == "":
        return []
    if not re.match(FILTER_PATTERNS[name], raw):
        raise web.HttpError(400, f"{name} takes {FILTER_HELP[name]}, separated by commas; got {raw[:60]!r}.", name)
    return list(dict.fromkeys(raw.split(",")))


def read_params(params: dict[str, str], context: SearchContext, default_limit: int = DEFAULT_LIMIT) -> SearchParams:
    """The validated parameters of a search; HttpError 400 says which one is wrong and why."""
    q = params.get("q", "")
    if not _has_words.search(q):
        raise web.HttpError(400, "q is required: the words to search for, in Chinese, English or pinyin.", "q", "missing_query")
    if len(q) > MAX_QUERY_CHARS:
        message = f"q is {len(q)} characters long; search takes at most {MAX_QUERY_CHARS}."
        raise web.HttpError(400, message, "q", "query_too_long")
    types: list[str] = []
    for name in params["type"].split(",") if "type" in params else []:
        name = name.strip()
        if not name:
            # as the OpenAPI document says: one or more type names, comma-separated, none empty
            raise web.HttpError(400, f"type names one or more of: {', '.join(context.types)}; none may be empty.", "type")
        if name not in context.types:
            message = f"type {name[:60]!r} is not searchable; use one or more of: {', '.join(context.types)}."
            raise web.HttpError(400, message, "type")
        types.append(name)
    limit = _integer(params, "limit", default_limit, 1, MAX_LIMIT)
    offset = _integer(params, "offset", 0, 0, MAX_OFFSET)
    filters = {name: _filter_values(params, name) for name in FILTERS}
    return SearchParams(q, list(dict.fromkeys(types)), limit, offset, {k: v for k, v in filters.items() if v})


async def execute_search(
    datasette, context: SearchContext, params: SearchParams, html_titles: bool = False
) -> SearchResult:
    def search(conn: sqlite3.Connection) -> SearchResult:
        return run_search(
            conn, params.q, context.index, params.types, params.limit, params.offset, html_titles, params.filters
        )

    return await run_timed(datasette, search, "q")


def labelled_facets(found: SearchResult, context: SearchContext) -> dict[str, list[dict[str, Any]]]:
    """The facets of a search with the record types named as the schemas name them."""
    facets = {name: [dict(v) for v in values] for name, values in found.facets.items()}
    for value in facets.get("type", []):
        value["label_en"], value["label_zh"] = context.labels.get(value["value"], (value["value"], value["value"]))
    return facets


def linked_answer(answer: dict[str, Any] | None, datasette) -> dict[str, Any] | None:
    """The answer with its links under the portal's base URL."""
    if not answer:
        return None
    linked = ("url", "page_url", "source_url")
    targets = [{**t, **{k: datasette.urls.path(t[k]) for k in linked}} for t in answer["targets"]]
    return {**answer, "targets": targets}


def linked_result(result: dict[str, Any], datasette) -> dict[str, Any]:
    """A result with its links under the portal's base URL: `page_url` its page of the site, `url` its row."""
    return {**result, "url": datasette.urls.path(result["url"]), "page_url": datasette.urls.path(result["page_url"])}


async def search_api(request, datasette) -> Response:
    """GET /api/v1/search?q=&type=&place=&year=&document=&limit=&offset= →
    {"query", "total", "answer", "facets", "results": [...]}."""
    params = web.query_params(request, PARAMETERS)
    if web.negotiate(request.headers.get("accept"), [JSON]) is None:
        raise web.HttpError(406, f"This endpoint answers with {JSON}; the Accept header does not allow it.")
    release = await web.data_release(datasette)
    context = await search_context(datasette)
    found = await execute_search(datasette, context, read_params(params, context))
    results = [linked_result(r, datasette) for r in found.results]
    payload = {
        "query": found.query,
        "total": found.total,
        "answer": linked_answer(found.answer, datasette),
        "facets": labelled_facets(found, context),
        "results": results,
    }
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


def _query_of(params: SearchParams, **changed: list[str]) -> list[tuple[str, str]]:
    """The page's query string pairs for these parameters, with some filters changed."""
    query = [("q", params.q)]
    selected = {"type": params.types, **params.filters, **changed}
    query += [(name, ",".join(selected[name])) for name in ("type", *FILTERS) if selected.get(name)]
    return query


def facet_links(
    facets: dict[str, list[dict[str, Any]]], params: SearchParams, datasette
) -> dict[str, list[dict[str, Any]]]:
    """Each facet value with the link that narrows the search to it (or, when selected, widens it again)."""
    selected = {"type": params.types, **params.filters}
    linked: dict[str, list[dict[str, Any]]] = {}
    for name, values in facets.items():
        linked[name] = []
        for value in values:
            on = value["value"] in selected.get(name, [])
            query = _query_of(params, **{name: [] if on else [value["value"]]})
            linked[name].append({**value, "selected": on, "url": datasette.urls.path("/-/search?" + urlencode(query))})
    return linked


# The page says what went wrong in the reader's language: error code → key of `search_page.errors` (site/i18n).
PAGE_ERRORS = {"query_too_long": "too_long", "unavailable": "timeout", "search_unavailable": "unavailable"}


def page_error(error: web.HttpError, lang: str) -> dict[str, str]:
    """An error of the search as the page shows it: its code and the sentence for the reader."""
    key = PAGE_ERRORS.get(error.code or "", "bad_param")
    text = strings(lang)["search_page"]["errors"][key].format(max=MAX_QUERY_CHARS, param=error.param or "q")
    return {"code": error.code or "bad_request", "text": text}


async def search_page(datasette, request) -> Response:
    """The search page, a page of the site in the reader's language: a form, then the results grouped by
    type, each linking to its page of the site and to its row in the data view."""
    if request.method not in ("GET", "HEAD"):
        return web.error_response(405, f"{request.method} is not allowed here; use GET.")
    release = await web.data_release(datasette)
    args = {name: request.args.get(name, "") for name in PARAMETERS if name in request.args}
    for name in ("type", *FILTERS):
        if not args.get(name):
            args.pop(name, None)  # the form's "all types" option sends an empty type
    lang = request_language(request)
    page: dict[str, Any] = {"q": args.get("q", ""), "error": None, "groups": [], "total": None}
    page["answer"], page["facets"], page["filters"], page["next_url"] = None, {}, {}, None
    page["types"], page["selected_types"] = [], []
    status = 200
    try:
        context = await search_context(datasette)
        page["types"] = [(t, *context.labels.get(t, (t, ""))) for t in context.types]
        if _has_words.search(page["q"]):
            params = read_params(args, context, default_limit=PAGE_LIMIT)
            found = await execute_search(datasette, context, params, html_titles=True)
            page["selected_types"] = params.types
            results = [linked_result(r, datasette) for r in found.results]
            page["total"] = found.total
            page["groups"] = group_results(results, context.labels)
            page["answer"] = linked_answer(found.answer, datasette)
            page["facets"] = facet_links(labelled_facets(found, context), params, datasette)
            page["filters"] = params.filters
            if params.offset + len(found.results) < found.total:
                query = [*_query_of(params), ("limit", params.limit), ("offset", params.offset + params.limit)]
                page["next_url"] = datasette.urls.path("/-/search?" + urlencode(query))
    except web.HttpError as error:
        page["error"], status = page_error(error, lang), error.status
    body = await datasette.render_template("search.html", page, request=request)
    # The results are bilingual; the site's header and footer around them follow the reader's language.
    headers = {"Vary": VARY, "Content-Language": HTML_LANG[lang], **({"Cache-Control": "no-store"} if status != 200 else {})}
    return web.cached_response(request, body, HTML, release, variant=lang, status=status, headers=headers)
