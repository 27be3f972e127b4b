"""Group what a record page lists by the document it comes from, folding the long groups.

An agency can lead sixty measures across three documents, and a phone showed them as one list tens of
thousands of pixels tall. Grouped by document, each group a `<details>`, the first group (the caller orders
the newest document first) is open and any other is open only when it is short, so the page stays a few
screens tall and every item stays one tap away, without script.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, TypeVar

FOLD_FROM = 8  # a group with more items than this starts folded, unless it is the first
Item = TypeVar("Item")


@dataclass
class DocumentGroup:
    """The records of one document: `policy` has its id, title and `href` (the reader)."""

    policy: dict[str, Any]
    records: list[Any] = field(default_factory=list)
    size: int = 0  # what the folding rule counts: the records and those listed under them
    open: bool = True


def group_by_document(
    items: Iterable[Item],
    policy_of: Callable[[Item], dict[str, Any]],
    size_of: Callable[[Item], int] = lambda _item: 1,
    fold_from: int = FOLD_FROM,
) -> list[DocumentGroup]:
    """The items of each document (by `policy_of(item)["id"]`) in one group, the groups in the order of their
    first items; the first group open, the others open when their size is at most `fold_from`."""
    groups: dict[str, DocumentGroup] = {}
    for item in items:
        policy = policy_of(item)
        group = groups.setdefault(policy["id"], DocumentGroup(policy={**policy, "href": f"/policies/{policy['id']}"}))
        group.records.append(item)
        group.size += size_of(item)
    ordered = list(groups.values())
    for index, group in enumerate(ordered):
        group.open = index == 0 or group.size <= fold_from
    return ordered
