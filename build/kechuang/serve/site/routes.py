"""The HTTP layer of the site: routes, language, rendering and responses, for `plugins/site.py` to register.

Every page answers GET and HEAD with an ETag that covers the data release, the URL and the language, and
`Vary: Cookie, Accept-Language` because the same URL speaks either language. Unknown ids get a 404 and
malformed filters a 400, as an HTML page or, for clients that ask for JSON, the shared error body.
"""

from __future__ import annotations

import contextvars
import functools
import hashlib
import json
import mimetypes
import re
import sqlite3
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, quote, urlencode, urlsplit

from datasette.utils.asgi import Request, Response

from kechuang import assets
from kechuang.serve import http as web
from kechuang.serve.site import (
    descriptions,
    dictionary,
    discovery,
    downloads,
    glossary,
    i18n,
    limits,
    markdown,
    outline,
    pages,
    renames,
    targets_browser,
)
from kechuang.serve.state import served_meta, served_meta_now

HTML = "text/html; charset=utf-8"
VARY = "Accept, Accept-Encoding, Accept-Language, Cookie"
NAV = (
    ("targets", "/targets"),
    ("policies", "/policies"),
    ("indicators", "/indicators"),
    ("agencies", "/agencies"),
    ("data", "/kechuang"),
    ("about", "/about"),
)
Builder = Callable[[pages.Query, pages.PageRequest], Awaitable[dict[str, Any]]]


def strings(lang: str) -> dict[str, Any]:
    return i18n.load_catalogue(assets.I18N, lang)


LANG_SCOPE_KEY = "kechuang.lang"


def requested_language(request) -> str | None:
    """The `?lang=` of the request (the ASGI wrapper moved it out of the query string Datasette sees)."""
    return request.scope.get(LANG_SCOPE_KEY) or request.args.get("lang")


def request_language(request) -> str:
    if request is None:
        return i18n.DEFAULT_LANGUAGE
    return i18n.choose_language(
        requested_language(request), request.cookies.get(i18n.COOKIE_NAME), request.headers.get("accept-language")
    )


@functools.cache
def _asset_hash(path: str, stamp: float) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()[:12]


def asset_url(name: str) -> str:
    """/static/<name>?<content hash>, so a changed stylesheet is never served stale from a cache."""
    path = assets.STATIC / name
    return f"/static/{name}?{_asset_hash(str(path), path.stat().st_mtime)}"


def _without_lang(path: str, query: str) -> str:
    kept = [(k, v) for k, v in parse_qsl(query, keep_blank_values=True) if k != "lang"]
    return path + ("?" + urlencode(kept) if kept else "")


def safe_next(target: str | None) -> str:
    """A local path to return to after switching language; anything else (other hosts, schemes) → /."""
    if not target:
        return "/"
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not parts.path.startswith("/") or parts.path.startswith("//"):
        return "/"
    if "\\" in target or any(ord(ch) < 32 for ch in target):
        return "/"
    return _without_lang(parts.path, parts.query)


async def chrome(request, datasette) -> dict[str, Any]:
    """Template variables for the header, footer and language toggle of every page, ours and Datasette's."""
    try:
        release = await web.data_release(datasette)
    except (KeyError, sqlite3.Error):  # no portal database: the chrome still renders
        release = {"version": "", "date": ""}
    chrome = chrome_for(request, release, origin=origin_of(request, datasette))
    config = datasette.plugin_config(PLUGIN_CONFIG) or {}
    chrome["kc"]["report_links"] = functools.partial(discovery.report_links, config)
    chrome["kc"]["meta"] = functools.partial(metadata_text, datasette, chrome["kc"]["lang"])
    return chrome


def metadata_text(datasette, lang: str, metadata: dict[str, Any] | None, key: str) -> Any:
    """A text of Datasette's metadata (`license`, `source`, `about`, `description`) in the reader's language:
    its `<key>_<lang>` twin in metadata.yml where one is written (on the item itself, or on the portal when
    the item inherits the portal's value, as Datasette's pages do for licence and source), else as written."""
    metadata = metadata or {}
    value = metadata.get(key)
    own = metadata.get(f"{key}_{lang}")
    if own:
        return own
    if value and value == datasette.metadata(key):
        return datasette.metadata(f"{key}_{lang}") or value
    return value


PLUGIN_CONFIG = "kechuang"  # metadata.yml `plugins: kechuang:`, the portal's own settings


def origin_of(request, datasette) -> str:
    """`https://host` as the reader reached the portal (Datasette's force_https_urls respected)."""
    return datasette.absolute_url(request, "/").rstrip("/")


def default_chrome() -> dict[str, Any]:
    """The chrome for templates Datasette renders without plugin variables (its own error pages)."""
    return chrome_for(None, {"version": "", "date": ""})


_current_scope: contextvars.ContextVar[dict[str, Any] | None] = contextvars.ContextVar("kechuang_scope", default=None)


def current_chrome() -> dict[str, Any]:
    """The chrome in the language of the request being answered, for templates Datasette renders without
    the request (its error pages): the ASGI wrapper remembers the request's scope for its task."""
    scope = _current_scope.get()
    return chrome_for(Request(scope, None) if scope else None, {"version": "", "date": ""})


def translated(message: Any, t: dict[str, Any]) -> Any:
    """One of Datasette's English error messages or titles in the reader's language (`t`), when the
    catalogue words it; else the message unchanged (HTML messages stay HTML)."""
    if not message:
        return message
    found = i18n.translate_message(message, strings("en")["datasette"]["messages"], t["datasette"]["messages"])
    return message if found is None else found


def jinja_additions() -> dict[str, dict[str, Any]]:
    """Globals and filters for every template: the default chrome, the chrome of the current request and
    the translation of Datasette's messages."""
    return {
        "globals": {**default_chrome(), "current_chrome": current_chrome},
        "filters": {
            "translated": translated,
            "inline_code": markdown.inline_code,
            "without_code_marks": markdown.without_code_marks,
            "counted": i18n.counted,
            "year_span": i18n.year_span,
            "section_label": outline.section_label,
        },
    }


def language_url(here: str, lang: str | None) -> str:
    """`here` (a path and query without `lang`) with `?lang=` set, or as it is for None (x-default)."""
    if lang is None:
        return here
    return here + ("&" if "?" in here else "?") + urlencode({"lang": lang})


def chrome_for(request, release: dict[str, str], origin: str = "") -> dict[str, Any]:
    lang = request_language(request)
    other = i18n.other_language(lang)
    t = strings(lang)
    path = request.path if request is not None else "/"
    here = _without_lang(path, request.query_string if request is not None else "")
    return {
        "t": t,
        "kc": {
            "lang": lang,
            "html_lang": i18n.HTML_LANG[lang],
            "css": asset_url("site.css"),
            "release": release,
            "switch": {
                "href": "/-/lang?" + urlencode({"to": other, "next": here}),
                "label": strings(other)["chrome"]["language_name"],
                "site_name": strings(other)["site"]["name"],
                "hint": t["chrome"]["switch_language"],
                "lang": other,
                "html_lang": i18n.HTML_LANG[other],
            },
            "nav": [
                {
                    "label": t["nav"][key],
                    "href": href,
                    "current": path == href or path.startswith(href + "/"),
                }
                for key, href in NAV
            ],
            "path": path,
            "report_links": lambda subject, body: [],  # chrome() sets the configured channels
            "meta": lambda metadata, key: (metadata or {}).get(key),  # chrome(): in the reader's language
            "search_maxlength": limits.search_box_chars(),
            # for <meta>, Open Graph and hreflang: absolute when the request is known
            "url": origin + language_url(here, lang),
            "og_locale": i18n.OG_LOCALE[lang],
            "alternates": [
                {"hreflang": i18n.HTML_LANG[code], "href": origin + language_url(here, code)} for code in i18n.LANGUAGES
            ]
            + [{"hreflang": "x-default", "href": origin + here}],
        },
    }


def _query(datasette) -> pages.Query:
    db = datasette.get_database(web.DATABASE)

    async def run(sql: str, params: dict[str, Any] | list[Any] | None) -> list[dict[str, Any]]:
        results = await db.execute(sql, params or {})
        return [dict(row) for row in results.rows]

    return run


def _method_not_allowed(request) -> Response | None:
    if request.method not in ("GET", "HEAD"):
        return web.error_response(405, f"{request.method} is not allowed here; use GET", code="method_not_allowed")
    return None


def error_message(lang: str, key: str | None, params: dict[str, Any], english: str) -> tuple[str, str]:
    """An error's message in the words of `lang` and the HTML language it is in: the catalogue's `errors.<key>`
    (a dotted path; `not_found.<kind>` falls back to `not_found.other`) filled with `params`, or the
    English message when the catalogue has no wording for it."""
    t = strings(lang)
    found: Any = t["errors"]
    for part in key.split(".") if key else []:
        found = found.get(part) if isinstance(found, dict) else None
    if found is None and key and key.startswith("not_found."):
        found = t["errors"]["not_found"]["other"]
    if isinstance(found, str):
        try:
            return found.format(**params), i18n.HTML_LANG[lang]
        except (KeyError, IndexError, ValueError):
            pass
    return english, "en"


async def error_page(
    request,
    datasette,
    status: int,
    message: str,
    param: str | None = None,
    key: str | None = None,
    params: dict[str, Any] | None = None,
    extra: dict[str, Any] | None = None,
) -> Response:
    """The error in the format the client asked for: the shared JSON body (English `message`), or a page
    with the site's chrome saying it in the reader's language (`key`, `params`: see error_message); `extra`
    adds to the page's `error` (e.g. the suggestions of an unknown path)."""
    release = await web.data_release(datasette)
    if web.wants_json(request):
        return web.error_response(status, message, param=param, release=release)
    shown, shown_lang = error_message(request_language(request), key, {"param": param, **(params or {})}, message)
    error = {"status": status, "message": shown, "message_lang": shown_lang, "param": param, **(extra or {})}
    body = await datasette.render_template("portal/error.html", {"error": error}, request=request)
    headers = {**web.common_headers(release), "Cache-Control": "no-store", "Vary": VARY}
    return Response("" if request.method == "HEAD" else body, status=status, headers=headers, content_type=HTML)


async def render_page(
    request, datasette, template: str, context: dict[str, Any], lang: str, record_id: str = ""
) -> Response:
    """The page; `record_id` marks a record's page (a route with an id), which gets "report a problem"; its
    description (meta and Open Graph) is the page's own (descriptions.py)."""
    release = await web.data_release(datasette)
    extra = {"record_id": record_id, "meta_description": descriptions.describe(template, context, strings(lang))}
    body = await datasette.render_template(template, {"page": context, **extra}, request=request)
    headers = {"Vary": VARY, "Content-Language": i18n.HTML_LANG[lang]}
    response = web.cached_response(request, body, HTML, release, variant=lang, headers=headers)
    chosen = i18n.normalise(requested_language(request))
    if chosen and chosen != request.cookies.get(i18n.COOKIE_NAME):
        # a shared ?lang= link remembers the language; such a response is for this browser only
        response.set_cookie(i18n.COOKIE_NAME, chosen, max_age=i18n.COOKIE_MAX_AGE, samesite="lax")
        response.headers["Cache-Control"] = "private, no-cache"
    return response


def page(template: str, build: Builder) -> Callable:
    """A route handler: choose the language, build the context, render, answer errors as 404/400."""

    async def view(request, datasette) -> Response:
        if refused := _method_not_allowed(request):
            return refused
        lang = request_language(request)
        req = pages.PageRequest(
            lang=lang,
            strings=strings(lang),
            args={k: v for k, v in parse_qsl(request.query_string, keep_blank_values=True)},
            key=request.url_vars.get("id", ""),
            model=(await served_meta(datasette)).model,
            origin=origin_of(request, datasette),
            pairs=tuple(parse_qsl(request.query_string, keep_blank_values=True)),
        )
        try:
            context = await build(_query(datasette), req)
        except (pages.NotFound, pages.BadRequest) as failed:
            status, param = (404, "id") if isinstance(failed, pages.NotFound) else (400, failed.param)
            return await error_page(request, datasette, status, str(failed), param, failed.message_key, failed.params)
        except web.HttpError as refused:  # a service the page uses (search) is unavailable
            key = f"refused.{refused.code}" if refused.code else None
            return await error_page(request, datasette, refused.status, refused.message, refused.param, key)
        return await render_page(request, datasette, template, context, lang, record_id=req.key)

    return view


def _markdown_builder(name: str) -> Builder:
    async def build(query: pages.Query, req: pages.PageRequest) -> dict[str, Any]:
        rendered = markdown.render_page(assets.PAGES, name, req.lang)
        if rendered is None:
            raise pages.NotFound("page", name)
        return {"name": name, "title": rendered.title, "body": rendered.body}

    return build


async def _dictionary(query: pages.Query, req: pages.PageRequest) -> dict[str, Any]:
    return {
        "tables": dictionary.dictionary_tables(req.model.tables, req.lang),
        "views": dictionary.dictionary_views(req.model.views, req.lang),
    }


def _downloads_builder(datasette) -> Builder:
    async def build(query: pages.Query, req: pages.PageRequest) -> dict[str, Any]:
        db = datasette.get_database(web.DATABASE)
        path = Path(db.path) if db.path else None
        schemas = req.model.tables
        tables = [
            {"name": name, "title": (s.title_zh or s.title) if req.lang == "zh" else s.title}
            for name, s in schemas.items()
        ]
        releases = downloads.list_releases(downloads.releases_folder(path))
        license_url = datasette.metadata("license_url") or ""
        t = req.strings
        dataset = discovery.schema_dataset(
            req.origin, t["site"]["name"], t["site"]["description"], license_url, releases, i18n.HTML_LANG[req.lang]
        )
        return {
            "json_ld": discovery.json_ld_script(dataset),
            "releases": releases,
            "database": {
                "href": f"/{web.DATABASE}.db",
                "size": path.stat().st_size if path and path.exists() else None,
            },
            "tables": tables,
            "views": list(req.model.views),
        }

    return build


def _entity_builders(kind: str) -> tuple[Builder, Builder]:
    async def listing(query: pages.Query, req: pages.PageRequest) -> dict[str, Any]:
        return await pages.entities(query, req, kind)

    async def item(query: pages.Query, req: pages.PageRequest) -> dict[str, Any]:
        return await pages.entity(query, req, kind)

    return listing, item


async def switch_language(request, datasette) -> Response:
    """The toggle: remember the language in a cookie and go back to the page the reader was on."""
    if refused := _method_not_allowed(request):
        return refused
    wanted = i18n.normalise(request.args.get("to"))
    if wanted is None:
        choices = " or ".join(i18n.LANGUAGES)
        return await error_page(request, datasette, 400, f"to must be {choices}", "to", "messages.language", {})
    response = Response.redirect(safe_next(request.args.get("next")), status=303)
    response.set_cookie(i18n.COOKIE_NAME, wanted, max_age=i18n.COOKIE_MAX_AGE, samesite="lax")
    response.headers["Cache-Control"] = "no-store"
    return response


async def release_file(request, datasette) -> Response:
    """A file of a published release, from dist/releases/<version>/."""
    if refused := _method_not_allowed(request):
        return refused
    version, name = request.url_vars["version"], request.url_vars["name"]
    served = datasette.get_database(web.DATABASE).path
    path = downloads.release_file(downloads.releases_folder(Path(served) if served else None), version, name)
    if path is None:
        message, params = f"no file {name!r} in release {version!r}", {"id": name, "version": version}
        return await error_page(request, datasette, 404, message, "name", "not_found.release_file", params)
    release = await web.data_release(datasette)
    content_type = mimetypes.guess_type(name)[0] or "application/octet-stream"
    headers = {"Content-Disposition": f"attachment; filename*=UTF-8''{quote(name)}"}
    return web.cached_response(request, path.read_bytes(), content_type, release, variant=version, headers=headers)


async def _discovery_response(request, datasette, body: str, content_type: str) -> Response:
    """Cached like the pages: the ETag covers the release, the URL and the origin the URLs inside name."""
    release = await web.data_release(datasette)
    return web.cached_response(request, body, content_type, release, variant=origin_of(request, datasette))


async def robots(request, datasette) -> Response:
    """robots.txt: the SQL and search endpoints are off limits to crawlers; where the sitemap is."""
    if refused := _method_not_allowed(request):
        return refused
    body = discovery.robots_txt(origin_of(request, datasette))
    return await _discovery_response(request, datasette, body, "text/plain; charset=utf-8")


async def sitemap_paths(datasette) -> list[str]:
    """Every page of the site, from its routes: the pages without an id, then every record of each
    `/<table>/{id}` page type (each named after its table)."""
    fixed, kinds = [], []
    for route in site_routes(datasette):
        if kind := re.fullmatch(r"/([a-z_]+)/\{id\}", route.path):
            kinds.append(kind.group(1))
        elif "{" not in route.path and re.fullmatch(r"/[a-z-]*", route.path):
            fixed.append(route.path)
    query = _query(datasette)
    records = []
    for kind in kinds:
        rows = await query(f"select id from [{kind}] order by id", None)
        records += [f"/{kind}/{quote(str(row['id']), safe='')}" for row in rows]
    return [*fixed, *records]


async def sitemap(request, datasette) -> Response:
    """sitemap.xml: every page once per language, each with its hreflang alternates."""
    if refused := _method_not_allowed(request):
        return refused
    body = discovery.sitemap_xml(origin_of(request, datasette), await sitemap_paths(datasette), i18n.HTML_LANG)
    return await _discovery_response(request, datasette, body, "application/xml; charset=utf-8")


async def catalog(request, datasette) -> Response:
    """The DCAT catalogue (JSON-LD): every published release as a dcat:Dataset of its files."""
    if refused := _method_not_allowed(request):
        return refused
    served = datasette.get_database(web.DATABASE).path
    releases = downloads.list_releases(downloads.releases_folder(Path(served) if served else None))
    names = {lang: strings(lang)["site"] for lang in i18n.LANGUAGES}
    data = discovery.dcat_catalog(
        origin_of(request, datasette),
        {i18n.HTML_LANG[lang]: names[lang]["name"] for lang in names},
        {i18n.HTML_LANG[lang]: names[lang]["description"] for lang in names},
        datasette.metadata("license_url") or "",
        releases,
    )
    body = json.dumps(data, ensure_ascii=False, indent=1)
    return await _discovery_response(request, datasette, body, "application/ld+json; charset=utf-8")


@dataclass(frozen=True)
class Route:
    """One route of the site: its URL pattern, the handler, and what it serves (for the README)."""

    pattern: str
    view: Callable
    summary: str

    @property
    def path(self) -> str:
        """The pattern as a reader writes it: `/targets/{key}`."""
        return re.sub(r"\(\?P<(\w+)>[^)]*\)", r"{\1}", self.pattern).strip("^$").replace("\\.", ".")


def site_routes(datasette) -> list[Route]:
    """Every route of the site; `/` replaces Datasette's index, which stays at /kechuang for the database."""
    found = [
        Route(r"^/$", page("portal/home.html", pages.home), "Home: what the portal is, counts, search, entry points"),
        Route(
            r"^/targets$",
            page("portal/targets.html", targets_browser.served(datasette)),
            "Targets browser: keywords `q` (the bilingual search), filters "
            + ", ".join(f"`{name}`" for name in targets_browser.FILTERS)
            + ", `sort` ("
            + ", ".join(f"`{name}`" for name in (targets_browser.RELEVANCE, *targets_browser.SORTS))
            + "), `page`; facet counts under the other filters; the filtered set as CSV and JSON from /api/v1/targets",
        ),
        Route(r"^/targets/(?P<id>[^/]+)$", page("portal/target.html", pages.target), "One target"),
        Route(r"^/policies$", page("portal/policies.html", pages.policies), "The documents"),
        Route(
            r"^/policies/(?P<id>[^/]+)$",
            page("portal/policy.html", pages.policy),
            "Policy reader: full text, outline anchors `#sec-<ordinal>`, measures `#m-<id>`, source sentences "
            "`#t-<target>`, `#pm-<platform>--<measure>`, `#fm-…`, `#em-…`, their English `#en-t-<target>`, `#en-pm-…`",
        ),
        Route(r"^/indicators$", page("portal/indicators.html", pages.indicators), "Indicators"),
        Route(
            r"^/indicators/(?P<id>[^/]+)$",
            page("portal/indicator.html", pages.indicator),
            "Indicator: SVG timeline of its commitments by place and year (a line joins one place and one kind "
            "of period only), with a data table; its scope and theme; how each promise moved, one sentence per "
            "step linking both sentences",
        ),
        Route(
            r"^/agencies$",
            page("portal/agencies.html", pages.agencies),
            "Agencies by jurisdiction, with totals; `sort` " + ", ".join(f"`{key}`" for key in renames.SORTS),
        ),
        Route(
            r"^/agencies/(?P<id>[^/]+)$",
            page("portal/agency.html", pages.agency),
            "Agency: the measures it leads or shares and their targets, by document; its former or later names",
        ),
        Route(r"^/glossary$", page("portal/glossary.html", glossary.glossary), "Glossary: every term in both languages"),
        Route(
            r"^/glossary/(?P<id>[^/]+)$",
            page("portal/glossary_term.html", glossary.glossary_term),
            "Glossary term: both languages, other forms, meaning, and the records that use it",
        ),
    ]
    for kind in pages.mention_kinds(served_meta_now(datasette).model):
        listing, item = _entity_builders(kind)
        found.append(Route(rf"^/{kind}$", page("portal/entities.html", listing), kind.capitalize()))
        found.append(
            Route(
                rf"^/{kind}/(?P<id>[^/]+)$",
                page("portal/entity.html", item),
                f"One of the {kind} and every sentence that mentions it",
            )
        )
    found += [
        Route(
            r"^/about$",
            page("portal/markdown.html", _markdown_builder("about")),
            "About (`site/pages/about.<lang>.md`)",
        ),
        Route(
            r"^/methodology$",
            page("portal/markdown.html", _markdown_builder("methodology")),
            "Methodology (`site/pages/methodology.<lang>.md`)",
        ),
        Route(r"^/data-dictionary$", page("portal/dictionary.html", _dictionary), "Data dictionary, from the schemas"),
        Route(
            r"^/downloads$",
            page("portal/downloads.html", _downloads_builder(datasette)),
            "Release files, the database and every table as CSV/JSON",
        ),
        Route(
            r"^/releases/(?P<version>[^/]+)/(?P<name>[^/]+)$",
            release_file,
            "A file of a release in `dist/releases/<version>/`",
        ),
        Route(r"^/robots\.txt$", robots, "robots.txt: crawlers kept off SQL and search; the sitemap"),
        Route(r"^/sitemap\.xml$", sitemap, "Sitemap: every page in both languages, with hreflang alternates"),
        Route(r"^/catalog\.jsonld$", catalog, "DCAT catalogue (JSON-LD): each release a dcat:Dataset of its files"),
        Route(
            r"^/-/lang$",
            switch_language,
            "Language toggle: `?to=en` (or `zh`) `&next=<path>` sets the cookie and goes back",
        ),
    ]
    return found


def routes(datasette) -> list[tuple[str, Callable]]:
    """The (pattern, view) pairs Datasette's register_routes hook wants."""
    return [(route.pattern, route.view) for route in site_routes(datasette)]


def without_lang_parameter(scope: dict[str, Any]) -> dict[str, Any]:
    """The scope with `lang` moved from the query string to scope[LANG_SCOPE_KEY], so `?lang=en` works on
    Datasette's pages too (Datasette would read it as a filter on a column called lang)."""
    raw = scope.get("query_string") or b""
    if b"lang=" not in raw:
        return scope
    pairs = parse_qsl(raw.decode("latin-1"), keep_blank_values=True, encoding="latin-1")
    values = [v for k, v in pairs if k == "lang"]
    if not values:
        return scope
    kept = urlencode([(k, v) for k, v in pairs if k != "lang"], encoding="latin-1")
    return {**scope, "query_string": kept.encode("latin-1"), LANG_SCOPE_KEY: values[-1]}


def vary_by_language(app):
    """ASGI wrapper: take `?lang=` out of the query string for every page, remember the request for
    `current_chrome`, and make Datasette's own HTML pages (which carry our chrome in the reader's language)
    vary by cookie and Accept-Language too."""

    async def wrapped(scope, receive, send):
        if scope.get("type") != "http":
            await app(scope, receive, send)
            return
        scope = without_lang_parameter(scope)
        _current_scope.set(scope)

        async def send_with_vary(message):
            if message["type"] == "http.response.start":
                headers = list(message.get("headers") or [])
                content_type = next((v for k, v in headers if k.lower() == b"content-type"), b"")
                if not content_type.startswith(b"text/html"):
                    await send(message)
                    return
                vary = [v for k, v in headers if k.lower() == b"vary"]
                present = {part.strip().lower() for value in vary for part in value.split(b",")}
                missing = [name for name in (b"Cookie", b"Accept-Language") if name.lower() not in present]
                if missing:
                    headers = [(k, v) for k, v in headers if k.lower() != b"vary"]
                    headers.append((b"vary", b", ".join([*vary, *missing])))
                    message = {**message, "headers": headers}
            await send(message)

        await app(scope, receive, send_with_vary)

    return wrapped
