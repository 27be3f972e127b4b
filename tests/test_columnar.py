"""The columnar engine reports exactly what Frictionless reports, on every kind of broken input.

Each case breaks a copy of the test sample (plus a known-good measure, target and heading) one
way, then both engines check it; their problems must be identical. Cases the columnar engine does
not handle itself (header problems) must fall back to Frictionless, and say so.

A case is checked on the tables it changed and their neighbours by foreign key (the tables they refer
to, for dangling references, and the tables that refer to them, for references a change left
dangling), not on all of them: what it broke is there, and the rest is checked once, unbroken.
"""

from __future__ import annotations

import re
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from test_validate import append_row, good_measure, good_target

from conftest import read_table, write_table
from kechuang.model.schema import TableSchema, frictionless_descriptor, load_schemas
from kechuang.project import Project
from kechuang.text.numerals import number_occurs
from kechuang.text.paragraphs import paragraph_index, paragraph_start
from kechuang.validate.columnar import Unsupported, check_package
from kechuang.validate.datasets import check_tables
from kechuang.validate.rules import _starts_paragraph

POLICY = "wuhan-2024-sci-edu-talent-opinions"


def heading(section: str, **change: str) -> dict[str, str]:
    return {
        "policy_id": POLICY,
        "section": section,
        "level": "1",
        "ordinal": "1",
        "heading_zh": "一、总体要求",
        "heading_en": "General requirements",
        **change,
    }


def set_cell(datasets: Path, table: str, match: dict[str, str], column: str, value: str) -> None:
    header, rows = read_table(datasets / f"{table}.csv")
    hits = [r for r in rows if all(r[k] == v for k, v in match.items())]
    assert hits, f"no {table} row matches {match}"
    hits[0][column] = value
    write_table(datasets / f"{table}.csv", header, rows)


def append_line(datasets: Path, table: str, line: str) -> None:
    with (datasets / f"{table}.csv").open("a", encoding="utf-8") as f:
        f.write(line + "\n")


def target(datasets: Path, **change: str) -> Callable[[Path], None]:
    return lambda d: append_row(d / "targets.csv", {**good_target(datasets), "id": "zz-broken", **change})


Case = Callable[[Path], None]
TARGET = {"id": "zz-test-2026-patents"}
CELL_CASES: dict[str, Case] = {
    "integer with spaces": lambda d: set_cell(d, "targets", TARGET, "deadline_year", " 2026 "),
    "integer written as decimal": lambda d: set_cell(d, "targets", TARGET, "deadline_year", "2026.0"),
    "integer with a plus sign": lambda d: set_cell(d, "targets", TARGET, "deadline_year", "+2026"),
    "integer in full-width digits": lambda d: set_cell(d, "targets", TARGET, "deadline_year", "２０２６"),
    "integer below minimum": lambda d: set_cell(d, "targets", TARGET, "deadline_year", "1999"),
    "integer above maximum": lambda d: set_cell(d, "targets", TARGET, "deadline_year", "2099"),
    "integer that is text": lambda d: set_cell(d, "targets", TARGET, "deadline_year", "明年"),
    "required integer empty": lambda d: set_cell(d, "targets", TARGET, "deadline_year", ""),
    "number in exponent form": lambda d: set_cell(d, "targets", TARGET, "value", "4.5e1"),
    "number with underscore": lambda d: set_cell(d, "targets", TARGET, "value", "4_5"),
    "number NaN": lambda d: set_cell(d, "targets", TARGET, "value", "NaN"),
    "number infinity": lambda d: set_cell(d, "targets", TARGET, "value", "Infinity"),
    "number with spaces": lambda d: set_cell(d, "targets", TARGET, "value", " 45 "),
    "number that is text": lambda d: set_cell(d, "targets", TARGET, "value", "四十五"),
    "minimum with NaN": lambda d: set_cell(d, "measures", {"id": "zz-test-goal"}, "ordinal", "NaN"),
    "minimum broken": lambda d: set_cell(d, "measures", {"id": "zz-test-goal"}, "number", "0"),
    "boolean yes": lambda d: set_cell(d, "policies", {"id": POLICY}, "title_is_editorial", "yes"),
    "boolean TRUE": lambda d: set_cell(d, "policies", {"id": POLICY}, "title_is_editorial", "TRUE"),
    "boolean 1": lambda d: set_cell(d, "policies", {"id": POLICY}, "title_is_editorial", "1"),
    "date without zero padding": lambda d: set_cell(d, "policies", {"id": POLICY}, "issued_on", "2024-5-9"),
    "date that does not exist": lambda d: set_cell(d, "policies", {"id": POLICY}, "issued_on", "2024-02-30"),
    "date in another format": lambda d: set_cell(d, "policies", {"id": POLICY}, "issued_on", "29/05/2024"),
    "enum broken": lambda d: set_cell(d, "targets", TARGET, "comparator", "roughly"),
    "enum case": lambda d: set_cell(d, "targets", TARGET, "comparator", "Reach"),
    "pattern broken": lambda d: set_cell(d, "targets", TARGET, "id", "Bad_Id"),
    "required string empty": lambda d: set_cell(d, "targets", TARGET, "name_en", ""),
    "primary key empty": lambda d: set_cell(d, "targets", TARGET, "id", ""),
    "string with spaces only": lambda d: set_cell(d, "targets", TARGET, "name_en", "   "),
    "dangling reference": lambda d: set_cell(d, "targets", TARGET, "indicator_id", "no-such-indicator"),
    "dangling self reference": lambda d: set_cell(d, "jurisdictions", {"id": "wuhan"}, "parent_id", "nowhere"),
    "reference to a broken id": lambda d: set_cell(d, "measures", {"id": "zz-test-goal"}, "id", "Zz-Test-Goal"),
    "duplicate id": lambda d: append_row(d / "targets.csv", good_target(d)),
    "id three times": lambda d: [append_row(d / "targets.csv", good_target(d)) for _ in range(2)],
    "duplicate composite key": lambda d: append_row(d / "headings.csv", heading("九十九、")),
    "composite key half empty": lambda d: append_row(d / "headings.csv", heading("")),
    "blank line": lambda d: append_line(d, "targets", ""),
    "row of empty cells": lambda d: append_line(d, "targets", "," * 18),
    "short row": lambda d: append_line(d, "jurisdictions", "ezhou,鄂州市"),
    "long row": lambda d: append_line(d, "jurisdictions", "ezhou,鄂州市,Ezhou,city,hubei,surplus,more"),
    "long row of empty fields": lambda d: append_line(d, "jurisdictions", ",,,,,surplus"),
    "quoted line break": lambda d: append_line(d, "jurisdictions", 'ezhou,"鄂州\n市",Ezhou,city,hubei'),
    "quoted comma": lambda d: append_line(d, "jurisdictions", 'ezhou,"鄂州,市",Ezhou,city,hubei'),
    "many errors in one row": lambda d: append_line(d, "targets", "Bad Id,,,,,,,,,weird,x,y,,,z,,,,"),
}
HEADER_CASES: dict[str, Case] = {
    "renamed column": lambda d: (d / "units.csv").write_text(
        (d / "units.csv").read_text(encoding="utf-8").replace("unit_en", "unit_english", 1), encoding="utf-8"
    ),
    "missing column": lambda d: write_table(
        d / "indicators.csv",
        [h for h in read_table(d / "indicators.csv")[0] if h != "description_en"],
        [{k: v for k, v in r.items() if k != "description_en"} for r in read_table(d / "indicators.csv")[1]],
    ),
    "empty file": lambda d: (d / "glossary.csv").write_text("", encoding="utf-8"),
}


def with_good_rows(datasets: Path) -> Path:
    append_row(datasets / "measures.csv", good_measure(datasets))
    append_row(datasets / "targets.csv", good_target(datasets))
    append_row(datasets / "headings.csv", heading("九十九、"))
    return datasets


@pytest.fixture
def base(sample_copy: Path) -> Path:
    """The test sample (tables of a few rows, every kind of field) plus a known-good measure, target and heading."""
    return with_good_rows(sample_copy)


def neighbourhood(schemas: dict[str, TableSchema], changed: set[str]) -> dict[str, TableSchema]:
    """The changed tables, the tables they refer to and the tables that refer to them, in the schemas' order."""
    keep = set(changed)
    for name, schema in schemas.items():
        referred = {fk.table for fk in schema.foreign_keys}
        if name in changed:
            keep |= referred
        elif referred & changed:
            keep.add(name)
    return {name: schema for name, schema in schemas.items() if name in keep and schema.curated}


def tables_of(datasets: Path) -> dict[str, bytes]:
    return {path.stem: path.read_bytes() for path in datasets.glob("*.csv")}


@dataclass
class Broken:
    """A copy of the datasets broken by one case, narrowed to what the case touched."""

    project: Project
    schemas: dict[str, TableSchema]

    def problems(self, engine: str) -> set[str]:
        found, _readable = check_tables(self.project, self.schemas, engine)
        return {str(p) for p in found}

    def handled_by_columnar(self) -> bool:
        tables = {}
        for name, schema in self.schemas.items():
            descriptor = frictionless_descriptor(schema)
            descriptor["foreignKeys"] = [  # as check_tables limits them: to the tables checked
                fk for fk in descriptor.get("foreignKeys", []) if fk["reference"]["resource"] in ("", *self.schemas)
            ]
            tables[name] = (self.project.table_path(name), descriptor)
        try:
            check_package(self.project.datasets, tables)
        except Unsupported:
            return False
        return True


def broken(project: Project, datasets: Path, case: Case) -> Broken:
    """Apply `case` to `datasets`; the result holds the tables it changed and their neighbours, alone in a folder."""
    before = tables_of(datasets)
    case(datasets)
    changed = {name for name, data in tables_of(datasets).items() if before.get(name) != data}
    assert changed, "the case changed no table"
    schemas = neighbourhood(load_schemas(project.schemas), changed)
    narrowed = datasets.parent / f"{datasets.name}-narrowed"
    narrowed.mkdir()
    for name in schemas:
        shutil.copy(datasets / f"{name}.csv", narrowed / f"{name}.csv")
    copy = Project(root=project.root, datasets=narrowed, schemas=project.schemas, dist_dir=project.dist)
    return Broken(copy, schemas)


def problems(project: Project, datasets: Path, engine: str) -> set[str]:
    """Every table of `datasets` checked by `engine`."""
    broken = Project(root=project.root, datasets=datasets, schemas=project.schemas, dist_dir=project.dist)
    found, _readable = check_tables(broken, load_schemas(project.schemas), engine)
    return {str(p) for p in found}


@pytest.mark.parametrize("datasets", ["sample_copy", "datasets_copy"], ids=["sample", "real data"])
def test_unbroken_datasets_pass_both_engines(project: Project, request, datasets: str):
    unbroken = with_good_rows(request.getfixturevalue(datasets))
    assert problems(project, unbroken, "frictionless") == problems(project, unbroken, "columnar") == set()


@pytest.mark.parametrize("case", list(CELL_CASES))
def test_both_engines_report_the_same_cell_and_row_problems(project: Project, base: Path, case: str):
    checked = broken(project, base, CELL_CASES[case])
    expected = checked.problems("frictionless")
    assert checked.problems("columnar") == expected
    assert checked.handled_by_columnar(), "the columnar engine should check this itself"


@pytest.mark.parametrize("case", list(HEADER_CASES))
def test_header_problems_fall_back_to_frictionless(project: Project, base: Path, case: str):
    checked = broken(project, base, HEADER_CASES[case])
    expected = checked.problems("frictionless")
    assert expected, "the case should break something"
    assert not checked.handled_by_columnar()
    assert checked.problems("columnar") == expected


def test_cases_break_what_they_say(project: Project, base: Path):
    """Guard against cases that silently break nothing: most must produce a schema problem."""
    silent = []
    for case, breaker in CELL_CASES.items():
        copy = base.parent / re.sub(r"\W+", "-", case)
        shutil.copytree(base, copy)
        if not broken(project, copy, breaker).problems("columnar"):
            silent.append(case)
    # Valid in Frictionless's eyes: numbers it reads after stripping, +/full-width digits, exponents,
    # underscores, Infinity, a TRUE/1 boolean, spaces-only text and commas or line breaks in quotes.
    assert set(silent) == {
        "integer with spaces",
        "integer with a plus sign",
        "integer in full-width digits",
        "number in exponent form",
        "number with underscore",
        "number NaN",
        "number infinity",
        "number with spaces",
        "boolean TRUE",
        "boolean 1",
        "date without zero padding",
        "string with spaces only",
        "quoted comma",
        "quoted line break",
    }


@given(
    st.text(alphabet="0123456789.,-x０１２３٣ 亿元", max_size=12),
    st.text(alphabet="0123456789.", min_size=1, max_size=4),
)
def test_number_occurs_is_the_pattern_it_replaces(text: str, number: str):
    pattern = re.compile(rf"(?<![\d.]){re.escape(number)}(?![\d])")
    assert number_occurs(text, number) == bool(pattern.search(text))


@given(
    st.lists(st.text(alphabet="一二三。；ab \u3000\t\r", max_size=12), max_size=6),
    st.text(alphabet="一二三。ab", min_size=1, max_size=10),
)
def test_paragraph_index_accepts_only_what_the_full_check_accepts(lines: list[str], text: str):
    source = "\n".join(lines)
    start = paragraph_start(source, paragraph_index(source), text)
    if start is not None:
        assert source.startswith(text, start)
        assert _starts_paragraph(text, source)


@pytest.mark.parametrize(("separator", "named"), [(";", '";"'), ("\t", "tabs"), ("|", '"|"')])
def test_a_table_not_separated_by_commas_is_refused(project: Project, base: Path, separator: str, named: str):
    """Frictionless would detect the separator and pass the file, but the build reads commas."""

    def resplit(datasets: Path) -> None:
        path = datasets / "units.csv"
        path.write_text(path.read_text(encoding="utf-8").replace(",", separator), encoding="utf-8")

    checked = broken(project, base, resplit)
    for engine in ("frictionless", "columnar"):
        assert f"units.csv:1: is separated by {named}, not commas" in " ".join(checked.problems(engine))
