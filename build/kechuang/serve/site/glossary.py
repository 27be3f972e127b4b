"""The glossary's pages: every term (`/glossary`) and one term (`/glossary/<id>`) with the records that use it.

A record uses a term when its text, in either language, contains one of the term's forms: the Chinese term
or a Chinese alias anywhere (Chinese has no spaces), an English rendering or alias as whole words, in any
case (IP is not inside "ship"). The texts are the search index's stored texts (`search_records`: names,
quotes, notes and full texts of every searchable table), so a term page lists what a search for the term
would find by its exact forms, each record linked to its page of the site.
"""

from __future__ import annotations

import re
from collections import Counter
from typing import Any
from urllib.parse import urlencode

from kechuang.model.metadata import DATABASE_NAME as DATABASE
from kechuang.model.search import CONTEXT, GLOSSARY, RECORDS
from kechuang.serve.site.i18n import year_span
from kechuang.serve.site.outline import section_label
from kechuang.serve.site.pages import NotFound, PageRequest, Query, pick
from kechuang.text.normalize import pinyin

USES_SHOWN = 60  # records listed on a term's page; the rest are a search away
_TEXTS = ("title", "quote", "body")


def forms(term: dict[str, Any], language: str) -> list[str]:
    """The term and its aliases in one language (aliases are separated by `|`), each once."""
    found = [term.get(f"term_{language}") or "", *(term.get(f"aliases_{language}") or "").split("|")]
    return list(dict.fromkeys(f.strip() for f in found if f.strip()))


def _sort_key(term: dict[str, Any], lang: str) -> tuple[str, ...]:
    if lang == "zh":
        return (" ".join(pinyin(term["term_zh"])), term["term_zh"])
    return (term["term_en"].strip('"“”').casefold(), term["term_zh"])


async def glossary(query: Query, req: PageRequest) -> dict[str, Any]:
    rows = await query(f"select id, term_zh, term_en, aliases_zh, aliases_en from [{GLOSSARY}]", None)
    terms = [
        {
            "id": row["id"],
            "href": f"/glossary/{row['id']}",
            "term": pick(row, "term", req.lang),
            "other": row["term_en"] if req.lang == "zh" else row["term_zh"],
            "aliases": forms(row, req.lang)[1:],
        }
        for row in sorted(rows, key=lambda r: _sort_key(r, req.lang))
    ]
    return {"terms": terms}


def _whole_words(form: str) -> re.Pattern[str]:
    return re.compile(r"(?<![A-Za-z0-9])" + re.escape(form) + r"(?![A-Za-z0-9])", re.IGNORECASE)


def _text(row: dict[str, Any], language: str) -> str:
    return "\n".join(row.get(f"{part}_{language}") or "" for part in _TEXTS)


async def records_using(query: Query, term: dict[str, Any]) -> list[dict[str, Any]]:
    """The records (other than glossary entries) whose text contains one of the term's forms, in index order,
    each with where it sits (`places`, `years`, `documents` of the search context: own place first)."""
    chinese, english = forms(term, "zh"), forms(term, "en")
    conditions, params = [], {"glossary": GLOSSARY}
    for language, words in (("zh", chinese), ("en", english)):
        text = " || ' ' || ".join(f"coalesce({part}_{language}, '')" for part in _TEXTS)
        for i, word in enumerate(words):
            conditions.append(f"instr(lower({text}), :{language}{i}) > 0")
            params[f"{language}{i}"] = word.lower()
    if not conditions:
        return []
    rows = await query(
        f"""select r.*, c.places, c.years, c.documents from [{RECORDS}] r left join [{CONTEXT}] c on c.rowid = r.rowid
            where r.type != :glossary and ({' or '.join(conditions)}) order by r.rowid""",
        params,
    )
    patterns = [_whole_words(word) for word in english]
    return [
        row
        for row in rows
        if any(word.lower() in _text(row, "zh").lower() for word in chinese) or any(p.search(_text(row, "en")) for p in patterns)
    ]


async def _names(query: Query, rows: list[dict[str, Any]], lang: str) -> tuple[dict[str, str], dict[str, str]]:
    """Place id → name and document id → title, for the places and documents `rows` name first."""
    places = sorted({row["places"].split()[0] for row in rows if row.get("places")})
    documents = sorted({row["documents"].split()[0] for row in rows if row.get("documents")})
    found: list[dict[str, str]] = []
    for table, column, ids in (("jurisdictions", "name", places), ("policies", "title", documents)):
        if ids:
            marks = ", ".join(f":k{i}" for i in range(len(ids)))
            rows_found = await query(
                f"select id, {column}_zh, {column}_en from {table} where id in ({marks})",
                {f"k{i}": k for i, k in enumerate(ids)},
            )
            found.append({r["id"]: pick(r, column, lang) for r in rows_found})
        else:
            found.append({})
    return found[0], found[1]


def _opening(text: str, limit: int = 24) -> str:
    """The first words of a record's text, for telling two records of the same name and place apart."""
    text = " ".join((text or "").split())
    return text if len(text) <= limit else text[:limit].rstrip() + "…"


async def _sections(query: Query, measure_ids: list[str], lang: str) -> dict[str, str]:
    """Measure id → its place in the document's outline: two measures of one document can share a title."""
    if not measure_ids:
        return {}
    marks = ", ".join(f":m{i}" for i in range(len(measure_ids)))
    found = await query(
        f"select id, section from measures where id in ({marks})", {f"m{i}": m for i, m in enumerate(measure_ids)}
    )
    return {r["id"]: section_label(r["section"], lang) for r in found}


def _where(row: dict[str, Any], places: dict[str, str], documents: dict[str, str], req: PageRequest) -> str:
    """Place, year(s) and document of a listed record, so records of the same name can be told apart."""
    parts = []
    if row.get("places"):
        parts.append(places.get(row["places"].split()[0], ""))
    years = sorted(int(y) for y in (row.get("years") or "").split() if y.isdigit())
    if years:
        parts.append(year_span(req.strings["plural"]["years"], years[0], years[-1]))
    named = (row.get("documents") or "").split()
    if len(named) == 1 and row["type"] != "policies":  # a record of several documents (an indicator) names none
        parts.append(documents.get(named[0], ""))
    return " · ".join(p for p in parts if p)


async def glossary_term(query: Query, req: PageRequest) -> dict[str, Any]:
    rows = await query(f"select * from [{GLOSSARY}] where id = :id", {"id": req.key})
    if not rows:
        raise NotFound("glossary term", req.key)
    term = rows[0]
    labels = {name: (s.title_zh or s.title) if req.lang == "zh" else s.title for name, s in req.model.tables.items()}
    uses = await records_using(query, term)
    shown = uses[:USES_SHOWN]
    places, documents = await _names(query, shown, req.lang)
    sections = await _sections(query, [row["id"] for row in shown if row["type"] == "measures"], req.lang)
    groups: dict[str, dict[str, Any]] = {}
    for row in shown:
        group = groups.setdefault(row["type"], {"type": row["type"], "label": labels.get(row["type"], row["type"]), "records": []})
        group["records"].append(
            {
                "id": row["id"],
                "title": pick(row, "title", req.lang) or row["id"],
                "href": row.get("page_url") or row["url"],
                "data_href": row["url"],
                "where": " · ".join(p for p in (sections.get(row["id"], ""), _where(row, places, documents, req)) if p),
                "opening": _opening(pick(row, "body", req.lang) or pick(row, "quote", req.lang)),
            }
        )
    for group in groups.values():  # two paragraphs of one item share all that: their first words tell them apart
        same = Counter((r["title"], r["where"]) for r in group["records"])
        for record in group["records"]:
            if same[(record["title"], record["where"])] > 1 and record["opening"]:
                record["where"] = f"{record['where']} · {record['opening']}"
    searched = pick(term, "term", req.lang)
    return {
        "term": term,
        "title": searched,
        "forms": {"zh": forms(term, "zh"), "en": forms(term, "en")},
        "note": pick(term, "note", req.lang),
        "groups": list(groups.values()),
        "total": len(uses),
        "shown": min(len(uses), USES_SHOWN),
        "search_href": "/-/search?" + urlencode({"q": searched}),
        "data_href": f"/{DATABASE}/{GLOSSARY}/{term['id']}",
    }
