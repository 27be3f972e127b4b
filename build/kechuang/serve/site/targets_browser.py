"""The targets browser (`/targets`): keywords, filters and a sort, as a short list a phone can scroll.

Every filter, the keyword box included, is a filter of `/api/v1/targets` (the page parameter → the API
filter in FILTERS), so the WHERE clause is the API's (generated from the schemas) and the export links
hand the same filters to the API. The keyword box is the portal's bilingual search
(`kechuang.serve.search.matching`). Each dropdown counts the targets a choice would give with the other
filters kept, and an empty result says which filter to remove and how many targets that would show.

Keywords that name a place (as the search reads places: names, short forms, pinyin, traditional characters)
get a link to that place's targets. A filter's value must be one the data has (else a 400, as a malformed
year is); a filter the API takes as a list takes several values, repeated or comma-separated (any of them),
as the API does, and any other parameter given twice is refused, as the API refuses it. A page beyond the
last says so and links to the last. The exports keep the sort where the API has it, and say their order
where it has not.
"""

from __future__ import annotations

import functools
import json
import math
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from kechuang.serve.api.collections import PREFIX, SEARCH_PARAM, Collection, catalog_of
from kechuang.serve.api.query import MAX_LIMIT, MAX_TEXT_LENGTH, MAX_VALUES, ListQuery, parse_list_query
from kechuang.serve.http import HttpError
from kechuang.serve.search.matching import search_matches
from kechuang.serve.search.query import Lexicon, parse_query
from kechuang.serve.search.served import served_index
from kechuang.serve.site.pages import TARGET_SELECT, BadRequest, PageRequest, Query, pick, target_cards

Matcher = Callable[[str], Awaitable[list[str]]]  # keywords → ids of the targets search finds, best first
Placer = Callable[[str], Awaitable[tuple[list[str], str]]]  # keywords → the places they name, the other words
Builder = Callable[[Query, PageRequest], Awaitable[dict[str, Any]]]

PATH = "/targets"
PAGE_SIZE = 25  # compact rows: a page is a few phone screens (measured in docs/site.md)
KEYWORD = "q"
# page parameter → the /api/v1/targets filter whose SQL it uses (the keyword box: search's, as `search`)
FILTERS = {
    "jurisdiction": "jurisdiction",
    "year": "deadline_year",
    "policy": "policy",
    "indicator": "indicator",
    "agency": "agency",
    "status": "status",
}
API_FILTERS = {KEYWORD: SEARCH_PARAM, **FILTERS}
PARAMETERS = (KEYWORD, *FILTERS, "sort", "page")

# Where a place sits in the hierarchy of places (Hubei, Hubei/Wuhan, Hubei/Wuhan/Hongshan…): the place sort.
PLACE_PATHS = """with recursive place_path(id, path) as (
    select id, id from jurisdictions where parent_id is null or parent_id = ''
    union all
    select j.id, pp.path || '/' || j.id from jurisdictions j join place_path pp on pp.id = j.parent_id
)
"""
READING_ORDER = "coalesce(m.ordinal, 0), t.quote_start, t.id"


@dataclass(frozen=True)
class Sort:
    """One order of the list: its SQL and the /api/v1/targets sort nearest to it (for the exports), if any."""

    sql: str
    api: str | None = None


SORTS = {
    "deadline": Sort(f"t.deadline_year, pp.path, t.policy_id, {READING_ORDER}", "deadline_year"),
    "-deadline": Sort(f"t.deadline_year desc, pp.path, t.policy_id, {READING_ORDER}", "-deadline_year"),
    "place": Sort(f"pp.path, t.deadline_year, t.policy_id, {READING_ORDER}"),
    # figures in different units are not comparable: largest first within each base unit
    "-value": Sort("t.value_base is null, t.base_unit, t.value_base desc, t.id", "-value_base"),
    "value": Sort("t.value_base is null, t.base_unit, t.value_base, t.id", "value_base"),
    "-document": Sort(f"p.issued_on is null, p.issued_on desc, p.id, {READING_ORDER}"),
    "document": Sort(f"p.issued_on is null, p.issued_on, p.id, {READING_ORDER}"),
}
RELEVANCE = "relevance"  # with keywords: search's order, best match first
DEFAULT_SORT = "deadline"


def builder(matcher: Matcher, placer: Placer | None = None) -> Builder:
    """The page builder, with the search that answers its keyword box and what reads places in it."""

    async def build(query: Query, req: PageRequest) -> dict[str, Any]:
        return await targets(query, req, matcher, placer)

    return build


def served(datasette) -> Builder:
    """The page builder of a served portal: its keyword box searches the served database."""
    return builder(
        functools.partial(search_matches, datasette, table="targets"), functools.partial(_served_places, datasette)
    )


async def _served_places(datasette, text: str) -> tuple[list[str], str]:
    return places_named(text, (await served_index(datasette)).lexicon)


def places_named(text: str, lexicon: Lexicon) -> tuple[list[str], str]:
    """The places the keywords name, as the search reads them (kechuang.serve.search.intent), and the other
    words: "黄石" → (["huangshi"], ""), "huangshi 高新技术企业" → (["huangshi"], "高新技术企业")."""
    parsed = parse_query(text, lexicon)
    places = lexicon.vocabulary.places
    named = [u for u in parsed.units if u.named and all(r in places for r in u.named)]
    found = set(parsed.intent.places) | {places[r] for u in named for r in u.named}
    return sorted(found), " ".join(u.text for u in parsed.units if u not in named)


def _refused_twice(name: str) -> BadRequest:
    return BadRequest(name, f"{name} is given more than once; give it once", "repeated")


def _given(req: PageRequest, collection: Collection) -> dict[str, str]:
    """The page's parameters as given: a filter the API takes as a list, repeated, is its values joined by
    commas (any of them, as the API reads `?status=a&status=b`); any other name given twice is refused."""
    given: dict[str, str] = {}
    for name, value in req.pairs or tuple(req.args.items()):
        if name not in PARAMETERS:
            continue
        if name in given:
            api = collection.filter_map.get(API_FILTERS.get(name, ""))
            if api is None or api.kind != "in":
                raise _refused_twice(name)
            given[name] += "," + value
        else:
            given[name] = value
    return given


async def _known_values(query: Query, req: PageRequest, chosen: dict[str, str], collection: Collection) -> None:
    """Each list filter's values, blanks and repeats dropped: each must be one the data has (a 400 naming it)."""
    for name in FILTERS:
        f = collection.filter_map[API_FILTERS[name]]
        if f.kind != "in" or not chosen.get(name):
            continue
        values = list(dict.fromkeys(v.strip() for v in chosen[name].split(",") if v.strip()))
        if len(values) > MAX_VALUES:
            continue  # the API's own refusal says how many it takes (_listed)
        known = set(f.enum or ())
        if f.references and values:
            marks = ", ".join("?" for _ in values)
            known = {
                str(r["id"]) for r in await query(f'select id from "{f.references}" where id in ({marks})', values)
            }
        if unknown := next((v for v in values if v not in known), None):
            message = f"{name} has no choice {unknown[:40]!r}; choose one from the filters"
            raise BadRequest(name, message, "unknown_choice", field=req.strings["filters"][name], value=unknown[:40])
        chosen[name] = ",".join(values)


def _chosen(args: dict[str, str]) -> dict[str, str]:
    """The page's filters as given (blank ones dropped), keywords first."""
    chosen = {name: args.get(name, "").strip() for name in API_FILTERS}
    if len(chosen[KEYWORD]) > MAX_TEXT_LENGTH:
        message = f"{KEYWORD} is at most {MAX_TEXT_LENGTH} characters long"
        raise BadRequest(KEYWORD, message, "keywords_too_long", max=MAX_TEXT_LENGTH)
    year = chosen["year"]
    if year and not (year.isdigit() and 1900 <= int(year) <= 2100):
        message = f"year must be a whole number from 1900 to 2100, not {year[:40]!r}"
        raise BadRequest("year", message, "whole_number", low=1900, high=2100, value=year[:40])
    return {name: value for name, value in chosen.items() if value}


def _page_number(args: dict[str, str]) -> int:
    raw = args.get("page", "").strip()
    if not raw:
        return 1
    if not raw.isdigit() or not 1 <= int(raw) <= 100_000:
        message = f"page must be a whole number from 1 to 100000, not {raw[:40]!r}"
        raise BadRequest("page", message, "whole_number", low=1, high=100_000, value=raw[:40])
    return int(raw)


def _sort(args: dict[str, str], keywords: bool) -> str:
    raw = args.get("sort", "").strip()
    offered = [*([RELEVANCE] if keywords else []), *SORTS]
    if not raw:
        return offered[0]
    if raw not in offered:
        message = f"sort must be one of {', '.join(offered)}, not {raw[:40]!r}"
        raise BadRequest("sort", message, "choice", choices=", ".join(offered), value=raw[:40])
    return raw


def _listed(req: PageRequest, chosen: dict[str, str], matched: list[str] | None) -> ListQuery:
    """The API's query for these filters; its errors name the page's parameter."""
    collection = catalog_of(req.model).collections["targets"]
    try:
        listed = parse_list_query(collection, {API_FILTERS[name]: value for name, value in chosen.items()})
    except HttpError as refused:
        param = next((k for k, v in API_FILTERS.items() if v == refused.param), refused.param or "")
        detail = refused.message.replace(refused.param or "", param, 1)
        raise BadRequest(param, detail, "invalid_value", detail=detail) from None
    listed.matched = matched
    return listed


def href(params: dict[str, str]) -> str:
    """/targets with these parameters, in the page's order."""
    ordered = [(name, params[name]) for name in PARAMETERS if params.get(name)]
    return PATH + ("?" + urlencode(ordered) if ordered else "")


FROM = "from targets t join policies p on p.id = t.policy_id"


async def _count(query: Query, where: tuple[str, list[Any]]) -> int:
    clause, params = where
    return (await query(f"select count(*) as n {FROM}{clause}", params))[0]["n"]


async def targets(query: Query, req: PageRequest, matcher: Matcher, placer: Placer | None = None) -> dict[str, Any]:
    """The targets browser: keywords, six filters, a sort and a page of compact rows."""
    collection = catalog_of(req.model).collections["targets"]
    args = _given(req, collection)
    chosen = _chosen(args)
    await _known_values(query, req, chosen, collection)
    chosen = {name: value for name, value in chosen.items() if value}
    page = _page_number(args)
    keywords = chosen.get(KEYWORD, "")
    sort = _sort(args, bool(keywords))
    _listed(req, chosen, [])  # refuse a malformed filter before searching
    matched = await matcher(keywords) if keywords else None
    listed = _listed(req, chosen, matched)
    clause, params = listed.where(with_cursor=False)
    total = await _count(query, (clause, params))
    pages = max(1, math.ceil(total / PAGE_SIZE))
    if sort == RELEVANCE:
        order, order_params = "(select k.key from json_each(?) k where k.value = t.id), t.id", [json.dumps(matched)]
    else:
        order, order_params = SORTS[sort].sql, []
    rows = await query(
        f"""{PLACE_PATHS}{TARGET_SELECT} join place_path pp on pp.id = p.jurisdiction_id{clause}
            order by {order} limit {PAGE_SIZE} offset {(page - 1) * PAGE_SIZE}""",
        [*params, *order_params],
    )
    options = await _facet_options(query, req, chosen, matched, total)
    labels = _value_labels(options, chosen, req)
    kept = {**chosen, **({"sort": sort} if args.get("sort", "").strip() else {})}
    beyond = page > pages and total > 0  # (no targets at all: the empty state says which filter to drop)
    active = [
        {
            "name": name,
            "label": labels[name],
            "href": href({k: v for k, v in kept.items() if k != name}),
        }
        for name in chosen
    ]
    relax = await _relax(query, req, chosen, matched, labels, kept) if total == 0 and chosen else []
    return {
        "filters": {name: chosen.get(name, "") for name in API_FILTERS},
        "keywords": keywords,
        "sort": sort,
        "sorts": [*([RELEVANCE] if keywords else []), *SORTS],
        "options": options,
        "total": total,
        "page": page,
        "pages": pages,
        "previous_href": _page_href(kept, min(page - 1, pages)) if page > 1 else None,
        "next_href": href({**kept, "page": str(page + 1)}) if page < pages else None,
        "beyond_last": {"page": page, "pages": pages, "href": _page_href(kept, pages)} if beyond else None,
        "places": await _place_links(query, req, chosen, kept, matcher, placer) if keywords and placer else [],
        "targets": await target_cards(query, rows, req),
        "filtered": bool(chosen),
        "active": active,
        "relax": relax,
        "clear_href": PATH,
        "exports": export_links(chosen, sort),
        "export_order": None if sort in SORTS and SORTS[sort].api else req.strings["targets"]["sorts"][sort],
        "export_capped": total > MAX_LIMIT,
        "export_limit": MAX_LIMIT,
        "more_open": any(name != KEYWORD for name in chosen),
    }


def _page_href(kept: dict[str, str], page: int) -> str:
    return href({**kept, "page": str(page)} if page > 1 else kept)


async def _place_links(
    query: Query,
    req: PageRequest,
    chosen: dict[str, str],
    kept: dict[str, str],
    matcher: Matcher,
    placer: Placer,
) -> list[dict[str, Any]]:
    """Keywords that name a place: a link to that place's targets (with the other words, if any find some
    there), and how many there are, unless the place is the one chosen."""
    places, rest = await placer(chosen[KEYWORD])
    places = [p for p in places if p != chosen.get("jurisdiction")]
    if not places:
        return []
    matched = await matcher(rest) if rest else None
    names = {r["id"]: r for r in await query("select id, name_zh, name_en from jurisdictions", None)}
    links = []
    for place in places:
        others = {**{k: v for k, v in chosen.items() if k != KEYWORD}, "jurisdiction": place}
        words_too = {KEYWORD: rest, **others} if rest else others
        n = await _count(query, _listed(req, words_too, matched).where(with_cursor=False))
        filters = words_too if n or not rest else others
        if filters is others and rest:
            n = await _count(query, _listed(req, others, None).where(with_cursor=False))
        sort = kept.get("sort")
        with_words = KEYWORD in filters
        link_params = {**filters, **({"sort": sort} if sort and (sort != RELEVANCE or with_words) else {})}
        words = req.strings["targets"]["place_and_words" if with_words else "place_only"]
        name = pick(names[place], "name", req.lang) if place in names else place
        links.append({"id": place, "n": n, "href": href(link_params), "label": words.format(place=name, n=n, q=rest)})
    return links


def export_links(chosen: dict[str, str], sort: str) -> dict[str, str]:
    """The filtered set from /api/v1/targets: CSV for Excel, CSV and JSON, in the page's order when the API has it."""
    api_sort = SORTS[sort].api if sort in SORTS else None
    params = [(API_FILTERS[name], value) for name, value in chosen.items()]
    params += [*([("sort", api_sort)] if api_sort else []), ("limit", str(MAX_LIMIT))]
    query = "?" + urlencode(params)
    return {
        "excel_csv": f"{PREFIX}/targets.excel_csv{query}",
        "csv": f"{PREFIX}/targets.csv{query}",
        "json": f"{PREFIX}/targets{query}",
    }


async def _relax(
    query: Query,
    req: PageRequest,
    chosen: dict[str, str],
    matched: list[str] | None,
    labels: dict[str, str],
    kept: dict[str, str],
) -> list[dict[str, Any]]:
    """For an empty result: each chosen filter, how many targets the others give without it, most first."""
    out = []
    for name in chosen:
        others = {k: v for k, v in chosen.items() if k != name}
        n = await _count(query, _listed(req, others, matched if name != KEYWORD else None).where(with_cursor=False))
        if n:
            out.append(
                {
                    "name": name,
                    "label": labels[name],
                    "n": n,
                    "href": href({k: v for k, v in kept.items() if k != name}),
                }
            )
    return sorted(out, key=lambda r: -r["n"])


# Each dropdown: (SQL from the targets and policies with the other filters' WHERE clause, grouped by value).
FACETS = {
    "jurisdiction": """select j.id, j.name_zh, j.name_en, count(*) as n {from_}
        join jurisdictions j on j.id = p.jurisdiction_id{where} group by j.id order by j.id""",
    "year": "select t.deadline_year as id, count(*) as n {from_}{where} group by 1 order by 1",
    "policy": """select p.id, p.title_zh, p.title_en, count(*) as n {from_}{where} group by p.id order by p.id""",
    "indicator": """select i.id, i.name_zh, i.name_en, count(*) as n {from_}
        join indicators i on i.id = t.indicator_id{where} group by i.id order by i.id""",
    "agency": """select a.id, a.name_zh, a.name_en, count(distinct t.id) as n {from_}
        join measure_agencies ma on ma.measure_id = t.measure_id join agencies a on a.id = ma.agency_id{where}
        group by a.id order by a.jurisdiction_id, a.id""",
    "status": "select t.status as id, count(*) as n {from_}{where} group by t.status order by t.status",
}
LABEL_COLUMN = {"jurisdiction": "name", "policy": "title", "indicator": "name", "agency": "name"}


async def _facet_options(
    query: Query, req: PageRequest, chosen: dict[str, str], matched: list[str] | None, total: int
) -> dict[str, list[dict[str, Any]]]:
    """Each filter's choices, counted under the other filters and the keywords (what choosing it would give).
    A value no target has under them is left out, unless it is the one chosen (then with 0); several values
    chosen at once are one more choice, with the count they give."""
    options: dict[str, list[dict[str, Any]]] = {}
    for name in FILTERS:
        others = {k: v for k, v in chosen.items() if k != name}
        clause, params = _listed(req, others, matched).where(with_cursor=False)
        rows = await query(FACETS[name].format(from_=FROM, where=clause), params)
        column = LABEL_COLUMN.get(name)
        found = [
            {
                "id": str(r["id"]),
                "label": pick(r, column, req.lang)
                if column
                else (req.strings["status"].get(r["id"], r["id"]) if name == "status" else str(r["id"])),
                "n": r["n"],
            }
            for r in rows
        ]
        if name in chosen and chosen[name] not in {o["id"] for o in found}:
            label = await _label_of(query, name, chosen[name], req)
            found.append({"id": chosen[name], "label": label, "n": total if "," in chosen[name] else 0})
        options[name] = found
    return options


async def _label_of(query: Query, name: str, value: str, req: PageRequest) -> str:
    """A chosen value (or values, comma-separated) that no target has under the other filters, or several
    values: their names all the same."""
    table = {"jurisdiction": "jurisdictions", "policy": "policies", "indicator": "indicators", "agency": "agencies"}
    values = value.split(",")
    if name not in table:
        labels = [req.strings["status"].get(v, v) if name == "status" else v for v in values]
    else:
        marks = ", ".join("?" for _ in values)
        rows = await query(f"select * from {table[name]} where id in ({marks})", values)
        found = {r["id"]: pick(r, LABEL_COLUMN[name], req.lang) for r in rows}
        labels = [found.get(v, v) for v in values]
    return req.strings["targets"]["list_separator"].join(labels)


def _value_labels(options: dict[str, list[dict[str, Any]]], chosen: dict[str, str], req: PageRequest) -> dict[str, str]:
    """Each chosen filter in words: "Place: Wuhan", "Keywords: 高新技术企业"."""
    t = req.strings
    labels = {}
    for name, value in chosen.items():
        if name == KEYWORD:
            labels[name] = t["targets"]["keyword_chip"].format(q=value)
            continue
        shown = next((o["label"] for o in options.get(name, []) if o["id"] == value), value)
        labels[name] = t["targets"]["chip"].format(field=t["filters"][name], value=shown)
    return labels
