"""Schemathesis hooks for fuzzing /api/v1 (loaded by schemathesis.toml and by tests/test_api_fuzz.py).

A cursor is valid only when the API produced it: it carries a checksum, so a random string that
matches the documented pattern is refused with 400, by design (tests/test_api.py checks that).
Left alone, the fuzzer would report every such request as "schema-valid request rejected". This
hook (before every call, in every phase) gives it what a client sends instead: a cursor made by the API's own encoder, for the sort
the request asks for. Cursors that violate the documented pattern are left as generated, so
negative testing still sends them and expects a 400.
"""

from __future__ import annotations

import re

import schemathesis

try:
    from kechuang.serve.api.pagination import Position, encode_cursor
except ImportError:  # run from elsewhere: fall back to leaving the cursor out
    encode_cursor = None

DOCUMENTED = re.compile(r"[A-Za-z0-9_-]{1,1024}")
SORT = re.compile(r"-?[a-z0-9_]+")


def server_made_cursor(query):
    """`query` with a documented-looking cursor replaced by one the API's encoder made for its sort."""
    if not isinstance(query, dict) or not isinstance(query.get("cursor"), str):
        return query
    if not DOCUMENTED.fullmatch(query["cursor"]):
        return query
    sort = query.get("sort", "id")
    if not isinstance(sort, str) or not SORT.fullmatch(sort):
        return query  # an invalid sort makes the request invalid anyway
    if encode_cursor is None:
        return {k: v for k, v in query.items() if k != "cursor"}
    position = Position(sort.removeprefix("-"), sort.startswith("-"), None, "")
    return {**query, "cursor": encode_cursor(position)}


def can_be_sent(query) -> bool:
    """False when a query parameter is an empty object or array.

    In negative testing the fuzzer may replace a parameter with `{}` or `[]`, which serialises to no
    parameter at all: the request that goes out is then valid (an absent or empty parameter takes its
    default), yet the fuzzer expects a refusal. No client can send such a value, so the case is dropped.
    """
    if not isinstance(query, dict):
        return True
    return not any(isinstance(v, (dict, list)) and not v for v in query.values())


def prepare_query(query):
    return server_made_cursor(query)


@schemathesis.hook
def filter_case(context, case) -> bool:
    return can_be_sent(case.query)


@schemathesis.hook
def before_call(context, case, kwargs):
    case.query = prepare_query(case.query)
