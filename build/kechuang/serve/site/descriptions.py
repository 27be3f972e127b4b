"""The `<meta name="description">` (and og:description) of each page: what this page, not the portal, is about.

A shared link shows this text in WeChat and in search results, so a record's page names the record (a target
its figure, place and year; a policy its document) and a listing says what it lists, in the page's language.
One function per template, from the context the page's builder already returned, with the wording in
site/i18n (`describe:`); a template without one keeps the portal's description.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from markupsafe import Markup

from kechuang.serve.site.i18n import counted, year_span

LIMIT = 200  # characters; search engines and chat previews cut longer text anyway

Describe = Callable[[dict[str, Any], dict[str, Any]], str]


def clip(text: str, limit: int = LIMIT) -> str:
    """`text` on one line, cut at `limit` characters with an ellipsis."""
    text = " ".join(str(text).split())
    return text if len(text) <= limit else text[: limit - 1].rstrip(" ,;，；、") + "…"


def _target(page: dict[str, Any], t: dict[str, Any]) -> str:
    card = page["target"]
    return t["describe"]["target"].format(
        place=card["jurisdiction"]["name"],
        deadline=card["figure"]["deadline"],
        name=card["name"],
        summary=card["figure"]["summary"],
        policy=card["policy"]["title"],
    )


def _policy(page: dict[str, Any], t: dict[str, Any]) -> str:
    return t["describe"]["policy"].format(
        title=page["title"],
        issuer=page["issuer"],
        date=page["policy"]["issued_on"] or t["policy"]["no_date"],
        summary=page["summary"],
    )


def _indicator(page: dict[str, Any], t: dict[str, Any]) -> str:
    text = t["describe"]["indicator"].format(
        name=page["name"],
        targets=counted(t["plural"]["targets"], len(page["targets"])),
        places=t["describe"]["separator"].join(page["jurisdictions"]),
        years=year_span(t["plural"]["years"], page["first_year"] or "", page["last_year"] or ""),
    )
    return f"{text} {page['description']}" if page["description"] else text


def _named(page: dict[str, Any], t: dict[str, Any]) -> str:
    """The record's name with its place, unless the name already says it ("Fund cluster (Huangshi)")."""
    name, place = page["name"], page["jurisdiction"]
    return name if not place or place in name else t["describe"]["name_place"].format(name=name, place=place)


def _agency(page: dict[str, Any], t: dict[str, Any]) -> str:
    return t["describe"]["agency"].format(
        name=_named(page, t),
        measures=counted(t["plural"]["measures"], len(page["measures"])),
        targets=counted(t["plural"]["targets"], len(page["targets"])),
    )


def _entity(page: dict[str, Any], t: dict[str, Any]) -> str:
    mentions = counted(t["plural"]["mentions"], len(page["mentions"]))
    text = t["describe"]["entity"].format(name=_named(page, t), mentions=mentions)
    return f"{text} {page['note']}" if page["note"] else text


def _entities(page: dict[str, Any], t: dict[str, Any]) -> str:
    kind = t[page["kind"]]
    return t["describe"]["entities"].format(n=len(page["entries"]), title=kind["title"].lower(), lede=kind["lede"])


def _targets(page: dict[str, Any], t: dict[str, Any]) -> str:
    return t["describe"]["targets_filtered" if page["filtered"] else "targets"].format(n=page["total"])


def _markdown(page: dict[str, Any], t: dict[str, Any]) -> str:
    """An about or methodology page: its first paragraph."""
    first = re.search(r"<p>(.*?)</p>", str(page["body"]), re.S)
    return Markup(first.group(1)).striptags() if first else page["title"]


def _dictionary(page: dict[str, Any], t: dict[str, Any]) -> str:
    return t["describe"]["dictionary"].format(tables=len(page["tables"]), views=len(page["views"]))


DESCRIBE: dict[str, Describe] = {
    "portal/home.html": lambda page, t: t["site"]["description"],
    "portal/targets.html": _targets,
    "portal/target.html": _target,
    "portal/policies.html": lambda page, t: t["describe"]["policies"].format(n=len(page["policies"])),
    "portal/policy.html": _policy,
    "portal/indicators.html": lambda page, t: t["describe"]["indicators"].format(n=len(page["indicators"])),
    "portal/indicator.html": _indicator,
    "portal/agencies.html": lambda page, t: t["describe"]["agencies"].format(n=page["total"]),
    "portal/agency.html": _agency,
    "portal/entities.html": _entities,
    "portal/entity.html": _entity,
    "portal/markdown.html": _markdown,
    "portal/dictionary.html": _dictionary,
    "portal/downloads.html": lambda page, t: t["describe"]["downloads"],
}


def describe(template: str, page: dict[str, Any], t: dict[str, Any]) -> str:
    """The description of a page rendered with `template` from `page`; a builder may also return its own
    (`description_meta`); "" when neither is known (the layout then uses the page title and the portal's).

    A builder whose context changed shape costs the page its own description, never the page itself;
    tests/test_site_discovery.py notices (a record page must describe itself)."""
    if own := page.get("description_meta"):
        return clip(own)
    found = DESCRIBE.get(template)
    try:
        return clip(found(page, t)) if found else ""
    except (KeyError, IndexError, TypeError, AttributeError):
        return ""
