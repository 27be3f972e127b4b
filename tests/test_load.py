"""A short, bounded load run in the suite: 10 clients for 5 s over every kind of request, zero errors.

Throughput, latency and memory are measured by tests/benchmarks/bench_load.py, not asserted here.
"""

from __future__ import annotations

import pytest

from benchmarks.load import discover_mix, run_load

pytestmark = pytest.mark.slow


def test_short_load_has_no_errors(live_portal):
    mix = discover_mix(live_portal.base_url)
    assert {"page", "datasette-json", "csv", "sql"} <= set(mix.paths)
    report = run_load(live_portal.base_url, clients=10, seconds=5, server_pid=live_portal.process.pid, mix=mix)
    assert report.error_count == 0, report.summary()
    assert set(report.latencies) == set(mix.paths), "every kind of request was made"
    assert report.rss_samples
