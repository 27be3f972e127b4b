"""One function per page type: query the database, return the template context.

Functions take a `Query` (SQL + parameters → list of dicts) and the language, so they know nothing of
HTTP. They raise `NotFound` for an unknown id and `BadRequest` for a malformed filter; the route layer
turns those into 404 and 400 responses.
"""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from markupsafe import Markup, escape

from kechuang.model import Model
from kechuang.model.comparability import COMPARATOR_FAMILY, PERIOD_KIND, spans_one_year
from kechuang.model.metadata import DATABASE_NAME as DATABASE
from kechuang.serve.site import record_links, renames
from kechuang.serve.site.charts import ChartTarget, timeline_chart
from kechuang.serve.site.figures import describe_target, english_number
from kechuang.serve.site.folding import group_by_document
from kechuang.serve.site.outline import section_label
from kechuang.serve.site.reader import Mark, read_policy
from kechuang.text.numerals import format_number

Query = Callable[[str, dict[str, Any] | list[Any] | None], Awaitable[list[dict[str, Any]]]]
INDEX_OPEN_UP_TO = 12  # the reader's list of a document's targets starts folded when longer (one tap opens it)


class NotFound(Exception):
    """No record with this id: a 404. The page says it in the reader's words: `errors.not_found.<kind>` of
    the catalogue (spaces in the kind as `_`), with the id as `{id}`."""

    def __init__(self, kind: str, key: str):
        super().__init__(f"no {kind} with id {key!r}")
        self.kind, self.key = kind, key
        self.message_key, self.params = "not_found." + kind.replace(" ", "_"), {"id": key}


class BadRequest(Exception):
    """A query parameter that cannot be understood: a 400 naming the parameter. `message` is the English
    (the JSON error's); `key` names its wording in the catalogue's `errors.messages`, filled with `params`
    (and `param`), for the page in the reader's language."""

    def __init__(self, param: str, message: str, key: str | None = None, **params: Any):
        super().__init__(message)
        self.param = param
        self.message_key, self.params = (f"messages.{key}" if key else None), {"param": param, **params}


@dataclass(frozen=True)
class PageRequest:
    """What a page function needs from the request: its language, strings, URL parts and query."""

    lang: str
    strings: dict[str, Any]
    args: dict[str, str]
    key: str = ""
    model: Model = field(default_factory=lambda: Model({}, {}))  # the model the served database was built with
    origin: str = ""  # scheme and host the reader used, for absolute URLs (JSON-LD)
    pairs: tuple[tuple[str, str], ...] = ()  # the query string as given, a name given twice included


def mention_kinds(model: Model) -> dict[str, tuple[str, str, str, str]]:
    """Tables whose records measures mention (`x_portal.mentions`): page → (table, link table, key, anchor)."""
    return {
        s.name: (s.name, s.portal.mentions.table, s.portal.mentions.key, s.portal.mentions.anchor)
        for s in model.mentioned
        if s.portal.mentions
    }


def pick(row: dict[str, Any], base: str, lang: str) -> str:
    """The `_zh` or `_en` column of `row` for `lang`, falling back to the other language when empty."""
    other = "en" if lang == "zh" else "zh"
    return row.get(f"{base}_{lang}") or row.get(f"{base}_{other}") or ""


def target_anchor(target_id: str) -> str:
    return f"t-{target_id}"


def mention_anchor(prefix: str, entity_id: str, measure_id: str) -> str:
    # ids are slugs with single hyphens, so a double hyphen cannot occur inside either part
    return f"{prefix}-{entity_id}--{measure_id}"


async def _units(query: Query) -> dict[str, dict[str, Any]]:
    return {u["unit_zh"]: u for u in await query("select * from units", None)}


async def _agencies_of_measures(query: Query, measure_ids: list[str], lang: str) -> dict[str, list[dict[str, Any]]]:
    """Measure id → its agencies, lead first, each in the order printed."""
    if not measure_ids:
        return {}
    marks = ", ".join(f":m{i}" for i in range(len(measure_ids)))
    rows = await query(
        f"""select ma.measure_id, ma.role, ma.position, a.id, a.name_zh, a.name_en
            from measure_agencies ma join agencies a on a.id = ma.agency_id
            where ma.measure_id in ({marks})
            order by ma.measure_id, ma.role = 'lead' desc, ma.position""",
        {f"m{i}": m for i, m in enumerate(measure_ids)},
    )
    out: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for row in rows:
        out[row["measure_id"]].append(
            {"id": row["id"], "name": pick(row, "name", lang), "name_zh": row["name_zh"], "role": row["role"]}
        )
    return out


TARGET_SELECT = """
select t.*, p.title_zh as policy_title_zh, p.title_en as policy_title_en, p.jurisdiction_id,
       p.status as policy_status, p.caveat_zh as policy_caveat_zh, p.caveat_en as policy_caveat_en,
       j.name_zh as jurisdiction_zh, j.name_en as jurisdiction_en,
       i.name_zh as indicator_zh, i.name_en as indicator_en,
       m.title_zh as measure_title_zh, m.title_en as measure_title_en, m.section as measure_section,
       m.ordinal as measure_ordinal
from targets t
join policies p on p.id = t.policy_id
join jurisdictions j on j.id = p.jurisdiction_id
left join indicators i on i.id = t.indicator_id
left join measures m on m.id = t.measure_id
"""


# A part of a name the source masks: asterisks in Chinese (`**人工智能计算中心`), "[masked]" in English
MASKED_PART = re.compile(r"\*+|\[masked\]", re.IGNORECASE)


def masked_name(name: str, strings: dict[str, Any]) -> tuple[str, Markup]:
    """A name with its masked parts as the figure's marker: in plain text (titles, labels) and as HTML, a
    marked box whose words say what it is to a screen reader, in the page's language."""
    words = strings["target"]["masked_part"]
    plain = MASKED_PART.sub(words["plain"], name)
    box = Markup(
        '<span class="masked-part"><span aria-hidden="true">{}</span><span class="visually-hidden">{}</span></span>'
    )
    html = Markup("").join(
        box.format(words["shown"], words["label"]) if i % 2 else escape(piece)
        for i, piece in enumerate(_split_masked(name))
    )
    return plain, html


def _split_masked(name: str) -> list[str]:
    """Text and masked runs alternating, text first: "a**b" → ["a", "**", "b"]."""
    pieces, at = [], 0
    for match in MASKED_PART.finditer(name):
        pieces += [name[at : match.start()], match.group()]
        at = match.end()
    return [*pieces, name[at:]]


async def _linked_targets(
    query: Query, rows: list[dict[str, Any]], req: PageRequest, units: dict[str, dict[str, Any]]
) -> dict[str, str]:
    """The targets these rows restate or may be the same as: each in words (name, figure, place, year), for
    the link to it instead of its id."""
    ids = sorted({r[k] for r in rows for k in ("restates_target_id", "possibly_same_as_id") if r.get(k)})
    if not ids:
        return {}
    marks = ", ".join("?" for _ in ids)
    found = await query(f"{TARGET_SELECT} where t.id in ({marks})", ids)
    words = {}
    for row in found:
        figure = describe_target(row, req.lang, req.strings, units.get(row["unit_zh"], {}).get("factor"))
        name = masked_name(pick(row, "name", req.lang), req.strings)[0]
        words[row["id"]] = target_in_words(req.strings, name, figure, pick(row, "jurisdiction", req.lang))
    return words


def target_in_words(strings: dict[str, Any], name: str, figure: dict[str, Any], place: str) -> str:
    """A target as a link to it reads: its name, figure, place and deadline (never its id)."""
    return strings["target"]["link_label"].format(
        name=name, figure=figure["summary"], place=place, deadline=figure["deadline"]
    )


async def target_cards(query: Query, rows: list[dict[str, Any]], req: PageRequest) -> list[dict[str, Any]]:
    """Targets as the templates show them: words for the figure, agencies lead first, the source link; a
    masked part of a name marked as the figure's is; the targets each restates or may be, in words."""
    units = await _units(query)
    agencies = await _agencies_of_measures(query, sorted({r["measure_id"] for r in rows if r["measure_id"]}), req.lang)
    linked = await _linked_targets(query, rows, req, units)
    notes = [pick(row, "note", req.lang) for row in rows]
    known = await record_links.known_records(query, notes, req.lang)
    cards = []
    for row in rows:
        factor = units.get(row["unit_zh"], {}).get("factor")
        name, name_html = masked_name(pick(row, "name", req.lang), req.strings)
        cards.append(
            {
                "id": row["id"],
                "name": name,
                "name_html": name_html,
                "figure": describe_target(row, req.lang, req.strings, factor),
                "status": row["status"],
                "deadline_year": row["deadline_year"],
                "period": row["period"],
                "comparator": row["comparator"],
                "quote_zh": row["quote_zh"],
                "quote_en": row["quote_en"],
                "note": record_links.link(pick(row, "note", req.lang), known),
                "policy": {"id": row["policy_id"], "title": pick(row, "policy_title", req.lang)},
                "policy_is_draft": row["policy_status"] == "draft_for_comment",
                "jurisdiction": {"id": row["jurisdiction_id"], "name": pick(row, "jurisdiction", req.lang)},
                "indicator": (
                    {"id": row["indicator_id"], "name": pick(row, "indicator", req.lang)}
                    if row["indicator_id"]
                    else None
                ),
                "measure": (
                    {
                        "id": row["measure_id"],
                        "title": pick(row, "measure_title", req.lang),
                        "section": section_label(row["measure_section"], req.lang),
                    }
                    if row["measure_id"]
                    else None
                ),
                "agencies": agencies.get(row["measure_id"] or "", []),
                "deadline_basis": row["deadline_basis"],
                "caveat": pick(row, "policy_caveat", req.lang),
                "restates": _target_link(row["restates_target_id"], row["policy_id"], linked),
                "possibly_same": _target_link(row["possibly_same_as_id"], row["policy_id"], linked),
                "href": f"/targets/{row['id']}",
                "source_href": f"/policies/{row['policy_id']}#{target_anchor(row['id'])}",
                "located": row["quote_start"] is not None,
            }
        )
    return cards


def _target_link(target_id: str | None, policy_id: str, words: dict[str, str] | None = None) -> dict[str, str] | None:
    """A link to another target of the same document: its page and its sentence in the reader; `label` is
    the target in words when `words` has it (else its id)."""
    if not target_id:
        return None
    return {
        "id": target_id,
        "label": (words or {}).get(target_id, target_id),
        "href": f"/targets/{target_id}",
        "source_href": f"/policies/{policy_id}#{target_anchor(target_id)}",
    }


async def home(query: Query, req: PageRequest) -> dict[str, Any]:
    """What the portal holds: counts, deadlines, jurisdictions and the documents."""
    links = {s.name: s.portal.page or f"/{DATABASE}/{s.name}" for s in req.model.by_role("home")}
    tables = list(links)
    counts_sql = "select " + ", ".join(f"(select count(*) from {t}) as {t}" for t in tables)
    counts = (await query(counts_sql, None))[0]
    years = await query(
        "select deadline_year as year, count(*) as n from targets group by deadline_year order by deadline_year", None
    )
    jurisdictions = await query(
        """select j.id, j.name_zh, j.name_en, count(t.id) as n from jurisdictions j
           join policies p on p.jurisdiction_id = j.id left join targets t on t.policy_id = p.id
           group by j.id order by n desc, j.id""",
        None,
    )
    return {
        "counts": [{"key": t, "n": counts[t], "href": links[t]} for t in tables],
        "years": years,
        "jurisdictions": [{"id": j["id"], "name": pick(j, "name", req.lang), "n": j["n"]} for j in jurisdictions],
        "policies": await _policy_rows(query, req),
    }


async def target(query: Query, req: PageRequest) -> dict[str, Any]:
    rows = await query(f"{TARGET_SELECT} where t.id = :id", {"id": req.key})
    if not rows:
        raise NotFound("target", req.key)
    card = (await target_cards(query, rows, req))[0]
    measure = None
    if rows[0]["measure_id"]:
        found = await query("select * from measures where id = :id", {"id": rows[0]["measure_id"]})
        measure = found[0] if found else None
    return {"target": card, "measure": measure, "row": rows[0]}


async def _policy_rows(query: Query, req: PageRequest) -> list[dict[str, Any]]:
    rows = await query(
        """select p.id, p.title_zh, p.title_en, p.issuer_zh, p.issuer_en, p.issued_on, p.horizon_year, p.status,
                  p.doc_type, j.name_zh as jurisdiction_zh, j.name_en as jurisdiction_en,
                  (select count(*) from targets t where t.policy_id = p.id) as targets,
                  (select count(*) from measures m where m.policy_id = p.id) as measures
           from policies p join jurisdictions j on j.id = p.jurisdiction_id
           order by p.issued_on is null, p.issued_on desc, p.id""",
        None,
    )
    return [
        {
            "id": r["id"],
            "title": pick(r, "title", req.lang),
            "issuer": pick(r, "issuer", req.lang),
            "jurisdiction": pick(r, "jurisdiction", req.lang),
            "issued_on": r["issued_on"],
            "horizon_year": r["horizon_year"],
            "status": r["status"],
            "doc_type": r["doc_type"],
            "targets": r["targets"],
            "measures": r["measures"],
        }
        for r in rows
    ]


async def policies(query: Query, req: PageRequest) -> dict[str, Any]:
    return {"policies": await _policy_rows(query, req)}


async def policy(query: Query, req: PageRequest) -> dict[str, Any]:
    """The policy reader: full text, outline, highlighted source sentences, measure translations."""
    found = await query(
        """select p.*, j.name_zh as jurisdiction_zh, j.name_en as jurisdiction_en
           from policies p join jurisdictions j on j.id = p.jurisdiction_id where p.id = :id""",
        {"id": req.key},
    )
    if not found:
        raise NotFound("policy", req.key)
    row = found[0]
    params = {"id": req.key}
    headings = await query("select * from headings where policy_id = :id order by ordinal", params)
    measures = await query(
        "select id, kind, section, title_zh, title_en, text_en, text_start, text_end from measures "
        "where policy_id = :id order by ordinal",
        params,
    )
    target_rows = await query(f"{TARGET_SELECT} where t.policy_id = :id order by t.quote_start, t.id", params)
    cards = await target_cards(query, target_rows, req)
    kind_word = req.strings["kinds"]
    marks = [
        Mark(
            r["quote_start"],
            r["quote_end"],
            target_anchor(r["id"]),
            card["href"],
            req.strings["policy"]["ref_target"].format(name=card["name"], summary=card["figure"]["summary"]),
            "target",
            r["quote_en"] or "",
        )
        for r, card in zip(target_rows, cards, strict=True)
    ]
    for page_name, (table, mentions, key, prefix) in mention_kinds(req.model).items():
        rows = await query(
            f"""select x.{key} as entity_id, x.measure_id, x.quote_start, x.quote_end, x.quote_en, e.name_zh,
                       e.name_en
                from {mentions} x join {table} e on e.id = x.{key} join measures m on m.id = x.measure_id
                where m.policy_id = :id order by x.quote_start""",
            params,
        )
        singular = page_name[:-1]
        marks += [
            Mark(
                r["quote_start"],
                r["quote_end"],
                mention_anchor(prefix, r["entity_id"], r["measure_id"]),
                f"/{page_name}/{r['entity_id']}",
                req.strings["policy"]["ref_entity"].format(kind=kind_word[singular], name=pick(r, "name", req.lang)),
                singular,
                r["quote_en"] or "",
            )
            for r in rows
        ]
    reading = read_policy(row["text_zh"] or "", headings, measures, marks)
    return {
        "policy": row,
        "title": pick(row, "title", req.lang),
        "issuer": pick(row, "issuer", req.lang),
        "jurisdiction": pick(row, "jurisdiction", req.lang),
        "summary": pick(row, "summary", req.lang),
        "source_note": pick(row, "source_note", req.lang),
        "caveat": pick(row, "caveat", req.lang),
        "reading": reading,
        "targets": cards,
        "index_open_up_to": INDEX_OPEN_UP_TO,
        "marks": len([m for m in marks if m.start is not None]),
    }


async def indicators(query: Query, req: PageRequest) -> dict[str, Any]:
    """Every indicator, or with `?theme=` those of one theme (a theme's page: where its search results land)."""
    theme = None
    if theme_id := req.args.get("theme", "").strip():
        found = await query("select id, name_zh, name_en from themes where id = :id", {"id": theme_id})
        if not found:
            raise BadRequest("theme", f"no theme with id {theme_id[:60]!r}")
        theme = {"id": theme_id, "name": pick(found[0], "name", req.lang)}
    rows = await query(
        """select i.*, count(t.id) as n, min(t.deadline_year) as first_year, max(t.deadline_year) as last_year,
                  count(distinct p.jurisdiction_id) as jurisdictions
           from indicators i
           left join targets t on t.indicator_id = i.id and t.restates_target_id is null -- commitments, not sentences
           left join policies p on p.id = t.policy_id
           where :theme is null or i.theme_id = :theme
           group by i.id order by n desc, i.id""",
        {"theme": theme["id"] if theme else None},
    )
    known = await record_links.known_records(query, [pick(r, "description", req.lang) for r in rows], req.lang)
    return {
        "theme": theme,
        "indicators": [
            {
                "id": r["id"],
                "name": pick(r, "name", req.lang),
                "description": record_links.link(pick(r, "description", req.lang), known),
                "n": r["n"],
                "first_year": r["first_year"],
                "last_year": r["last_year"],
                "jurisdictions": r["jurisdictions"],
            }
            for r in rows
        ]
    }


async def _theme(query: Query, indicator: dict[str, Any], req: PageRequest) -> dict[str, Any] | None:
    """The indicator's theme and the other indicators in it, for browsing (never one series)."""
    if not indicator["theme_id"]:
        return None
    rows = await query(
        """select t.name_zh, t.name_en, i.id, i.name_zh as indicator_zh, i.name_en as indicator_en
           from themes t join indicators i on i.theme_id = t.id where t.id = :theme order by i.id""",
        {"theme": indicator["theme_id"]},
    )
    return {
        "id": indicator["theme_id"],
        "name": pick(rows[0], "name", req.lang) if rows else indicator["theme_id"],
        "others": [{"id": r["id"], "name": pick(r, "indicator", req.lang)} for r in rows if r["id"] != indicator["id"]],
    }


async def _moves(query: Query, req: PageRequest) -> list[dict[str, Any]]:
    """How each promise moved (indicator_steps), by place: one sentence per step, linking both sentences."""
    rows = await query(
        """select s.*, j.name_zh as jurisdiction_zh, j.name_en as jurisdiction_en, b.policy_id as previous_policy_id
           from indicator_steps s join jurisdictions j on j.id = s.jurisdiction_id
           left join targets b on b.id = s.previous_target_id
           where s.indicator_id = :id order by j.id, s.sequence""",
        {"id": req.key},
    )
    caveats = {  # a document a step names whose text leaves its year or issuer open: its caveat beside the steps
        p["id"]: {"title": pick(p, "title", req.lang), "text": pick(p, "caveat", req.lang)}
        for p in await query(
            "select id, title_zh, title_en, caveat_zh, caveat_en from policies where caveat_zh <> ''", {}
        )
    }
    places: dict[str, dict[str, Any]] = {}
    for r in rows:
        place = places.setdefault(
            r["jurisdiction_id"], {"name": pick(r, "jurisdiction", req.lang), "steps": [], "caveats": []}
        )
        for policy_id in (r["policy_id"], r["previous_policy_id"]):
            if policy_id in caveats and caveats[policy_id] not in place["caveats"]:
                place["caveats"].append(caveats[policy_id])
        place["steps"].append(
            {
                "id": r["id"],
                "change": r["change"],
                "sentence": pick(r, "sentence", req.lang),
                "target": _target_link(r["target_id"], r["policy_id"]),
                "previous": _target_link(r["previous_target_id"], r["previous_policy_id"] or ""),
            }
        )
    return list(places.values())


async def indicator(query: Query, req: PageRequest) -> dict[str, Any]:
    """One indicator: every target of it by jurisdiction and year, as a chart and as a table."""
    found = await query("select * from indicators where id = :id", {"id": req.key})
    if not found:
        raise NotFound("indicator", req.key)
    row = found[0]
    target_rows = await query(
        f"{TARGET_SELECT} where t.indicator_id = :id order by t.deadline_year, p.jurisdiction_id, t.id",
        {"id": req.key},
    )
    all_cards = await target_cards(query, target_rows, req)
    # one card, one chart point, per commitment; its restatements in the same document are further evidence
    restated: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for card in all_cards:
        if card["restates"]:
            restated[card["restates"]["id"]].append(
                {
                    "id": card["id"],
                    "href": card["href"],
                    "source_href": card["source_href"],
                    "label": target_in_words(req.strings, card["name"], card["figure"], card["jurisdiction"]["name"]),
                }
            )
    kept = [(r, c) for r, c in zip(target_rows, all_cards, strict=True) if not c["restates"]]
    target_rows = [r for r, _c in kept]
    cards = [{**c, "restated_in": restated.get(c["id"], [])} for _r, c in kept]
    units = await _units(query)
    common = Counter(r["unit_zh"] for r in target_rows if r["value"] is not None).most_common(1)
    if common and common[0][0] in units:
        unit = units[common[0][0]]
        factor = unit["factor"] * 1.0
        unit_label = unit["unit_zh"] if req.lang == "zh" else unit["unit_en"]
    else:
        factor, unit_label = 1.0, row["base_unit"]
    # the chart joins only the same metric, place and kind of period (kechuang.serve.site.charts says when)
    one_year = {
        p["id"]: spans_one_year(p)
        for p in await query("select id, issued_on, horizon_year, doc_type from policies", None)
    }
    kind_names = req.strings["moves"]["period_kind"]
    chart_rows = []
    for r, card in zip(target_rows, cards, strict=True):
        figure = card["figure"]
        kind = PERIOD_KIND[r["period"]]
        card["period_kind"] = kind_names[kind]
        card["one_year_total"] = kind == "total" and one_year[r["policy_id"]]
        chart_rows.append(
            ChartTarget(
                target_id=r["id"],
                metric=f"{r['indicator_id']}:{r['base_unit']}",
                place=r["jurisdiction_id"],
                place_name=card["jurisdiction"]["name"],
                period_kind=kind,
                kind_name=kind_names[kind],
                family=COMPARATOR_FAMILY[r["comparator"]],
                deadline_year=r["deadline_year"],
                value_base=r["value_base"],
                value_max_base=r["value_max_base"],
                masked=figure["masked"] or r["value_base"] is None,
                one_year=one_year[r["policy_id"]],
                href=card["href"],
                label=f"{card['jurisdiction']['name']} {r['deadline_year']}, {kind_names[kind]}: "
                f"{figure['summary']} ({card['policy']['title']})",
            )
        )
    chart = timeline_chart(chart_rows, req.lang, unit_label, factor) if chart_rows else None
    years = [r["deadline_year"] for r in target_rows]
    return {
        "indicator": row,
        "name": pick(row, "name", req.lang),
        "description": await record_links.linked(query, pick(row, "description", req.lang), req.lang),
        "scope": await record_links.linked(query, pick(row, "scope", req.lang), req.lang),
        "theme": await _theme(query, row, req),
        "moves": await _moves(query, req),
        "targets": cards,
        "chart": chart,
        "unit_label": unit_label,
        "first_year": min(years) if years else None,
        "last_year": max(years) if years else None,
        "jurisdictions": sorted({c["jurisdiction"]["name"] for c in cards}),
    }


async def agencies(query: Query, req: PageRequest) -> dict[str, Any]:
    """Agencies by place: the measures each leads and shares and their targets, ordered as `?sort=` asks
    (renames.SORTS); a renamed agency links to its new name, whose row adds up both."""
    sort = req.args.get("sort", "").strip() or renames.SORTS[0]
    if sort not in renames.SORTS:
        choices = ", ".join(renames.SORTS)
        message = f"sort must be one of {choices}, not {sort[:40]!r}"
        raise BadRequest("sort", message, "choice", choices=choices, value=sort[:40])
    rows = await query(
        """select w.*, a.successor_id, j.name_zh as jurisdiction_zh, j.name_en as jurisdiction_en,
                  (select count(distinct t.id) from measure_agencies ma join targets t on t.measure_id = ma.measure_id
                   where ma.agency_id = w.id) as targets
           from agency_workload w join agencies a on a.id = w.id join jurisdictions j on j.id = w.jurisdiction_id
           order by j.id, w.id""",
        None,
    )
    successors = {r["id"]: r["successor_id"] for r in rows}
    names = {r["id"]: pick(r, "name", req.lang) for r in rows}
    counts = {r["id"]: {"led": r["measures_led"] or 0, "shared": r["measures_shared"] or 0} for r in rows}
    combined = renames.combined_counts(counts, successors)
    earlier = renames.former_names(successors)
    groups: dict[str, dict[str, Any]] = {}
    for r in rows:
        group = groups.setdefault(
            r["jurisdiction_id"],
            {"id": r["jurisdiction_id"], "name": pick(r, "jurisdiction", req.lang), "agencies": []},
        )
        latest = renames.latest_name(successors, r["id"])
        group["agencies"].append(
            {
                "id": r["id"],
                "name": names[r["id"]],
                "name_zh": r["name_zh"],
                "name_en": r["name_en"],
                "kind": r["kind"],
                **counts[r["id"]],
                "targets": r["targets"],
                "renamed_to": {"id": latest, "name": names[latest]} if latest != r["id"] else None,
                "formerly": [{"id": i, "name": names[i]} for i in earlier.get(r["id"], [])],
                "combined": combined.get(r["id"]),
            }
        )
    # a place's totals count each measure and target once, however many of its agencies share it
    totals = {
        t["jurisdiction_id"]: t
        for t in await query(
            """select a.jurisdiction_id,
                      count(distinct case when ma.role = 'lead' then ma.measure_id end) as led,
                      count(distinct case when ma.role <> 'lead' then ma.measure_id end) as shared,
                      count(distinct t.id) as targets
               from measure_agencies ma join agencies a on a.id = ma.agency_id
               left join targets t on t.measure_id = ma.measure_id
               group by a.jurisdiction_id""",
            None,
        )
    }
    for group in groups.values():
        group["agencies"].sort(key=renames.sort_key(sort, req.lang))
        total = totals.get(group["id"], {})
        group["led"], group["shared"], group["targets"] = (total.get(k) or 0 for k in ("led", "shared", "targets"))
    # the places whose agencies carry the most measures first (Wuhan before a development zone)
    ordered = sorted(groups.values(), key=lambda g: (-(g["led"] + g["shared"]), g["id"]))
    return {"groups": ordered, "total": len(rows), "sort": sort, "sorts": renames.SORTS}


async def agency(query: Query, req: PageRequest) -> dict[str, Any]:
    """An agency and what it is responsible for, by document (newest first, long ones folded): the measures
    it leads or shares, each with its targets; its former or later names, with their counts together."""
    found = await query(
        """select a.*, j.name_zh as jurisdiction_zh, j.name_en as jurisdiction_en
           from agencies a join jurisdictions j on j.id = a.jurisdiction_id where a.id = :id""",
        {"id": req.key},
    )
    if not found:
        raise NotFound("agency", req.key)
    row = found[0]
    workload = await query(
        """select w.id, w.name_zh, w.name_en, w.measures_led, w.measures_shared, a.successor_id
           from agency_workload w join agencies a on a.id = w.id""",
        None,
    )
    successors = {w["id"]: w["successor_id"] for w in workload}
    names = {w["id"]: pick(w, "name", req.lang) for w in workload}
    counts = {w["id"]: {"led": w["measures_led"] or 0, "shared": w["measures_shared"] or 0} for w in workload}
    latest = renames.latest_name(successors, req.key)
    measures = await query(
        """select ma.role, ma.position, m.id, m.section, m.title_zh, m.title_en, m.kind, m.policy_id,
                  p.title_zh as policy_title_zh, p.title_en as policy_title_en, p.issued_on
           from measure_agencies ma join measures m on m.id = ma.measure_id join policies p on p.id = m.policy_id
           where ma.agency_id = :id order by p.issued_on is null, p.issued_on desc, p.id, m.ordinal""",
        {"id": req.key},
    )
    target_rows = await query(
        f"""{TARGET_SELECT} where t.measure_id in (select measure_id from measure_agencies where agency_id = :id)
            order by t.quote_start is null, t.quote_start, t.id""",
        {"id": req.key},
    )
    cards = await target_cards(query, target_rows, req)
    targets_of: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for card in cards:
        targets_of[card["measure"]["id"] if card["measure"] else ""].append(card)
    items = [
        {
            "id": m["id"],
            "role": m["role"],
            "section": section_label(m["section"], req.lang),
            "title": pick(m, "title", req.lang),
            "policy": {"id": m["policy_id"], "title": pick(m, "policy_title", req.lang), "issued_on": m["issued_on"]},
            "href": f"/policies/{m['policy_id']}#m-{m['id']}",
            "targets": targets_of.get(m["id"], []),
        }
        for m in measures
    ]
    return {
        "agency": row,
        "name": pick(row, "name", req.lang),
        "note": await record_links.linked(query, pick(row, "note", req.lang), req.lang),
        "jurisdiction": pick(row, "jurisdiction", req.lang),
        "counts": {**counts.get(req.key, {"led": 0, "shared": 0}), "targets": len(target_rows)},
        "measures": items,  # each with its targets
        "targets": cards,
        "documents": group_by_document(items, lambda m: m["policy"], lambda m: 1 + len(m["targets"])),
        "renamed_to": {"id": latest, "name": names[latest]} if latest != req.key else None,
        "formerly": [{"id": i, "name": names[i]} for i in renames.former_names(successors).get(req.key, [])],
        "combined": renames.combined_counts(counts, successors).get(latest),
    }


def fund_amount(row: dict[str, Any], lang: str) -> str:
    """A fund's size as written (zh) or in yuan (en); empty when no amount is stated."""
    if row.get("amount") is None:
        return ""
    if lang == "zh" or row.get("amount_cny") is None:
        return f"{format_number(row['amount'])}{row.get('amount_unit_zh') or ''}"
    return f"{english_number(row['amount_cny'])} yuan"


async def entities(query: Query, req: PageRequest, kind: str) -> dict[str, Any]:
    """Platforms, funds or events: each with its jurisdiction and how often the policies mention it."""
    table, mentions, key, _prefix = mention_kinds(req.model)[kind]
    rows = await query(
        f"""select e.*, j.name_zh as jurisdiction_zh, j.name_en as jurisdiction_en,
                   (select count(*) from {mentions} x where x.{key} = e.id) as mentions
            from {table} e join jurisdictions j on j.id = e.jurisdiction_id
            order by j.id, mentions desc, e.id""",
        None,
    )
    return {
        "kind": kind,
        "entries": [
            {
                "id": r["id"],
                "name": pick(r, "name", req.lang),
                "name_zh": r["name_zh"],
                "kind": r["kind"],
                "jurisdiction": pick(r, "jurisdiction", req.lang),
                "mentions": r["mentions"],
                "href": f"/{kind}/{r['id']}",
            }
            for r in rows
        ],
    }


async def entity(query: Query, req: PageRequest, kind: str) -> dict[str, Any]:
    """One platform, fund or event and every sentence that mentions it, linked into the policy reader."""
    table, mentions, key, prefix = mention_kinds(req.model)[kind]
    found = await query(
        f"""select e.*, j.name_zh as jurisdiction_zh, j.name_en as jurisdiction_en
            from {table} e join jurisdictions j on j.id = e.jurisdiction_id where e.id = :id""",
        {"id": req.key},
    )
    if not found:
        raise NotFound(kind[:-1], req.key)
    row = found[0]
    rows = await query(
        f"""select x.*, m.title_zh as measure_title_zh, m.title_en as measure_title_en, m.section, m.policy_id,
                   p.title_zh as policy_title_zh, p.title_en as policy_title_en, p.issued_on
            from {mentions} x join measures m on m.id = x.measure_id join policies p on p.id = m.policy_id
            where x.{key} = :id order by p.issued_on is null, p.issued_on desc, p.id, m.ordinal""",
        {"id": req.key},
    )
    agencies = await _agencies_of_measures(query, sorted({r["measure_id"] for r in rows}), req.lang)
    mentions = [
        {
            "quote_zh": r["quote_zh"],
            "quote_en": r["quote_en"],
            "measure": {
                "id": r["measure_id"],
                "title": pick(r, "measure_title", req.lang),
                "section": section_label(r["section"], req.lang),
            },
            "policy": {"id": r["policy_id"], "title": pick(r, "policy_title", req.lang), "issued_on": r["issued_on"]},
            "source_href": f"/policies/{r['policy_id']}#{mention_anchor(prefix, row['id'], r['measure_id'])}",
            "located": r["quote_start"] is not None,
            "agencies": agencies.get(r["measure_id"], []),
        }
        for r in rows
    ]
    return {
        "kind": kind,
        "amount": fund_amount(row, req.lang) if kind == "funds" else "",
        "entity": row,
        "name": pick(row, "name", req.lang),
        "note": await record_links.linked(query, pick(row, "note", req.lang), req.lang),
        "jurisdiction": pick(row, "jurisdiction", req.lang),
        "mentions": mentions,
        # by document, newest first, long ones folded
        "documents": group_by_document(mentions, lambda x: x["policy"]),
    }
