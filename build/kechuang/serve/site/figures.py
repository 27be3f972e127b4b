"""Put a target's figure into words in either language, and never show a masked figure as a number.

Chinese readers see the figure exactly as the document writes it (`3000亿元`); English readers get the
amount in English words (`300 billion yuan`), computed from the value and the units table, so the two
never disagree.
"""

from __future__ import annotations

import re
from typing import Any

from kechuang.text.numerals import format_number

# the scale a unit carries in English ("10,000 graduates", "100 million yuan"): the amount absorbs it
SCALE_WORDS = re.compile(r"^(?:10,000|10000|ten thousand|100 million|hundred million|100,000,000)\s+", re.IGNORECASE)


def group_digits(value: float) -> str:
    """3000 → "3,000"; 8.6 → "8.6" (English grouping, no trailing .0)."""
    text = format_number(round(value, 6))
    whole, _, fraction = text.partition(".")
    sign = "-" if whole.startswith("-") else ""
    whole = f"{int(whole.lstrip('-')):,}"
    return sign + whole + (f".{fraction}" if fraction else "")


def english_number(value: float) -> str:
    """A large number the way English prose writes it: 3e11 → "300 billion", 4.3e6 → "4.3 million"."""
    for size, word in ((1e9, "billion"), (1e6, "million")):
        if abs(value) >= size:
            return f"{format_number(round(value / size, 4))} {word}"
    return group_digits(value)


def english_amount(target: dict[str, Any], factor: float | None) -> str:
    """The figure of a stated target in English: "300 billion yuan", "45 patents", "10%", "1 and 2 parks"."""
    value, high = target.get("value"), target.get("value_max")
    unit_zh, unit_en = target.get("unit_zh") or "", target.get("unit_en") or ""
    if value is None:
        return ""
    if unit_zh == "%":
        return f"{format_number(value)} and {format_number(high)}%" if high is not None else f"{format_number(value)}%"
    if target.get("base_unit") == "rank":
        return "first place" if value == 1 and high is None else f"top {format_number(high or value)}"
    scale, words = 1.0, unit_en
    if factor and factor != 1 and SCALE_WORDS.match(unit_en):
        scale, words = factor, SCALE_WORDS.sub("", unit_en)
    low_text = english_number(value * scale)
    if high is not None:
        return f"{low_text} and {english_number(high * scale)} {words}".strip()
    return f"{low_text} {words}".strip()


def describe_target(target: dict[str, Any], lang: str, strings: dict[str, Any], factor: float | None) -> dict[str, Any]:
    """Words for one target: comparator, amount, deadline; a masked figure says so and has no amount."""
    masked = target.get("status") == "redacted" or target.get("value") is None
    comparator = strings["comparator"].get(target.get("comparator"), target.get("comparator") or "")
    period = strings["period"].get(target.get("period"), strings["period"]["by_deadline"])
    deadline = period.format(year=target.get("deadline_year"))
    if masked:
        amount = strings["target"]["masked"]
    elif lang == "zh":
        amount = target.get("figure_zh") or ""
    else:
        amount = english_amount(target, factor)
    summary = strings["target"]["masked_summary"].format(comparator=comparator) if masked else f"{comparator} {amount}"
    return {
        "masked": masked,
        "comparator": comparator,
        "amount": amount,
        "summary": summary,
        "deadline": deadline,
        "figure_zh": target.get("figure_zh") or "",
        "printed_as": strings["target"]["printed_as"].format(figure=target.get("figure_zh") or ""),
    }
