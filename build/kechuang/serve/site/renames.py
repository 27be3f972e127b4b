"""Agencies renamed between documents, and the agencies list's order.

`agencies.successor_id` says which body an agency became (市科技局 → 市科技创新局). Each name stays its own
row, as the documents write it; the pages link the names to each other and count a body's measures under all
its names together, where they say so.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from pypinyin import lazy_pinyin

# The agencies list's `?sort=`: the first is the default. Counts sort from the most, names alphabetically
# (Chinese names by their pinyin).
SORTS = ("lead", "shared", "name", "targets")


def latest_name(successors: dict[str, str | None], agency_id: str) -> str:
    """The id of the body's latest name: `successor_id` followed to its end (a loop stops where it closes)."""
    seen = {agency_id}
    while (following := successors.get(agency_id)) and following not in seen:
        seen.add(following)
        agency_id = following
    return agency_id


def former_names(successors: dict[str, str | None]) -> dict[str, list[str]]:
    """Agency id → the ids it was known by before (every earlier name, however many renamings back)."""
    earlier: dict[str, list[str]] = {}
    for agency_id in successors:
        latest = latest_name(successors, agency_id)
        if latest != agency_id:
            earlier.setdefault(latest, []).append(agency_id)
    return earlier


def combined_counts(counts: dict[str, dict[str, int]], successors: dict[str, str | None]) -> dict[str, dict[str, int]]:
    """For each agency with former names: its counts and theirs added up (`counts`: id → name → number)."""
    combined = {}
    for latest, earlier in former_names(successors).items():
        ids = [latest, *earlier]
        names = {name for agency_id in ids for name in counts.get(agency_id, {})}
        combined[latest] = {name: sum(counts.get(i, {}).get(name, 0) for i in ids) for name in names}
    return combined


def name_key(name_zh: str, name_en: str, lang: str) -> tuple[str, ...]:
    """Alphabetical order in the reader's language: English names case-blind, Chinese names by pinyin (digits
    and letters kept where they are, so 1号议案 sorts as "1 hao yi an")."""
    if lang == "en":
        return (name_en.casefold(), name_zh)
    return (" ".join(lazy_pinyin(name_zh, errors="default")).casefold(), name_zh)


def sort_key(sort: str, lang: str) -> Callable[[dict[str, Any]], tuple]:
    """How the agencies list orders the rows of one place for `?sort=` (a value of SORTS)."""
    by_name: Callable[[dict[str, Any]], tuple] = lambda a: name_key(a["name_zh"], a["name_en"], lang)  # noqa: E731
    keys: dict[str, Callable[[dict[str, Any]], tuple]] = {
        "lead": lambda a: (-a["led"], -a["shared"], *by_name(a)),
        "shared": lambda a: (-a["shared"], -a["led"], *by_name(a)),
        "name": by_name,
        "targets": lambda a: (-a["targets"], -a["led"], *by_name(a)),
    }
    return keys[sort]
