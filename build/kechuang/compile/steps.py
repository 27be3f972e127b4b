"""How each promise moved: the `indicator_steps` table, computed from the compiled targets.

For every indicator and place, the commitments (targets that restate nothing) in the order of the
documents that make them (date of issue, else the document's year; within a document, its text
order). A step is a move between documents: each commitment is compared with one of the document
before, never with another of its own document (those share one position in the series), and a
masked goal that may be the same as a stated commitment of the series is left to that commitment's
card. Only commensurable figures are compared: the same comparator family (a floor, a ceiling, a
rank, a span) and the same kind of period (a level at the deadline, a total over the period, a
figure per year, a growth rate). A document whose span is one year (its year of issue, or for an
undated yearly kind its own year, is its horizon) states a total for that one year, which is the
year's figure and so commensurable with a figure per year. A level for an earlier deadline that is
lower than the one before is a milestone on the way, and a total over another period is another
quantity: both are `not_comparable`, with the reason. A masked figure is never compared. A later
document of the same place that states no commitment on the indicator is a `not_restated` step.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from typing import Any

from sqlite_utils import Database

from kechuang.model.comparability import COMPARATOR_FAMILY, PERIOD_KIND, spans_one_year

DOC_TYPE = {  # how a step names a document: its year and kind
    "opinion": ("意见", "opinions"),
    "implementation_opinion": ("实施意见", "implementation opinions"),
    "work_points": ("工作要点", "work points"),
    "work_plan": ("工作方案", "work plan"),
}
COMPARATOR_WORDS = {  # (zh before the figure, en before the number)
    "reach": ("", ""),
    "exceed": ("超过", "more than "),
    "at_least": ("不少于", "at least "),
    "about": ("约", "about "),
    "at_most": ("不超过", "at most "),
    "maintain": ("保持", ""),
    "rank_within": ("", "within the top "),
    "range": ("", ""),
}
PERIOD_WORDS = {  # (zh before, en after)
    "annual": ("每年", " a year"),
    "annual_average": ("年均", " a year on average"),
    "growth_rate": ("增长", " growth"),
    "annual_average_growth": ("年均增长", " average yearly growth"),
}
PERIOD_NAMES = {
    "level": ("到期水平", "a level at the deadline"),
    "total": ("期内累计", "a total over the period"),
    "per_year": ("每年数", "a figure per year"),
    "growth": ("增速", "a growth rate"),
}
CAVEAT_MARK = ("［年份和发文机关系推定］", " [year and issuer inferred]")  # a document with a caveat
FAMILY_NAMES = {
    "floor": ("下限", "a floor"),
    "ceiling": ("上限", "a ceiling"),
    "rank": ("名次", "a rank"),
    "span": ("区间", "a span"),
}


@dataclass(frozen=True)
class Commitment:
    target: dict[str, Any]
    doc_zh: str
    doc_en: str
    order: tuple
    one_year: bool = False

    @property
    def period_kind(self) -> str:
        """The kind of period, a one-year document's total being that year's figure."""
        kind = PERIOD_KIND[self.target["period"]]
        return "per_year" if kind == "total" and self.one_year else kind

    @property
    def id(self) -> str:
        return self.target["id"]

    def figure(self, kind: str) -> tuple[str, str]:
        """The figure with its comparator and period, as a step sentence writes it (zh, en)."""
        t = self.target
        before_zh, before_en = COMPARATOR_WORDS.get(t["comparator"], ("", ""))
        period_zh, period_en = PERIOD_WORDS.get(t["period"], ("", ""))
        if t["status"] == "redacted":
            return f"{period_zh}{t['figure_zh']}（数字被遮蔽）", "a masked figure"
        if kind == "rank":
            return t["figure_zh"], f"{before_en or 'place '}{_number(t['value'])}"
        if before_zh and before_zh in t["figure_zh"]:
            before_zh = ""
        return f"{period_zh}{before_zh}{t['figure_zh']}", f"{before_en}{_amount_en(t)}{period_en}"


MAGNITUDE_WORDS = ("10,000 ", "ten thousand", "100 million ")  # unit_en prefixes of 万, 亿 units


def _amount_en(target: dict[str, Any]) -> str:
    """A figure in plain English numbers: 1450 亿元 is "145 billion yuan", 3.4 万 graduates "34,000 graduates"."""
    unit = target["unit_en"]
    values = [target["value_base"], target["value_max_base"]]
    written = [target["value"], target["value_max"]]
    noun = unit
    for prefix in MAGNITUDE_WORDS:
        if unit.startswith(prefix):
            noun = unit[len(prefix) :].strip()
            break
    else:
        values = written  # a unit without a magnitude: the number as written
    numbers = "–".join(_large(v) for v in values if v is not None)
    return f"{numbers} {noun}".strip()


def _large(value: float) -> str:
    value = float(value)
    for size, word in ((1e9, "billion"), (1e6, "million")):
        if abs(value) >= size:
            return f"{value / size:,.10g} {word}"
    return _number(value)


def _number(value: Any) -> str:
    if value is None:
        return ""
    value = float(value)
    return f"{value:,.0f}" if value.is_integer() else f"{value:,}"


def _lower_first(text: str) -> str:
    """An indicator's name inside a sentence: "Number of …" reads "the number of …"."""
    lowered = text[:1].lower() + text[1:] if len(text) > 1 and text[1:2].islower() else text
    needs_article = lowered.split(" ", 1)[0] in ("number", "share", "size", "growth", "value", "total", "floor")
    return f"the {lowered}" if needs_article else lowered


def compare(before: Commitment, after: Commitment, kind: str) -> tuple[str, str, str]:
    """The change from one commitment to the next, and why they cannot be compared when they cannot."""
    a, b = before.target, after.target
    if a["status"] == "redacted" or b["status"] == "redacted":
        which = ("前一项", "the one before") if a["status"] == "redacted" else ("本项", "this one")
        return "not_comparable", f"{which[0]}数字在所收文本中被遮蔽", f"the figure of {which[1]} is masked in the copy"
    pa, pb = before.period_kind, after.period_kind
    if pa != pb:
        za, ea = PERIOD_NAMES[pa]
        zb, eb = PERIOD_NAMES[pb]
        return "not_comparable", f"一为{za}，一为{zb}", f"one is {ea}, the other {eb}"
    fa = "rank" if kind == "rank" else COMPARATOR_FAMILY[a["comparator"]]
    fb = "rank" if kind == "rank" else COMPARATOR_FAMILY[b["comparator"]]
    if fa != fb:
        za, ea = FAMILY_NAMES[fa]
        zb, eb = FAMILY_NAMES[fb]
        return "not_comparable", f"一为{za}，一为{zb}", f"one is {ea}, the other {eb}"
    ya, yb = a["deadline_year"], b["deadline_year"]
    if pa == "total" and ya != yb:
        return (
            "not_comparable",
            f"两者为不同期间（到{ya}年、到{yb}年）的累计数",
            f"they are totals over different periods (to {ya} and to {yb})",
        )
    low_a, high_a = a["value_base"], a["value_max_base"] if a["value_max_base"] is not None else a["value_base"]
    low_b, high_b = b["value_base"], b["value_max_base"] if b["value_max_base"] is not None else b["value_base"]
    sign = -1 if fa == "rank" or fa == "ceiling" else 1  # a better place, a tighter ceiling: more ambitious
    if (low_a, high_a) == (low_b, high_b):
        change = "kept"
    elif sign * (low_b - low_a) >= 0 and sign * (high_b - high_a) >= 0:
        change = "raised"
    elif sign * (low_b - low_a) <= 0 and sign * (high_b - high_a) <= 0:
        change = "lowered"
    else:
        return "not_comparable", "两个区间相互重叠", "the two spans overlap"
    if pa == "level" and yb < ya and change == "lowered":
        return (
            "not_comparable",
            f"本项期限（{yb}年）早于前一项（{ya}年），是中途的阶段目标",
            f"this one is for an earlier year ({yb}) than the one before ({ya}): a milestone on the way",
        )
    return change, "", ""


def _sentences(
    change: str,
    place: tuple[str, str],
    name: tuple[str, str],
    kind: str,
    before: Commitment | None,
    after: Commitment,
    reason: tuple[str, str],
) -> tuple[str, str]:
    pz, pe = place
    nz, ne = name[0], _lower_first(name[1])
    fz, fe = after.figure(kind)
    y = after.target["deadline_year"]
    if before is None:
        return (
            f"{pz}在{after.doc_zh}中提出{nz}目标：到{y}年{fz}。",
            f"In its {after.doc_en}, {pe} set a target for {ne}: {fe} by {y}.",
        )
    bz, be = before.figure(kind)
    by = before.target["deadline_year"]
    if change in ("raised", "lowered"):
        verb_zh, verb_en = ("提高", "raised") if change == "raised" else ("降低", "lowered")
        return (
            f"{pz}将{nz}目标从{bz}（{before.doc_zh}，到{by}年）{verb_zh}到{fz}（{after.doc_zh}，到{y}年）。",
            f"{pe} {verb_en} its target for {ne} from {be} by {by} ({before.doc_en}) to {fe} by {y} ({after.doc_en}).",
        )
    if change == "kept":
        return (
            f"{pz}的{nz}目标保持为{fz}：{before.doc_zh}到{by}年，{after.doc_zh}到{y}年。",
            f"{pe} kept its target for {ne} at {fe}: by {by} in its {before.doc_en} and by {y} in its {after.doc_en}.",
        )
    return (
        f"{pz}的{nz}目标{bz}（{before.doc_zh}，到{by}年）与{fz}（{after.doc_zh}，到{y}年）不可比：{reason[0]}。",
        f"{pe}'s targets for {ne}, {be} by {by} ({before.doc_en}) and {fe} by {y} ({after.doc_en}), "
        f"cannot be compared: {reason[1]}.",
    )


def _counterpart(earlier: list[Commitment], after: Commitment, kind: str) -> Commitment | None:
    """The commitment of the document before to compare with: the first commensurable one, else its last."""
    for candidate in earlier:
        if compare(candidate, after, kind)[0] != "not_comparable":
            return candidate
    return earlier[-1] if earlier else None


def _rows(db: Database, table: str) -> list[dict[str, Any]]:
    return list(db[table].rows)


def compute_steps(db: Database) -> list[dict[str, Any]]:
    """Every step of every indicator and place, in order."""
    policies = {p["id"]: p for p in _rows(db, "policies")}
    places = {j["id"]: j for j in _rows(db, "jurisdictions")}
    indicators = {i["id"]: i for i in _rows(db, "indicators")}

    def doc_order(policy: dict[str, Any]) -> str:
        return policy["issued_on"] or str(policy["horizon_year"])

    def doc_names(policy: dict[str, Any]) -> tuple[str, str]:
        year = (policy["issued_on"] or "")[:4] or str(policy["horizon_year"])
        zh, en = DOC_TYPE.get(policy["doc_type"], ("文件", "document"))
        draft = policy["status"] == "draft_for_comment"
        mark_zh, mark_en = CAVEAT_MARK if policy["caveat_zh"] else ("", "")
        return (
            f"{year}年{zh}{'（征求意见稿）' if draft else ''}{mark_zh}",
            f"{year} {en}{' (draft)' if draft else ''}{mark_en}",
        )

    series: dict[tuple[str, str], list[Commitment]] = defaultdict(list)
    for t in _rows(db, "targets"):
        if not t["indicator_id"] or t["restates_target_id"]:
            continue  # not on an indicator, or a restatement: further evidence of a commitment, not a step
        policy = policies[t["policy_id"]]
        zh, en = doc_names(policy)
        order = (doc_order(policy), policy["id"], t["quote_start"] or 0, t["id"])
        commitment = Commitment(t, zh, en, order, spans_one_year(policy))
        series[(t["indicator_id"], policy["jurisdiction_id"])].append(commitment)
    for key, found in series.items():  # a masked goal linked to a stated commitment of the series is on its card
        ids = {c.id for c in found}
        series[key] = [
            c for c in found if not (c.target["status"] == "redacted" and c.target["possibly_same_as_id"] in ids)
        ]

    out: list[dict[str, Any]] = []
    for (indicator_id, place_id), commitments in sorted(series.items()):
        indicator = indicators[indicator_id]
        kind = indicator["measure_kind"]
        place = (places[place_id]["name_zh"], places[place_id]["name_en"])
        name = (indicator["name_zh"], indicator["name_en"])
        commitments.sort(key=lambda c: c.order)
        stated_in = {c.target["policy_id"] for c in commitments}
        first_doc = commitments[0].order[0]
        silent = sorted(
            (p for p in policies.values() if p["jurisdiction_id"] == place_id and p["id"] not in stated_in),
            key=doc_order,
        )
        sequence = 0
        before: Commitment | None = None
        earlier: list[Commitment] = []  # the commitments of the last document that made any
        current: list[Commitment] = []  # those of the document being read
        events: list[tuple[tuple, Any]] = [(c.order, c) for c in commitments]
        events += [((doc_order(p), p["id"]), p) for p in silent if doc_order(p) > first_doc]
        for _order, item in sorted(events, key=lambda e: e[0]):
            if isinstance(item, Commitment):
                if not current or current[0].target["policy_id"] != item.target["policy_id"]:
                    sequence += 1  # a new document: a new position; its own commitments share it
                    earlier, current = current or earlier, []
                current.append(item)
                before = _counterpart(earlier, item, kind)
                change, reason_zh, reason_en = ("new", "", "") if before is None else compare(before, item, kind)
                zh, en = _sentences(change, place, name, kind, before, item, (reason_zh, reason_en))
                out.append(
                    {
                        "id": item.id,
                        "indicator_id": indicator_id,
                        "jurisdiction_id": place_id,
                        "sequence": sequence,
                        "policy_id": item.target["policy_id"],
                        "target_id": item.id,
                        "previous_target_id": before.id if before else None,
                        "change": change,
                        "reason_zh": reason_zh or None,
                        "reason_en": reason_en or None,
                        "sentence_zh": zh,
                        "sentence_en": en,
                    }
                )
                continue
            sequence += 1
            if current:
                earlier, current = current, []
            before = earlier[-1]
            doc_zh, doc_en = doc_names(item)
            bz, be = before.figure(kind)
            by = before.target["deadline_year"]
            out.append(
                {
                    "id": f"{indicator_id}-not-restated-in-{item['id']}",
                    "indicator_id": indicator_id,
                    "jurisdiction_id": place_id,
                    "sequence": sequence,
                    "policy_id": item["id"],
                    "target_id": None,
                    "previous_target_id": before.id,
                    "change": "not_restated",
                    "reason_zh": None,
                    "reason_en": None,
                    "sentence_zh": f"{place[0]}的{doc_zh}未再提及{name[0]}目标（{before.doc_zh}为到{by}年{bz}）。",
                    "sentence_en": (
                        f"In its {doc_en}, {place[1]} does not restate its target for {_lower_first(name[1])} "
                        f"({be} by {by}, in its {before.doc_en})."
                    ),
                }
            )
    return out


def fill_steps(db: Database) -> int:
    """Insert the steps into the (already created) indicator_steps table; returns the count."""
    rows = sorted(compute_steps(db), key=lambda row: row["id"])  # stored in key order, as every table
    if rows:
        db["indicator_steps"].insert_all(rows)
    return len(rows)


BUILT = {"indicator_steps": fill_steps}  # x_built name → the function that fills the table
