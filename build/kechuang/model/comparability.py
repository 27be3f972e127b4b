"""What makes two targets comparable, said once for the stages that check, compute and show it.

A target's period has a kind (a level at the deadline, a total over the period, a figure per year, a
growth rate) and its comparator a family (a floor, a ceiling, a rank, a span); an indicator's
`measure_kind` admits only the periods that fit it. Validation refuses a target that does not fit its
indicator, the build compares only figures of the same period kind and comparator family, and the
charts draw a line only through targets of one place and one period kind.
"""

from __future__ import annotations

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
