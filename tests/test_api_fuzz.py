"""Schemathesis over the whole /api/v1 OpenAPI document, against the real served portal.

Every operation gets valid and invalid requests generated from the spec (explicit examples,
boundary coverage and random fuzzing); every response must conform to the spec (status, content
type, headers, body schema), never be a 5xx, and refuse what the spec calls invalid. It runs
against the real datasets and against the sample database (tests/data/api_sample), so responses
with embedded records are fuzzed too.

The spec is generated here from the project's schemas, exactly as the portal generates it (a test
in test_api_contract.py proves the served document is the same), because schemathesis' lazy
fixture loader does not work with pytest 9.
"""

from __future__ import annotations

import subprocess
import sys
import tomllib
from pathlib import Path

import schemathesis
from schemathesis.config import SchemathesisConfig
from schemathesis_hooks import can_be_sent, prepare_query

from conftest import API_SAMPLE, ROOT
from kechuang.model.schema import load_schemas
from kechuang.project import Project
from kechuang.serve.api.collections import build_catalog
from kechuang.serve.api.openapi import openapi_document
from kechuang.validate.tables import read_raw_rows

MAX_EXAMPLES = 30
# schemathesis.toml's list: its default, plus 414 from the portal's request guard.
NEGATIVE_STATUSES = tomllib.loads((ROOT / "schemathesis.toml").read_text())["checks"]["negative_data_rejection"][
    "expected-statuses"
]


def _first_ids(folder) -> dict[str, str]:
    """An existing id per collection (the smallest, as the portal picks it), for the item examples."""
    out = {}
    for name, collection in CATALOG.collections.items():
        path = folder / f"{name}.csv"
        ids = [row[collection.key] for _line, row in read_raw_rows(path)] if path.exists() else []
        if ids:
            out[name] = min(ids)
    return out


def _schema(examples: dict[str, str]):
    spec = openapi_document(CATALOG, {"version": "test", "date": "2026-01-01"}, examples)
    config = SchemathesisConfig.from_dict(
        {
            "seed": 20261123,
            "generation": {"max-examples": MAX_EXAMPLES, "mode": "all"},
            "checks": {"negative_data_rejection": {"expected-statuses": NEGATIVE_STATUSES}},
        }
    )
    return schemathesis.openapi.from_dict(spec, config=config)


PROJECT = Project.locate()
CATALOG = build_catalog(load_schemas(PROJECT.schemas))
real_schema = _schema(_first_ids(PROJECT.datasets))
sample_examples = _first_ids(PROJECT.datasets) | _first_ids(API_SAMPLE)
sample_schema = _schema(sample_examples)


def _call_and_validate(case, base_url: str) -> None:
    # A random cursor is refused by design (it has a checksum); send a server-made one instead,
    # as schemathesis.toml's hook does for `st run`. Every check applies.
    case.query = prepare_query(case.query)
    case.call_and_validate(base_url=base_url, timeout=30)


def test_a_parameter_that_would_vanish_on_the_wire_drops_the_case():
    """`offset={}` serialises to no offset at all, a valid request the fuzzer would expect refused."""
    assert not can_be_sent({"q": "x", "offset": {}})
    assert not can_be_sent({"type": []})
    assert can_be_sent({"q": "x", "offset": ""})
    assert can_be_sent({"q": "x", "offset": {"a": 1}})
    assert can_be_sent(None)


@real_schema.parametrize()
def test_real_data_conforms_to_the_spec(case, portal):
    _call_and_validate(case, portal.base_url)


@sample_schema.parametrize()
def test_sample_data_conforms_to_the_spec(case, sample_portal):
    _call_and_validate(case, sample_portal.base_url)


def test_st_run_over_the_served_document_finds_nothing(portal):
    """`st run` as a developer would: the spec fetched from the served portal, every phase (examples,
    boundary coverage, fuzzing, stateful), positive and negative, with the project's schemathesis.toml."""
    st = Path(sys.executable).parent / "st"
    done = subprocess.run(
        [
            str(st),
            "run",
            f"{portal.base_url}/api/v1/openapi.json",
            "--max-examples",
            "25",
            "--workers",
            "2",
            "--seed",
            "20261123",
            "--no-color",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert done.returncode == 0, done.stdout[-6000:] + done.stderr[-2000:]
    assert "No issues found" in done.stdout
