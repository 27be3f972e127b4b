"""Property tests (hypothesis) for the code that turns visitor input or stored data into output.

None of these may raise on any input, and each keeps its promise:

- the CSV writer: the file parses back to exactly the records written, one row per record, every
  cell intact except that text a spreadsheet would run as a formula starts with an apostrophe;
- the search normaliser and query builder: any text, in any script, with any FTS5 syntax in it, becomes
  tokens and match expressions that FTS5 accepts, on the real index and the real lexicon, on a
  connection hardened as the portal's are (kechuang.serve.security.connection);
- search over records full of script and markup (tests/hostile.py, in the test sample): every snippet and title is escaped
  text with only the <mark> highlights as markup.

(The request guard's own property tests are in tests/test_security_http.py.)
"""

from __future__ import annotations

import csv
import io
import math
import sqlite3
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kechuang.model.schema import load_schemas
from kechuang.project import Project
from kechuang.serve.api.collections import build_catalog
from kechuang.serve.api.csv_export import FORMULA_STARTS, write_csv
from kechuang.serve.search.query import parse_query
from kechuang.serve.search.routes import MAX_QUERY_CHARS
from kechuang.serve.search.service import load_search_index, run_search
from kechuang.serve.security.connection import harden_connection
from kechuang.text.normalize import analyse, fold, pinyin_tokens, query_runs

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


# A 20-line writer over six column types: a few hundred tables of tricky cells reach every branch.
@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
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


# --- search ------------------------------------------------------------------------------------

FTS5_SYNTAX = st.sampled_from(
    ['"', "'", "(", ")", "*", "^", "-", "+", ":", "{", "}", "[", "]", ",", ";", "AND", "OR", "NOT", "NEAR",
     "NEAR(", "NEAR/2", "title:", "body_cjk:", "{title quote}:", "rowid", "rank", "MATCH", "\x00", "\\"]
)
SCRIPTS = st.sampled_from(
    ["人才", "科學城", "技术合同成交额", "光谷", "guanggu", "dong hu", "Technology transfer", "TECHNOLOGIES",
     "ｔｅｃｈ", "３０００亿元", "①②", "…", "—", "「」", "《》", "\u200b", "\ufeff", "e\u0301", "\u202e", "🙂",
     "\U00020000", "ß", "İ", "ﬁ", "Ⅻ", "٣", "한국", "日本語", "кириллица"]
)
queries = st.lists(
    st.one_of(FTS5_SYNTAX, SCRIPTS, st.text(st.characters(codec="utf-8"), max_size=8)), max_size=40
).map("".join)


@pytest.fixture(scope="module")
def hardened_index(built_db: Path):
    """The real database opened as the portal opens it for visitors: immutable and hardened."""
    conn = sqlite3.connect(f"file:{built_db}?immutable=1", uri=True, check_same_thread=False)
    harden_connection(conn)
    yield conn, load_search_index(conn)
    conn.close()



@settings(max_examples=500, deadline=None)
@given(st.text(st.characters(codec="utf-8"), max_size=400))
def test_normaliser_never_raises(text):
    analysed = analyse(text)
    assert isinstance(fold(text), str)
    assert isinstance(pinyin_tokens(text), str)
    for run in query_runs(text):
        assert run.text, "an empty run"
    assert all(isinstance(t, str) for t in (analysed.words, analysed.grams))


@settings(max_examples=500, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(queries)
def test_every_match_expression_is_valid_fts5_on_the_real_index(hardened_index, text):
    conn, index = hardened_index
    parsed = parse_query(text[:MAX_QUERY_CHARS], index.lexicon)
    if parsed.is_empty:
        return
    expressions = [
        parsed.match_any(),
        parsed.match_all(),
        parsed.match_literal(),
        parsed.match_phrase(),
        parsed.match_title(),
    ]
    for shard in index.shards:
        for expression in filter(None, expressions):
            conn.execute(f"select rowid from [{shard}] where [{shard}] match ? limit 1", [expression]).fetchall()


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(queries)
def test_whole_searches_run_on_the_hardened_connection(hardened_index, text):
    conn, index = hardened_index
    result = run_search(conn, text[:MAX_QUERY_CHARS], index, limit=10, html_titles=True)
    assert result.total >= len(result.results)
    assert sum(v["count"] for v in result.facets.get("type", [])) == result.total  # facets count every match
    if result.answer:  # an answer lists the first result among its targets
        assert result.results[0]["id"] in {t["id"] for t in result.answer["targets"]}


@pytest.fixture(scope="module")
def hostile_index(sample_db: Path):
    """The test sample, with script and markup payloads in every table, opened as the portal opens it."""
    conn = sqlite3.connect(f"file:{sample_db}?immutable=1", uri=True, check_same_thread=False)
    harden_connection(conn)
    yield conn, load_search_index(conn)
    conn.close()


def markup_left(html: str) -> str:
    return html.replace("<mark>", "").replace("</mark>", "")


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    st.lists(
        st.sampled_from(["script", "window", "pwned", "onerror", "iframe", "svg", "onload", "alert", "img", "src"]),
        min_size=1,
        max_size=4,
    ).map(" ".join)
)
def test_search_over_hostile_records_escapes_everything(hostile_index, text):
    conn, index = hostile_index
    result = run_search(conn, text, index, limit=20, html_titles=True)
    for row in result.results:
        for key in ("snippet_zh", "snippet_en", "title_zh_html", "title_en_html"):
            assert "<" not in markup_left(row[key]), (key, row[key])


def test_hostile_records_are_found_by_their_payload_words(hostile_index):
    """So that the escaping test above is not vacuous: the payloads are in the index and found."""
    conn, index = hostile_index
    result = run_search(conn, "pwned window", index, limit=20, html_titles=True)
    assert result.total > 0
    assert any("&lt;" in row[key] for row in result.results for key in row if isinstance(row[key], str))
