"""What makes two targets comparable, said once for the stages that check, compute and show it.

A target's period has a kind (a level at the deadline, a total over the period, a figure per year, a
growth rate) and its comparator a family (a floor, a ceiling, a rank, a span); an indicator's
`measure_kind` admits only the periods that fit it. Validation refuses a target that does not fit its
indicator, the build compares only figures of the same period kind and comparator family, and the
charts draw a line only between targets of one metric, one place, one period kind and one comparator
family (two totals only when each is one year's, from a document whose span is one year).
"""

from __future__ import annotations

from typing import Any

PERIOD_KIND = {
    "by_deadline": "level",
    "cumulative": "total",
    "annual": "per_year",
    "annual_average": "per_year",
    "growth_rate": "growth",
    "annual_average_growth": "growth",
}
COMPARATOR_FAMILY = {
    "reach": "floor",
    "exceed": "floor",
    "at_least": "floor",
    "about": "floor",
    "maintain": "floor",
    "at_most": "ceiling",
    "rank_within": "rank",
    "range": "span",
}
# The periods each kind of quantity (indicators.measure_kind) can be stated for.
PERIODS_OF_KIND: dict[str, frozenset[str]] = {
    "stock": frozenset({"by_deadline"}),
    "annual_amount": frozenset({"by_deadline"}),
    "share": frozenset({"by_deadline"}),
    "intensity": frozenset({"by_deadline"}),
    "rank": frozenset({"by_deadline"}),
    "flow": frozenset({"cumulative", "annual", "annual_average"}),
    "growth_rate": frozenset({"growth_rate", "annual_average_growth"}),
}
YEARLY_DOC_TYPES = frozenset({"work_points"})  # kinds of document made for one year (工作要点)


def spans_one_year(policy: dict[str, Any]) -> bool:
    """Whether the document's goals are for one year: issued in its horizon year, or undated and of a yearly
    kind. Its totals are then that year's figures, so the steps and the charts compare them across years."""
    horizon = policy["horizon_year"]
    if policy["issued_on"]:
        return int(str(policy["issued_on"])[:4]) == int(horizon)
    return policy["doc_type"] in YEARLY_DOC_TYPES
