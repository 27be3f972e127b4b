"""Load benchmark (run by hand): N concurrent clients for S seconds against a portal on loopback.

    .venv/bin/python tests/benchmarks/bench_load.py                 # 50 clients, 60 s, own Datasette
    .venv/bin/python tests/benchmarks/bench_load.py --clients 10 --seconds 10
    .venv/bin/python tests/benchmarks/bench_load.py --url http://127.0.0.1:8001 --pid <server pid>
    .venv/bin/python tests/benchmarks/bench_load.py --distinct        # plus a flood of distinct API requests

Without --url it builds the real datasets into a temporary database and serves it with the
portal's own Datasette command line. It reports throughput, p50/p99 latency (overall and per kind
of request, with the single-client p50 measured first in the same run as the baseline), errors,
and the server's RSS sampled through the run. Exit status 1 when any request failed.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from benchmarks.load import discover_mix, run_load  # noqa: E402
from conftest import free_port, wait_until_up  # noqa: E402
from kechuang.compile import build_database  # noqa: E402
from kechuang.metadata import write_datasette_metadata  # noqa: E402
from kechuang.project import Project  # noqa: E402
from kechuang.serve import datasette_arguments  # noqa: E402


def start_portal(workdir: Path) -> tuple[str, subprocess.Popen]:
    project = Project.locate()
    db = build_database(project, workdir / "kechuang.db").path
    metadata = write_datasette_metadata(project, workdir / "metadata.json")
    port = free_port()
    log = (workdir / "datasette.log").open("w")
    process = subprocess.Popen(
        [sys.executable, "-m", "datasette", *datasette_arguments(project, db, metadata, "127.0.0.1", port)],
        stdout=subprocess.DEVNULL,
        stderr=log,
        env={**os.environ, "KECHUANG_ROOT": str(project.root)},
    )
    url = f"http://127.0.0.1:{port}"
    wait_until_up(url + "/-/versions.json", process, log=workdir / "datasette.log")
    return url, process


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--url", help="an already running portal (default: start one)")
    parser.add_argument("--pid", type=int, help="root process of that portal, for RSS sampling")
    parser.add_argument(
        "--distinct", action="store_true", help="add a flood of all-different API requests with 8 KB query strings"
    )
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        process = None
        url, pid = args.url, args.pid
        if not url:
            url, process = start_portal(Path(tmp))
            pid = process.pid
        try:
            mix = discover_mix(url, distinct=args.distinct)
            report = run_load(url, args.clients, args.seconds, server_pid=pid, mix=mix, baseline_requests=200)
        finally:
            if process:
                process.terminate()
                process.wait(10)
    print(report.summary())
    return 1 if report.error_count else 0


if __name__ == "__main__":
    sys.exit(main())
