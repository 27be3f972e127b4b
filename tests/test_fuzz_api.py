"""The deep schemathesis run: every operation of the served OpenAPI document, against hostile data.

tests/test_api_fuzz.py (the API's own) fuzzes the real and the sample data with a few dozen examples
per operation. This run goes further, as an outsider would: the spec is fetched from the served
portal, the database holds script and markup payloads in every table (tests/hostile.py), and each
operation gets DEEP_EXAMPLES valid and DEEP_EXAMPLES invalid requests. Every response must pass all
of schemathesis' checks (no 5xx, status, content type, headers and body as documented, invalid
input refused) and ours: the security headers are on it, and an error is the project's JSON error.
Failures of all operations are collected, so one run reports them all.
"""

from __future__ import annotations

import tomllib

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis.config import SchemathesisConfig
from schemathesis.generation import GenerationMode
from schemathesis.specs.openapi.checks import negative_data_rejection
from schemathesis_hooks import server_made_cursor

from conftest import ROOT

pytestmark = pytest.mark.slow

DEEP_EXAMPLES = 150
# Left to tests/test_api_fuzz.py: with this many examples schemathesis also sends "invalid" values that
# serialise into valid ones (an object in an array-typed query parameter becomes one string), and
# reports their acceptance. This run is about robustness and conformance, not that contract.
EXCLUDED = [negative_data_rejection]
NEGATIVE_STATUSES = tomllib.loads((ROOT / "schemathesis.toml").read_text())["checks"]["negative_data_rejection"][
    "expected-statuses"
]


def security_headers(ctx, response, case) -> bool:
    """Every API response carries the portal's security headers."""
    headers = {k.lower(): v[0] if isinstance(v, list) else v for k, v in response.headers.items()}
    policy = headers.get("content-security-policy", "")
    assert "frame-ancestors 'none'" in policy, f"no frame-ancestors in {policy!r}"
    assert "'unsafe-inline'" not in policy.partition("script-src")[2].partition(";")[0]
    assert headers.get("x-content-type-options") == "nosniff"
    return True


def error_shape(ctx, response, case) -> bool:
    """A 4xx is the project's JSON error, naming its status."""
    if 400 <= response.status_code < 500 and response.status_code != 406:
        error = response.json()["error"]
        assert error["status"] == response.status_code and error["code"] and error["message"], error
    return True


def deep_schema(base_url: str):
    config = SchemathesisConfig.from_dict(
        {
            "seed": 20261124,
            "generation": {"max-examples": DEEP_EXAMPLES},
            "checks": {"negative_data_rejection": {"expected-statuses": NEGATIVE_STATUSES}},
        }
    )
    return schemathesis.openapi.from_url(f"{base_url}/api/v1/openapi.json", config=config)


def fuzz_operation(operation, mode: GenerationMode, base_url: str) -> None:
    @settings(
        max_examples=DEEP_EXAMPLES,
        deadline=None,
        database=None,
        derandomize=True,
        suppress_health_check=list(HealthCheck),
    )
    @given(case=operation.as_strategy(generation_mode=mode))
    def run(case) -> None:
        case.query = server_made_cursor(case.query)
        response = case.call(base_url=base_url, timeout=30)
        case.validate_response(
            response, additional_checks=[security_headers, error_shape], excluded_checks=EXCLUDED
        )

    run()


def test_every_operation_survives_deep_fuzzing_on_hostile_data(hostile):
    portal, _rows = hostile
    schema = deep_schema(portal.base_url)
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 10, "the served spec lost its operations"
    failures = []
    for operation in operations:
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            try:
                fuzz_operation(operation, mode, portal.base_url)
            except Unsatisfiable:
                assert mode is GenerationMode.NEGATIVE, f"{operation.label}: no valid request can be generated"
                # an operation without parameters has no invalid request to make
            except BaseException as failure:  # collect every operation's failure, then report them all
                if isinstance(failure, (KeyboardInterrupt, SystemExit)):
                    raise
                failures.append(f"{operation.label} [{mode.value}]: {str(failure)[:1500]}")
    assert not failures, f"{len(failures)} failing operation(s):\n\n" + "\n\n".join(failures)
