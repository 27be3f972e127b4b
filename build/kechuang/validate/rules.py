"""The project's own data rules, the ones a Frictionless schema cannot express.

- verbatim text (`quote_zh`, `text_zh`) is a substring of its policy's source text, and a quote
  is a whole sentence, inside the text of the measure it is attached to;
- a target's figure is in its quote, its value is the figure as written, a masked figure is unknown;
- English fields hold no Chinese; cells hold no line breaks or stray spaces;
- records attached to a measure belong to the same policy as the measure.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from kechuang.model.schema import TableSchema
from kechuang.project import Project
from kechuang.text.numerals import figure_states, format_number
from kechuang.text.paragraphs import SPACES, paragraph_index, paragraph_start
from kechuang.validate.comparability import check_commitments, check_deadline_basis, check_indicator_fit
from kechuang.validate.problems import Problem
from kechuang.validate.tables import cast_value, read_raw_columns, read_raw_rows

CHINESE = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\u3000-\u303f\uff01-\uff60]+")
SENTENCE_END = "。；;"
MASK = "*"


@dataclass(slots=True)
class Record:
    """One row of a table as written (every column a string), with where it came from."""

    table: str
    file: str
    line: int
    raw: dict[str, str]


def _records(project: Project, schema: TableSchema, shown: str) -> Iterator[Record]:
    for line, raw in read_raw_rows(project.table_path(schema.name)):
        yield Record(schema.name, shown, line, raw)


def _number(raw: dict[str, str], name: str) -> object:
    """A number cell's value; None when empty or not a number (the schema check reports that)."""
    try:
        return cast_value(raw.get(name, ""), "number")
    except ValueError:
        return None


def _longest_verbatim_prefix(text: str, source: str) -> int:
    low, high = 0, len(text)
    while low < high:
        mid = (low + high + 1) // 2
        if text[:mid] in source:
            low = mid
        else:
            high = mid - 1
    return low


def _not_verbatim(text: str, source_name: str, source: str) -> str:
    agree = _longest_verbatim_prefix(text, source)
    tail = text[max(0, agree - 12) : agree]
    return (
        f'is not verbatim in {source_name}: it departs from the source after "…{tail}" at "{text[agree : agree + 12]}…"'
    )


def _is_sentence(text: str, source: str) -> bool:
    """True when some occurrence of `text` starts and ends at sentence boundaries of `source`."""
    start = source.find(text)
    while start != -1:
        before = source[:start].rstrip(" \u3000\t")
        starts_well = not before or before[-1] in SENTENCE_END + "\n"
        end = start + len(text)
        after = source[end : end + 1]
        ends_well = text[-1] in SENTENCE_END or after in ("", "\n", "\r") or after in SENTENCE_END
        if starts_well and ends_well:
            return True
        start = source.find(text, start + 1)
    return False


def _sentence_at(source: str, start: int, text: str) -> bool:
    """True when `text`, found at `start` in `source`, starts and ends at sentence boundaries (as `_is_sentence`)."""
    before = start - 1
    while before >= 0 and source[before] in SPACES:
        before -= 1
    if before >= 0 and source[before] not in SENTENCE_END + "\n":
        return False
    after = source[start + len(text) : start + len(text) + 1]
    return text[-1] in SENTENCE_END or after in ("", "\n", "\r") or after in SENTENCE_END


def _starts_paragraph(text: str, source: str) -> bool:
    start = source.find(text)
    while start != -1:
        if source[:start].rstrip(" \u3000\t").endswith("\n") or not source[:start].strip():
            return True
        start = source.find(text, start + 1)
    return False


class RuleContext:
    """Lookups the rules share: source texts by policy, measures by id."""

    def __init__(self, project: Project, tables: dict[str, list[Record]]):
        self.project = project
        self.tables = tables
        self.sources: dict[str, tuple[str, str]] = {}
        self.measures = {r.raw.get("id", ""): r for r in tables.get("measures", [])}
        self.problems: list[Problem] = []
        self._paragraphs: dict[str, dict[str, list[int]]] = {}
        self._measure_offsets: dict[str, int | None] = {}

    def add(self, record: Record, field: str, message: str) -> None:
        self.problems.append(Problem(record.file, record.line, field, message))

    def load_sources(self) -> None:
        referenced: set[Path] = set()
        for policy in self.tables.get("policies", []):
            relative = policy.raw.get("source_file", "")
            if not relative:
                continue
            path = (self.project.datasets / relative).resolve()
            referenced.add(path)
            if not path.is_file():
                self.add(
                    policy,
                    "source_file",
                    f'"{relative}" does not exist under {self.project.display(self.project.datasets)}/',
                )
                continue
            data = path.read_bytes()
            if data.startswith(b"\xef\xbb\xbf"):
                self.add(
                    policy,
                    "source_file",
                    f'"{relative}" starts with a byte-order mark (BOM); save it as UTF-8 without BOM',
                )
            try:
                text = data.decode("utf-8")
            except UnicodeDecodeError:
                self.add(policy, "source_file", f'"{relative}" is not UTF-8 text')
                continue
            self.sources[policy.raw["id"]] = (relative, text)
        source_dir = self.project.datasets / "sources"
        for path in sorted(source_dir.glob("*.txt")) if source_dir.is_dir() else []:
            if path.resolve() not in referenced:
                self.problems.append(
                    Problem(self.project.display(path), 0, "", "no policy in policies.csv refers to this source")
                )

    def paragraph_start(self, policy_id: str, text: str) -> int | None:
        """Where `text` starts a paragraph of the policy's source, through the paragraph index; None if the
        index cannot tell (the full checks then decide)."""
        source = self.sources[policy_id][1]
        if policy_id not in self._paragraphs:
            self._paragraphs[policy_id] = paragraph_index(source)
        return paragraph_start(source, self._paragraphs[policy_id], text)

    def paragraph_found(self, record: Record, policy_id: str, text: str) -> bool:
        """Fast acceptance of a text_zh or heading_zh: it starts a paragraph of the policy's source."""
        if record.table == "measures" and self.measures.get(record.raw.get("id", "")) is record:
            return self.measure_offset(record.raw["id"]) is not None  # computed once, reused by its quotes
        return self.paragraph_start(policy_id, text) is not None

    def measure_offset(self, measure_id: str) -> int | None:
        """Where a measure's verbatim text starts its paragraph in its policy's source, if it does."""
        if measure_id not in self._measure_offsets:
            measure = self.measures.get(measure_id)
            policy_id = measure.raw.get("policy_id", "") if measure else ""
            found = None
            if measure and policy_id in self.sources and measure.raw.get("text_zh"):
                found = self.paragraph_start(policy_id, measure.raw["text_zh"])
            self._measure_offsets[measure_id] = found
        return self._measure_offsets[measure_id]

    def quote_accepted(self, record: Record, policy_id: str, text: str) -> bool:
        """Fast acceptance of a quote_zh: a whole sentence of its measure's text, the measure verified in
        the same policy's source. Exact: whatever it accepts, the full checks accept too."""
        measure = self.measures.get(record.raw.get("measure_id", ""))
        if measure is None or measure.raw.get("policy_id") != policy_id:
            return False
        offset = self.measure_offset(measure.raw.get("id", ""))
        within = measure.raw.get("text_zh", "").find(text) if offset is not None else -1
        return within != -1 and _sentence_at(self.sources[policy_id][1], offset + within, text)

    def policy_of(self, record: Record) -> str | None:
        if record.raw.get("policy_id"):
            return record.raw["policy_id"]
        measure = self.measures.get(record.raw.get("measure_id", ""))
        return measure.raw.get("policy_id") if measure else None


def _cell_problems(ctx: RuleContext, record: Record, name: str, value: str, english: bool) -> None:
    if "\n" in value or "\r" in value or "\t" in value:
        ctx.add(record, name, "contains a line break or tab; keep each cell on one line")
    elif value != value.strip():
        ctx.add(record, name, "has leading or trailing spaces")
    if english and (found := CHINESE.findall(value)):
        ctx.add(record, name, f'English field contains Chinese characters: "{"".join(found)[:20]}"')


def check_cells(ctx: RuleContext, schema: TableSchema, records: list[Record]) -> None:
    """Line breaks, stray spaces, Chinese in English fields: each column is searched whole first, and
    only a column with a hit is gone through cell by cell for the located messages."""
    columns = read_raw_columns(ctx.project.table_path(schema.name)) if records else {}
    for f in schema.fields:
        column = columns.get(f.name) or [""] * len(records)
        joined = "\x00".join(column)
        suspect = "\n" in joined or "\r" in joined or "\t" in joined or list(map(str.strip, column)) != column
        if not suspect and not (f.is_english and CHINESE.search(joined)):
            continue
        for record, value in zip(records, column, strict=True):
            if value:
                _cell_problems(ctx, record, f.name, value, f.is_english)


def check_verbatim(ctx: RuleContext, schema: TableSchema, records: Iterable[Record]) -> None:
    verbatim = [f.name for f in schema.fields if f.verbatim]
    for record in records:
        policy_id = ctx.policy_of(record)
        if policy_id not in ctx.sources:
            continue  # the missing policy or measure is reported as a foreign-key problem
        source_name, source = ctx.sources[policy_id]
        for name in verbatim:
            text = record.raw.get(name, "")
            if not text:
                continue
            if name in ("text_zh", "heading_zh") and ctx.paragraph_found(record, policy_id, text):
                continue  # verbatim, at the start of a paragraph
            if name == "quote_zh" and ctx.quote_accepted(record, policy_id, text):
                continue  # a whole sentence of its measure's verbatim text
            if text not in source:
                ctx.add(record, name, _not_verbatim(text, source_name, source))
            elif name in ("text_zh", "heading_zh") and not _starts_paragraph(text, source):
                ctx.add(record, name, f"does not start at the beginning of a paragraph of {source_name}")
            elif name == "quote_zh" and not _is_sentence(text, source):
                ctx.add(
                    record,
                    name,
                    f"is not a whole sentence of {source_name} (it must run from a 。；or line start to the next)",
                )
            elif (
                name == "quote_zh"
                and (measure := ctx.measures.get(record.raw.get("measure_id", "")))
                and text not in measure.raw.get("text_zh", "")
            ):
                ctx.add(record, name, f'is not in the text of measure "{measure.raw["id"]}"')


def check_same_policy(ctx: RuleContext, records: Iterable[Record]) -> None:
    for record in records:
        own = record.raw.get("policy_id")
        for column in ("measure_id", "parent_id"):
            other = ctx.measures.get(record.raw.get(column, ""))
            if other is None:
                continue
            if own and other.raw.get("policy_id") != own:
                ctx.add(
                    record, column, f'"{other.raw["id"]}" belongs to policy "{other.raw.get("policy_id")}", not "{own}"'
                )


def check_targets(ctx: RuleContext, records: Iterable[Record]) -> None:
    for record in records:
        raw = record.raw
        figure, quote = raw.get("figure_zh", ""), raw.get("quote_zh", "")
        value, value_max = _number(raw, "value"), _number(raw, "value_max")
        masked = MASK in figure
        if figure and quote and figure not in quote:
            ctx.add(record, "figure_zh", f'"{figure}" does not occur in quote_zh')
        if raw.get("status") == "redacted":
            if value is not None or value_max is not None:
                ctx.add(record, "value", "a redacted target has no value: the source masks it; leave value empty")
            if figure and not masked:
                ctx.add(record, "figure_zh", f'"{figure}" is not masked with "*", so the target is not redacted')
        elif raw.get("status") == "stated":
            if masked:
                ctx.add(
                    record, "status", f'figure "{figure}" is masked with "*": status must be redacted and value empty'
                )
            if value is None and not raw.get("value"):
                ctx.add(record, "value", "is required when status is stated")
        for name, number in (("value", value), ("value_max", value_max)):
            if isinstance(number, (int, float)) and figure and not figure_states(figure, number):
                ctx.add(record, name, f'"{format_number(number)}" does not occur in the figure "{figure}" as written')
        if value_max is not None and (value is None or value_max <= value):
            ctx.add(record, "value_max", f'"{format_number(value_max)}" must be greater than value')
        if (raw.get("comparator") == "range") != (value_max is not None) and not masked:
            ctx.add(record, "comparator", "use `range` exactly when the figure is a span with a value_max")


def check_rules(project: Project, schemas: dict[str, TableSchema]) -> list[Problem]:
    """Run every project rule on the given tables (those whose files could be read)."""
    tables: dict[str, list[Record]] = {}
    for name, schema in schemas.items():
        path = project.table_path(name)
        shown = project.display(path)
        if path.exists():
            tables[name] = list(_records(project, schema, shown))
    ctx = RuleContext(project, tables)
    ctx.load_sources()
    for name, records in tables.items():
        schema = schemas[name]
        check_cells(ctx, schema, records)
        check_verbatim(ctx, schema, records)
        check_same_policy(ctx, records)
    check_targets(ctx, tables.get("targets", []))
    ctx.problems.extend(check_comparability(tables))
    return ctx.problems


def check_comparability(tables: dict[str, list[Record]]) -> list[Problem]:
    """Targets fit their indicators, restatements point to one commitment, inferred deadlines say how."""
    targets = [(r.file, r.line, r.raw) for r in tables.get("targets", [])]
    indicators = {r.raw.get("id", ""): r.raw for r in tables.get("indicators", [])}
    units = {r.raw.get("unit_zh", ""): r.raw for r in tables.get("units", [])}
    caveats = {r.raw.get("id", ""): r.raw.get("caveat_zh", "") for r in tables.get("policies", [])}
    return [
        *check_indicator_fit(targets, indicators, units),
        *check_commitments(targets, units),
        *check_deadline_basis(targets, caveats),
    ]
