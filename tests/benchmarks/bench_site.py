"""Benchmark of the citizens' site pages, run by hand (pytest does not collect it):

    .venv/bin/python tests/benchmarks/bench_site.py [--rounds 30]

Builds the real datasets, serves them with the portal's Datasette command line and reports, per page type,
the median time of a full GET as a ratio to Datasette's own table page for `targets` measured in the same
run, so the numbers compare across machines.
"""

from __future__ import annotations

import argparse
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

TESTS = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(TESTS))

from conftest import ROOT, free_port, wait_until_up  # noqa: E402
from kechuang.operations.launch import datasette_arguments  # noqa: E402
from kechuang.pipeline import build_database  # noqa: E402
from kechuang.project import Project  # noqa: E402


def page_paths(db: Path) -> dict[str, str]:
    with sqlite3.connect(db) as conn:

        def first(sql: str) -> str:
            return conn.execute(sql).fetchone()[0]

        return {
            "home": "/",
            "targets (all, page 1)": "/targets",
            "targets ?year=2026&jurisdiction=wuhan": "/targets?year=2026&jurisdiction=wuhan",
            "target": "/targets/" + first("select id from targets order by id"),
            "policy reader (most marks)": "/policies/"
            + first("select policy_id from targets group by 1 order by count(*) desc"),
            "indicator": "/indicators/"
            + first(
                "select indicator_id from targets where indicator_id is not null group by 1 order by count(*) desc"
            ),
            "agency": "/agencies/" + first("select agency_id from measure_agencies group by 1 order by count(*) desc"),
            "agencies": "/agencies",
            "platforms": "/platforms",
            "data dictionary": "/data-dictionary",
        }


def median_ms(client: httpx.Client, path: str, rounds: int) -> float:
    client.get(path)  # warm up
    times = []
    for _ in range(rounds):
        started = time.perf_counter()
        response = client.get(path)
        times.append((time.perf_counter() - started) * 1000)
        assert response.status_code == 200, (path, response.status_code)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=30)
    rounds = parser.parse_args().rounds
    project = Project(root=ROOT, datasets=ROOT / "datasets", schemas=ROOT / "schemas")
    with tempfile.TemporaryDirectory() as folder:
        db = build_database(project, Path(folder) / "kechuang.db").path
        port = free_port()
        args = datasette_arguments(db, "127.0.0.1", port)
        process = subprocess.Popen(
            [sys.executable, "-m", "datasette", *args], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True
        )
        try:
            base = f"http://127.0.0.1:{port}"
            wait_until_up(base + "/-/versions.json", process)
            with httpx.Client(base_url=base, timeout=60) as client:
                baseline = median_ms(client, "/kechuang/targets", rounds)
                print(f"baseline: Datasette /kechuang/targets HTML, median {baseline:.1f} ms over {rounds} requests")
                print(f"{'page':42} {'median ms':>10} {'× baseline':>11}")
                for name, path in page_paths(db).items():
                    ms = median_ms(client, path, rounds)
                    print(f"{name:42} {ms:10.1f} {ms / baseline:11.2f}")
        finally:
            process.terminate()
            process.wait(10)


if __name__ == "__main__":
    main()
