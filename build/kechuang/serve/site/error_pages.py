"""The portal's error page wherever a browser can meet an error outside the site's routes.

- The request guard (`kechuang.serve.security.guard`) refuses an address before any route sees it (a 414
  for a search too long, a 400 for a malformed parameter): a browser asking for a page gets the site's
  error page in the reader's language, with the same status; API paths, data formats (`.json`, `.csv`…)
  and clients that do not ask for HTML keep the JSON error.
- An address that names no page of the site reaches Datasette, which reads its first segment as a
  database and answers "Database not found": the reader gets the site's 404 instead, with the way back,
  a search box holding the address's words and the pages whose names are nearest ("did you mean /targets").
"""

from __future__ import annotations

import difflib
import logging
import re
from collections.abc import Awaitable, Callable
from pathlib import PurePosixPath
from typing import Any
from urllib.parse import unquote

from datasette.utils.asgi import NotFound, Request, Response

from kechuang.serve import http as web
from kechuang.serve.security.guard import MAX_PATH_BYTES, Refusal
from kechuang.serve.site import routes

# Datasette 0.65's messages for an address that names nothing: a first segment that is no database, no route
NO_SUCH_ADDRESS = ("Database not found", "404")
PAGE_SUFFIXES = ("", ".html")
# Pages reached by a name that is not their path's first segment.
OTHER_NAMES = {"search": "/-/search", "data": "/kechuang", "sql": "/kechuang", "api": "/api/v1/docs"}
MAX_SUGGESTIONS = 3
# The refusals a browser can meet by following a link or submitting a form (not a POST, nor a body): as a page.
PAGE_STATUSES = frozenset({400, 404, 414})
log = logging.getLogger("kechuang.serve.site.error_pages")
_LANG = re.compile(rb"(?:^|[&;])lang=([A-Za-z-]{2,10})(?=[&;]|$)")


def wants_page(request) -> bool:
    """A browser asking for a page: Accept names HTML and the path is no API path or data format."""
    path = request.path
    if path.startswith("/api/") or PurePosixPath(path).suffix.lower() not in PAGE_SUFFIXES:
        return False
    return "text/html" in request.headers.get("accept", "").lower()


def _page_scope(scope: dict[str, Any], refusal: Refusal) -> dict[str, Any]:
    """The refused request as the error page sees it: without its query string (too long, or malformed), but
    in the language it asked for (`?lang=`), and at `/` when the path itself was refused."""
    found = _LANG.search(scope.get("query_string") or b"")
    path = scope.get("path") or "/"
    if refusal.code == "invalid_path" or len(path.encode("utf-8", "replace")) > MAX_PATH_BYTES:
        path = "/"
    page = {**scope, "query_string": b"", "path": path, "raw_path": path.encode("utf-8", "replace")}
    page["csrftoken"] = lambda: ""  # set by Datasette's CSRF layer, which a refused request never reaches
    if found:
        page[routes.LANG_SCOPE_KEY] = found.group(1).decode("ascii")
    return page


def refusal_pages(datasette) -> Callable[[dict[str, Any], Refusal], Awaitable[Response | None]]:
    """The guard's `page`: a refusal answered, for a browser, with the site's error page."""

    async def page(scope: dict[str, Any], refusal: Refusal) -> Response | None:
        if refusal.status not in PAGE_STATUSES or not wants_page(Request(scope, None)):
            return None
        try:
            await datasette.invoke_startup()  # a refusal may be the first request, which no route has started
            request = Request(_page_scope(scope, refusal), None)
            key = f"refused.{refusal.code}"
            return await routes.error_page(request, datasette, refusal.status, refusal.message, refusal.param, key, {})
        except Exception:  # a refusal is never a 500: the JSON error still says it
            log.exception("the error page of a refused request failed; answering with the JSON error")
            return None

    return page


def _destinations(datasette) -> dict[str, str]:
    """Name → path of every page a mistyped address may have meant: the site's pages without an id (by
    their first segment) and OTHER_NAMES."""
    found: dict[str, str] = {}
    for route in routes.site_routes(datasette):
        if "{" not in route.path and re.fullmatch(r"/[a-z][a-z-]*", route.path):
            found[route.path[1:]] = route.path
    return {**found, **OTHER_NAMES}


def suggestions(datasette, path: str, query_string: str, labels: dict[str, str]) -> list[dict[str, str]]:
    """The pages nearest to a mistyped `path`: its first segment against the names of the site's pages
    (`/target` → `/targets`, `/search` → `/-/search` with the same query); the rest of the path is kept
    where the page has records (`/target/<id>` → `/targets/<id>`)."""
    first, _, rest = unquote(path).strip("/").partition("/")
    destinations = _destinations(datasette)
    names = difflib.get_close_matches(first.lower(), list(destinations), n=MAX_SUGGESTIONS, cutoff=0.6)
    records = {r.path.split("/")[1] for r in routes.site_routes(datasette) if r.path.endswith("/{id}")}
    found = []
    for name in names:
        href = destinations[name]
        if rest and name in records and "/" not in rest:
            href += "/" + rest
        elif href == "/-/search" and query_string:
            href += "?" + query_string
        found.append({"href": href, "label": labels.get(destinations[name], href)})
    return found


def _words_of(path: str) -> str:
    """The words of an address, for the search box of its 404 (`/wuhan-targets` → `wuhan targets`)."""
    return " ".join(re.split(r"[\s/._-]+", unquote(path))).strip()[:100]


async def unknown_path(datasette, request, exception: BaseException) -> Response | None:
    """The site's 404 for an address Datasette read as a database that does not exist; None otherwise."""
    if not (isinstance(exception, NotFound) and str(exception) in NO_SUCH_ADDRESS):
        return None
    if PurePosixPath(request.path).suffix.lower() not in PAGE_SUFFIXES or web.wants_json(request):
        return None  # a data format or a client of data: Datasette's JSON error
    t = routes.strings(routes.request_language(request))
    labels = {href: t["nav"][name] for name, href in routes.NAV} | {"/-/search": t["search_page"]["title"]}
    extra = {"suggestions": suggestions(datasette, request.path, request.query_string, labels)}
    extra["q"], extra["explain"] = request.args.get("q") or _words_of(request.path), "unknown_path"
    message = f"no page at {request.path}"
    return await routes.error_page(
        request, datasette, 404, message, None, "unknown_path", {"path": request.path}, extra
    )
