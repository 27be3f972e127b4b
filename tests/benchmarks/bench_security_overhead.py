"""What the security layer costs (run by hand): the same load against the portal with and without it.

    .venv/bin/python tests/benchmarks/bench_security_overhead.py [--clients 10] [--seconds 15]

Two Datasette processes serve the same database, one with every plugin and one with every plugin but
plugins/security.py (guard, hardened connections, error handling). They are loaded in turn, in short
alternating rounds (A B A B …), so that the load other programs put on the machine hits both alike;
the report gives the median over rounds of the paired ratios of throughput and p50 latency.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from statistics import median

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.load import discover_mix, run_load
from conftest import free_port, launch_portal, wait_until_up
from kechuang import assets
from kechuang.pipeline import build_database
from kechuang.project import Project


def serve(project: Project, db: Path, plugins: Path, log: Path) -> tuple[str, subprocess.Popen]:
    port = free_port()
    with log.open("w") as err:
        process = launch_portal(db, port, err, plugins)
    url = f"http://127.0.0.1:{port}"
    wait_until_up(url + "/-/versions.json", process, log=log)
    return url, process


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--clients", type=int, default=10)
    parser.add_argument("--seconds", type=float, default=5, help="length of one round")
    parser.add_argument("--rounds", type=int, default=8)
    args = parser.parse_args()
    project = Project.locate()
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        db = build_database(project, work / "kechuang.db").path
        without = work / "plugins-without-security"
        shutil.copytree(assets.PLUGINS, without, ignore=shutil.ignore_patterns("security.py", "__pycache__"))
        servers = {
            "with security": serve(project, db, assets.PLUGINS, work / "with.log"),
            "without security": serve(project, db, without, work / "without.log"),
        }
        try:
            mix = discover_mix(servers["with security"][0])
            results: dict[str, list] = {name: [] for name in servers}
            for _round in range(args.rounds):
                for name, (url, _process) in servers.items():
                    results[name].append(run_load(url, args.clients, args.seconds, mix=mix))
        finally:
            for _url, process in servers.values():
                process.terminate()
                process.wait(10)
    for name, reports in results.items():
        rates = [r.requests / args.seconds for r in reports]
        errors = sum(r.error_count for r in reports)
        p50s = [r.percentile(0.5) for r in reports]
        print(f"{name:17} {median(rates):7.1f} req/s  p50 {median(p50s):6.1f} ms  ({errors} errors)")
    pairs = list(zip(results["with security"], results["without security"], strict=True))
    rate_ratio = median(a.requests / b.requests for a, b in pairs)
    p50_ratio = median(a.percentile(0.5) / b.percentile(0.5) for a, b in pairs)
    print(f"security layer: throughput ×{rate_ratio:.2f}, p50 ×{p50_ratio:.2f} (median of {len(pairs)} paired rounds)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
