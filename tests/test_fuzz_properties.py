"""Property tests (hypothesis) for the code that turns visitor input or stored data into output.

None of these may raise on any input, and each keeps its promise:

- the CSV writer: the file parses back to exactly the records written, one row per record, every
  cell intact except that text a spreadsheet would run as a formula starts with an apostrophe.

(The request guard's own property tests are in tests/test_security_http.py.)
"""

from __future__ import annotations

import csv
import io
import math

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kechuang.api.collections import build_catalog
from kechuang.api.csv_export import FORMULA_STARTS, write_csv
from kechuang.project import Project
from kechuang.schemas import load_schemas

CATALOG = build_catalog(load_schemas(Project.locate().schemas))
COLLECTIONS = sorted(CATALOG.collections)

# Text a curator or a hostile record may hold: formula starts, separators, quotes, line breaks, NULs.
tricky_text = st.one_of(
    st.text(),
    st.sampled_from(FORMULA_STARTS).flatmap(lambda start: st.text().map(lambda rest: start + rest)),
    st.lists(st.sampled_from([",", '"', "\r", "\n", "\r\n", "'", "=", "\x00", "技术", " "]), max_size=8).map("".join),
)
VALUES = {
    "string": st.one_of(st.none(), tricky_text),
    "date": st.one_of(st.none(), tricky_text),
    "integer": st.one_of(st.none(), st.integers(min_value=-(2**63), max_value=2**63 - 1)),
    "number": st.one_of(st.none(), st.integers(min_value=-(2**60), max_value=2**60), st.floats()),
    "boolean": st.one_of(st.none(), st.sampled_from([0, 1])),
}


@st.composite
def collection_and_rows(draw):
    collection = CATALOG.collections[draw(st.sampled_from(COLLECTIONS))]
    columns = list(collection.columns)
    rows = draw(
        st.lists(
            st.fixed_dictionaries({c.name: VALUES.get(c.type, VALUES["string"]) for c in columns}),
            max_size=6,
        )
    )
    return columns, rows


def expected_cell(column, value) -> str:
    if value is None:
        return ""
    if column.type == "boolean":
        return "true" if value else "false"
    if isinstance(value, float):
        if column.type == "number" and value.is_integer() and abs(value) < 2**53:
            return str(int(value))
        return repr(value)
    if isinstance(value, int):
        return str(value)
    return "'" + value if value.startswith(FORMULA_STARTS) else value


@settings(max_examples=1500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(collection_and_rows())
def test_csv_writer_round_trips_and_defuses_formulas(case):
    columns, rows = case
    text = write_csv(columns, rows)
    parsed = list(csv.reader(io.StringIO(text, newline="")))
    assert parsed[0] == [c.name for c in columns]
    assert len(parsed) == len(rows) + 1
    for record, line in zip(rows, parsed[1:], strict=True):
        assert len(line) == len(columns)
        for column, cell in zip(columns, line, strict=True):
            value = record[column.name]
            if isinstance(value, float) and math.isnan(value):
                assert cell == "nan"
                continue
            assert cell == expected_cell(column, value), column.name
            if isinstance(value, str) and cell:
                assert not cell.startswith(FORMULA_STARTS), "a spreadsheet would run this cell as a formula"
