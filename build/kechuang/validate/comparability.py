"""Rules that keep targets comparable: an indicator is one metric, a commitment is counted once.

- a target linked to an indicator fits it: the same base unit (a bare 万 stands for the indicator's
  measure), a period of the indicator's kind of quantity (a stock is a level at the deadline, a flow
  is counted over a period, a growth rate is a growth period), and a rank comparator only for ranks;
- a restatement points to the first statement of the same commitment in the same document, which
  restates nothing itself, measures the same indicator and, when both are stated, the same figure;
- a "possibly the same" link starts from a masked figure and stays within its document;
- an inferred deadline says how it was inferred (the target's note or its policy's caveat).
"""

from __future__ import annotations

from kechuang.model.comparability import PERIODS_OF_KIND
from kechuang.validate.problems import Problem
from kechuang.validate.tables import cast_value

RANK_COMPARATORS = frozenset({"rank_within"})
# A figure written with a bare magnitude (30万) takes the measure of its indicator (persons, items).
BARE_MAGNITUDES = frozenset({"十", "百", "千", "万", "亿"})
BARE_MAGNITUDE_BASES = frozenset({"count", "persons"})

Row = tuple[str, int, dict[str, str]]  # file as shown, line, the row as written


def _base_value(raw: dict[str, str], factors: dict[str, float]) -> float | None:
    try:
        value = cast_value(raw.get("value", ""), "number")
    except ValueError:
        return None
    factor = factors.get(raw.get("unit_zh", ""))
    return None if value is None or factor is None else float(value) * factor


def check_indicator_fit(
    targets: list[Row], indicators: dict[str, dict[str, str]], units: dict[str, dict[str, str]]
) -> list[Problem]:
    """Each target linked to an indicator measures what the indicator measures."""
    problems: list[Problem] = []
    for file, line, raw in targets:
        indicator = indicators.get(raw.get("indicator_id", ""))
        if indicator is None:
            continue  # no link, or a dangling one (a foreign-key problem)
        name, kind, base = indicator["id"], indicator.get("measure_kind", ""), indicator.get("base_unit", "")
        unit = raw.get("unit_zh", "")
        unit_base = units.get(unit, {}).get("base_unit")
        bare = unit in BARE_MAGNITUDES and base in BARE_MAGNITUDE_BASES
        if unit_base and unit_base != base and not bare:
            problems.append(
                Problem(
                    file, line, "indicator_id", f'"{name}" is counted in {base}, but the unit {unit} is {unit_base}'
                )
            )
        period = raw.get("period", "")
        if kind in PERIODS_OF_KIND and period and period not in PERIODS_OF_KIND[kind]:
            allowed = ", ".join(sorted(PERIODS_OF_KIND[kind]))
            problems.append(
                Problem(
                    file,
                    line,
                    "indicator_id",
                    f'"{name}" is of kind {kind}: its targets are stated {allowed}, not {period}; '
                    "link an indicator of this kind of quantity, or correct the period",
                )
            )
        if (raw.get("comparator") in RANK_COMPARATORS) != (kind == "rank") and kind:
            problems.append(
                Problem(file, line, "comparator", f'"{raw.get("comparator")}" does not fit "{name}", of kind {kind}')
            )
    return problems


def check_commitments(targets: list[Row], units: dict[str, dict[str, str]]) -> list[Problem]:
    """Restatements and "possibly the same" links stay within a document and point the right way."""
    rows = {raw.get("id", ""): raw for _file, _line, raw in targets}
    factors = {}
    for unit, row in units.items():
        try:
            factors[unit] = float(row.get("factor") or "nan")
        except ValueError:
            continue
    problems: list[Problem] = []
    for file, line, raw in targets:
        first = rows.get(raw.get("restates_target_id", ""))
        if first is not None:
            field = "restates_target_id"
            if first is raw:
                problems.append(Problem(file, line, field, "a target cannot restate itself"))
            elif first.get("policy_id") != raw.get("policy_id"):
                problems.append(
                    Problem(file, line, field, f'"{first["id"]}" is in another document; restatements stay in one')
                )
            elif first.get("restates_target_id"):
                problems.append(
                    Problem(
                        file,
                        line,
                        field,
                        f'"{first["id"]}" restates "{first["restates_target_id"]}" itself: point to the first statement',
                    )
                )
            elif first.get("indicator_id", "") != raw.get("indicator_id", ""):
                problems.append(
                    Problem(file, line, field, f'"{first["id"]}" is linked to another indicator; a restatement is not')
                )
            elif raw.get("status") == first.get("status") == "stated" and _base_value(raw, factors) != _base_value(
                first, factors
            ):
                problems.append(
                    Problem(file, line, field, f'"{first["id"]}" states another figure, so this is not a restatement')
                )
        same = rows.get(raw.get("possibly_same_as_id", ""))
        if same is not None:
            field = "possibly_same_as_id"
            if raw.get("status") != "redacted":
                problems.append(
                    Problem(file, line, field, "only a masked (redacted) figure is linked as possibly the same")
                )
            elif same is raw or same.get("policy_id") != raw.get("policy_id"):
                problems.append(
                    Problem(file, line, field, f'"{same["id"]}" must be another target of the same document')
                )
    return problems


def check_deadline_basis(targets: list[Row], caveats: dict[str, str]) -> list[Problem]:
    """An inferred deadline year says how: in the target's note or in its policy's caveat."""
    return [
        Problem(file, line, "deadline_basis", "is inferred: say how in note_zh/note_en or in the policy's caveat_zh")
        for file, line, raw in targets
        if raw.get("deadline_basis") == "inferred"
        and not raw.get("note_zh")
        and not caveats.get(raw.get("policy_id", ""))
    ]
