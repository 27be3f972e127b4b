"""Fuzz Datasette's own URLs on the portal (in process, on the test sample): no input may produce a 5xx.

Hypothesis composes table, row and SQL requests from the parameters Datasette 0.65 reads, the
filter operators it knows, the real tables and columns (from the schemas), and hostile values.
"""

from __future__ import annotations

import json
from urllib.parse import quote

import httpx
import pytest
from datasette.filters import Filters
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kechuang.model.schema import load_schemas
from kechuang.model.views import load_views
from kechuang.project import Project

pytestmark = [
    pytest.mark.slow,
    # In process, what a server process used to swallow shows: Datasette 0.65's table view creates its
    # facet coroutines before a bad parameter is found, and drops them unawaited.
    pytest.mark.filterwarnings("ignore:coroutine .* was never awaited:RuntimeWarning"),
]

SCHEMAS = load_schemas(Project.locate().schemas)
TABLES = [*SCHEMAS, *load_views(Project.locate().schemas)]
COLUMNS = sorted({f.name for s in SCHEMAS.values() for f in s.fields})
OPERATORS = [f.key for f in Filters._filters]
PARAMETERS = [
    "_col", "_context", "_dl", "_extras", "_facet", "_facet_array", "_facet_date", "_facet_size", "_fts_pk",
    "_fts_table", "_header", "_json", "_json_infinity", "_label", "_labels", "_next", "_nl", "_nocol", "_nocount",
    "_nofacet", "_nosuggest", "_search", "_searchmode", "_shape", "_show_hidden", "_size", "_sort",
    "_sort_by_desc", "_sort_desc", "_stream", "_through", "_timelimit", "_trace", "_ttl", "_where",
]

hostile_text = st.one_of(
    st.text(max_size=40),
    st.sampled_from(
        ["", "]", "[", "'", '"', "%", "~", "\\", "max", "-1", "0", "1e400", "NaN", "null", "[1,2]", "[{}]", "{}",
         '{"table":"measures","column":"id","value":"x"}', "<script>alert(1)</script>", "1; drop table units",
         "select 1", "objects", "array", "arrays", "object", "on", "off", "raw", "zh", "2026-01-01"]
    ),
    st.sampled_from(COLUMNS),
    st.sampled_from(TABLES),
    st.integers(min_value=-(2**63), max_value=2**64).map(str),
)
keys = st.one_of(
    st.sampled_from(PARAMETERS),
    st.tuples(st.sampled_from(COLUMNS), st.sampled_from(OPERATORS)).map("__".join),
    st.sampled_from(COLUMNS),
    st.sampled_from(COLUMNS).map("_search_{}".format),
    st.text(max_size=12),
)
query = st.lists(st.tuples(keys, hostile_text), max_size=6)
suffix = st.sampled_from(["", ".json", ".csv"])


def encode(pairs: list[tuple[str, str]]) -> str:
    return "&".join(f"{quote(k, safe='')}={quote(v, safe='')}" for k, v in pairs)


@pytest.fixture(scope="module")
def client(sample_portal):
    """The portal's Datasette in process, on the sample: every table has rows, and script payloads."""
    return sample_portal.client


def assert_no_server_error(response: httpx.Response) -> None:
    assert response.status_code < 500, f"{response.request.url} → {response.status_code}: {response.text[:400]}"


FUZZ = settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


@FUZZ
@given(table=st.sampled_from(TABLES), pairs=query, ext=suffix)
def test_table_pages_never_fail(client, table, pairs, ext):
    assert_no_server_error(client.get(f"/kechuang/{table}{ext}?{encode(pairs)}"))


@FUZZ
@given(table=st.sampled_from(list(SCHEMAS)), key=hostile_text, pairs=query, ext=suffix)
def test_row_pages_never_fail(client, table, key, pairs, ext):
    assert_no_server_error(client.get(f"/kechuang/{table}/{quote(key, safe='')}{ext}?{encode(pairs)}"))


sql_fragments = st.sampled_from(
    ["select", "*", "from", "where", "with recursive", "union all", "order by", "limit", "(", ")", ",", "'", ":p",
     "randomblob(1000)", "printf('%.*c', 99999999, 'x')", "json_each('[1,2]')", "pragma_table_info('units')",
     "count(*)", "group_concat(id)", "1", "-9223372036854775808", "units", "targets", "targets_detail", "x'00'"]
)


@FUZZ
@given(
    sql=st.one_of(st.text(max_size=80), st.lists(sql_fragments, max_size=12).map(" ".join)),
    pairs=query,
    ext=suffix,
)
def test_arbitrary_sql_never_fails(client, sql, pairs, ext):
    assert_no_server_error(client.get(f"/kechuang{ext}?{encode([('sql', sql), *pairs])}"))


@FUZZ
@given(path=st.text(max_size=60), pairs=query, method=st.sampled_from(["GET", "HEAD", "OPTIONS"]))
def test_arbitrary_paths_never_fail(client, path, pairs, method):
    assert_no_server_error(client.request(method, f"/{quote(path, safe='/~.-_')}?{encode(pairs)}"))


def test_canned_queries_with_hostile_parameters(client, project):
    metadata = json.loads(client.get("/-/metadata.json").text)
    for name in metadata["databases"]["kechuang"].get("queries", {}):
        for value in ["", "]", "' or 1=1 --", "9" * 40, "<script>", "\x00"]:
            for param in ("year", "agency", "indicator"):
                assert_no_server_error(client.get(f"/kechuang/{name}.json", params={param: value}))
