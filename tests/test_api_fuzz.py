"""Schemathesis over every operation of the served /api/v1 OpenAPI document, once, in process.

The run is `st run` done in process: schemathesis' own engine with its phases that apply (explicit
examples, boundary coverage, fuzzing with valid and invalid requests; not stateful sequences: every
operation is a read, so none changes what another returns), the project's
schemathesis.toml settings and hooks (tests/schemathesis_hooks.py), the spec fetched from the served
portal, and the portal's Datasette called as an ASGI app. The database is the test sample (fixture
`sample`): a record in every relation, so embedded records are fuzzed too, and script and markup
payloads in every table (tests/hostile.py).

Every response must pass every schemathesis check (no 5xx; status, content type, headers and body as
documented; invalid input refused, valid input accepted) and ours: the security headers are on it,
and an error is the project's JSON error. Failures of all operations are collected, so one run
reports them all.
"""

from __future__ import annotations

import re
import tomllib
from collections import Counter

import pytest
import schemathesis
from schemathesis.config import SchemathesisConfig
from schemathesis.engine import Status, events, from_schema
from schemathesis_hooks import can_be_sent

from conftest import ROOT

pytestmark = pytest.mark.slow

# Random requests per operation and mode, beside the boundary-coverage phase's systematic ones (about 2,900).
MAX_EXAMPLES = 15
SEED = 20261123
PHASES = {"examples": True, "coverage": True, "fuzzing": True, "stateful": False}
# A listing's download variants (`/api/v1/targets.csv`, `.excel_csv`, `.xlsx`) take exactly the listing's
# parameters, read by the same code (checked below): the boundary-coverage phase, which sends every
# boundary of every parameter (about 9,600 of its 13,300 requests went to these copies), runs on the listing
# only; the variants still get the examples and fuzzing phases.
DOWNLOADS = r"\.(csv|excel_csv|xlsx)$"
# schemathesis.toml, as `st run` reads it; its hooks are tests/schemathesis_hooks.py, imported above.
SETTINGS = tomllib.loads((ROOT / "schemathesis.toml").read_text(encoding="utf-8"))


@schemathesis.check
def security_headers(ctx, response, case) -> bool:
    """Every API response carries the portal's security headers."""
    headers = {k.lower(): v[0] if isinstance(v, list) else v for k, v in response.headers.items()}
    policy = headers.get("content-security-policy", "")
    assert "frame-ancestors 'none'" in policy, f"no frame-ancestors in {policy!r}"
    assert "'unsafe-inline'" not in policy.partition("script-src")[2].partition(";")[0]
    assert headers.get("x-content-type-options") == "nosniff"
    return True


@schemathesis.check
def error_shape(ctx, response, case) -> bool:
    """A 4xx is the project's JSON error, naming its status."""
    if 400 <= response.status_code < 500 and response.status_code != 406:
        error = response.json()["error"]
        assert error["status"] == response.status_code and error["code"] and error["message"], error
    return True


def test_a_parameter_that_would_vanish_on_the_wire_drops_the_case():
    """`offset={}` serialises to no offset at all, a valid request the fuzzer would expect refused."""
    assert not can_be_sent({"q": "x", "offset": {}})
    assert not can_be_sent({"type": []})
    assert can_be_sent({"q": "x", "offset": ""})
    assert can_be_sent({"q": "x", "offset": {"a": 1}})
    assert can_be_sent(None)


def failures_of(event: events.ScenarioFinished) -> list[str]:
    out = []
    for checks in event.recorder.checks.values():
        for check in checks:
            if check.status is Status.FAILURE and check.failure_info is not None:
                info = check.failure_info
                out.append(f"{check.name}: {info.failure.title}\n{info.failure.message[:800]}\n{info.code_sample}")
    return out or [f"{event.status.value} without a recorded check failure"]


def test_every_operation_passes_every_check(sample_portal):
    config = SchemathesisConfig.from_dict(
        {
            "seed": SEED,
            "generation": {"max-examples": MAX_EXAMPLES, "database": "none"},
            "checks": SETTINGS["checks"],
            "phases": {phase: {"enabled": enabled} for phase, enabled in PHASES.items()},
            "operations": [{"include-path-regex": DOWNLOADS, "phases": {"coverage": {"enabled": False}}}],
        }
    )
    schema = schemathesis.openapi.from_asgi("/api/v1/openapi.json", sample_portal.app, config=config)
    operations = {result.ok().label for result in schema.get_all_operations()}
    assert len(operations) >= 10, "the served spec lost its operations"

    tested: Counter[str] = Counter()
    failures: list[str] = []
    for event in from_schema(schema).execute():
        if isinstance(event, events.ScenarioFinished):
            if event.status is Status.SUCCESS:
                tested[event.phase.value] += 1
            elif event.status in (Status.FAILURE, Status.ERROR):
                failures += [f"{event.label} [{event.phase.value}] {text}" for text in failures_of(event)]
        elif isinstance(event, events.NonFatalError):
            failures.append(f"{event.label} [error]: {event.info.message}")
        elif isinstance(event, events.FatalError):
            failures.append(f"fatal: {event.exception!r}")
    assert not failures, f"{len(failures)} failure(s):\n\n" + "\n\n".join(failures[:30])
    # Every operation was fuzzed; every one but the download variants went through boundary coverage.
    downloads = {label for label in operations if re.search(DOWNLOADS, label)}
    assert downloads, "the spec lost its download variants: widen DOWNLOADS or drop it"
    assert tested["coverage"] >= len(operations) - len(downloads) and tested["fuzzing"] >= len(operations), tested


def test_download_variants_take_exactly_their_listings_parameters(sample_portal):
    """What lets the coverage phase skip the download variants: each takes its listing's parameters, the
    same schemas, no more (the listing's `format` chooses what the suffix chooses)."""
    spec = sample_portal.get("/api/v1/openapi.json").json()
    variants = [path for path in spec["paths"] if re.search(DOWNLOADS, path)]
    assert variants

    def parameters(path: str) -> dict[str, object]:
        return {p["name"]: p["schema"] for p in spec["paths"][path]["get"].get("parameters", []) if p["name"] != "format"}

    for path in variants:
        assert parameters(path) == parameters(re.sub(DOWNLOADS, "", path)), path
