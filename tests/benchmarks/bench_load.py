"""Load benchmark (run by hand): N concurrent clients for S seconds against a portal on loopback.

    .venv/bin/python tests/benchmarks/bench_load.py                 # 50 clients, 60 s, one Datasette
    .venv/bin/python tests/benchmarks/bench_load.py --clients 10 --seconds 10
    .venv/bin/python tests/benchmarks/bench_load.py --workers 2 --release-during   # nginx + 2 workers,
                                                                    # a release published half-way
    .venv/bin/python tests/benchmarks/bench_load.py --workers 2 --kill-during      # a worker killed half-way
    .venv/bin/python tests/benchmarks/bench_load.py --distinct        # plus a flood of distinct API requests
    .venv/bin/python tests/benchmarks/bench_load.py --url http://127.0.0.1:8001 --pid <server pid>

Without --url it serves the real datasets itself: with `kechuang serve --db FILE` (granian, one
worker, no proxy: the container image's mode), or with --workers N through `kechuang serve --workers N`
(nginx in front of granian's N workers) on a release written to a temporary dist folder. It reports throughput, p50/p99 latency
(overall and per kind of request, with the single-client p50 measured first in the same run as the
baseline), errors, and the RSS of the server's processes sampled through the run. With
--release-during, `kechuang release` publishes a new release half-way and the cluster switches to it;
with --kill-during, one of the cluster's workers is killed (SIGKILL) half-way and granian replaces it.
Exit status 1 when any request failed.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
from collections import Counter
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from benchmarks.load import discover_mix, run_load  # noqa: E402
from conftest import free_port, wait_until_up  # noqa: E402
from kechuang.pipeline import build_database  # noqa: E402
from kechuang.project import Project  # noqa: E402
from kechuang.release.publish import write_release  # noqa: E402


def start_portal(workdir: Path) -> tuple[str, subprocess.Popen]:
    project = Project.locate()
    db = build_database(project, workdir / "kechuang.db").path
    port = free_port()
    with (workdir / "serve.log").open("w") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "kechuang.cli", "serve", "--db", str(db), "--port", str(port)],
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    url = f"http://127.0.0.1:{port}"
    wait_until_up(url + "/-/versions.json", process, timeout=120, log=workdir / "serve.log")
    return url, process


def start_cluster(workdir: Path, workers: int) -> tuple[str, subprocess.Popen, dict[str, str]]:
    """`kechuang serve --workers N` on a first release in a private dist folder; returns its URL,
    process and the environment that points `kechuang release` at the same folder."""
    located = Project.locate()
    dist = workdir / "dist"
    write_release(Project(root=located.root, datasets=located.datasets, schemas=located.schemas, dist_dir=dist))
    env = {**os.environ, "KECHUANG_DIST": str(dist)}
    port = free_port()
    log = workdir / "serve.log"
    with log.open("w") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "kechuang.cli", "serve", "--workers", str(workers), "--port", str(port)],
            cwd=located.root,
            stdout=out,
            stderr=subprocess.STDOUT,
            env=env,
        )
    url = f"http://127.0.0.1:{port}"
    wait_until_up(url + "/-/release.json", process, timeout=120, log=log)
    return url, process, env


def publish(env: dict[str, str]) -> str:
    """Publish a release of the same datasets; the running cluster switches to it."""
    done = subprocess.run(
        [sys.executable, "-m", "kechuang.cli", "release"],
        cwd=Project.locate().root,
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    outcome = "published" if done.returncode == 0 else f"FAILED ({done.returncode})"
    first = (done.stdout.strip().splitlines() or [done.stderr.strip()[-300:]])[0]
    return f"release during the run: {outcome}: {first}"


def kill_worker(env: dict[str, str]) -> str:
    """SIGKILL one of the cluster's workers; granian starts another and nginx retries meanwhile."""
    state = json.loads((Path(env["KECHUANG_DIST"]) / "run" / "state.json").read_text(encoding="utf-8"))
    victim = state["workers"][0]["pid"]
    os.kill(victim, signal.SIGKILL)
    return f"worker {victim} killed during the run"


def cluster_report(env: dict[str, str]) -> list[str]:
    """Memory of each process of the cluster now, from its state file (read before it stops)."""
    state = json.loads((Path(env["KECHUANG_DIST"]) / "run" / "state.json").read_text(encoding="utf-8"))

    def rss_mb(pid: int) -> float:
        status = Path(f"/proc/{pid}/status").read_text()
        return int(next(line.split()[1] for line in status.splitlines() if line.startswith("VmRSS:"))) / 1024

    workers = [f"{rss_mb(w['pid']):.0f}" for w in state["workers"]]
    return [
        f"RSS per worker: {', '.join(workers)} MB; granian's main process {rss_mb(state['server']['pid']):.0f} MB; "
        f"nginx master {rss_mb(state['nginx']['pid']):.0f} MB (plus its workers)"
    ]


def cache_ratio(env: dict[str, str]) -> str:
    """nginx's cache statuses over the run, from its access log (complete once nginx has stopped)."""
    log = (Path(env["KECHUANG_DIST"]) / "run" / "logs" / "access.log").read_text(encoding="utf-8")
    statuses = Counter(line.rsplit("cache=", 1)[-1].strip() or "-" for line in log.splitlines() if "cache=" in line)
    total = sum(statuses.values()) or 1
    shown = ", ".join(f"{status} {count / total:.0%}" for status, count in statuses.most_common())
    return f"nginx cache over {total} requests: {shown}"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--workers", type=int, default=0, help="serve with nginx in front of N workers")
    parser.add_argument("--release-during", action="store_true", help="with --workers: publish a release half-way")
    parser.add_argument("--kill-during", action="store_true", help="with --workers: kill a worker half-way")
    parser.add_argument("--url", help="an already running portal (default: start one)")
    parser.add_argument("--pid", type=int, help="root process of that portal, for RSS sampling")
    parser.add_argument(
        "--distinct", action="store_true", help="add a flood of all-different API requests with 8 KB query strings"
    )
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        process, env = None, None
        url, pid = args.url, args.pid
        if not url and args.workers:
            url, process, env = start_cluster(Path(tmp), args.workers)
        elif not url:
            url, process = start_portal(Path(tmp))
        pid = pid or (process.pid if process else None)
        during = None
        if env and args.release_during:
            during = lambda: publish(env)  # noqa: E731
        elif env and args.kill_during:
            during = lambda: kill_worker(env)  # noqa: E731
        try:
            mix = discover_mix(url, distinct=args.distinct)
            report = run_load(
                url, args.clients, args.seconds, server_pid=pid, mix=mix, baseline_requests=200, during=during
            )
            if env:
                report.events += cluster_report(env)
        finally:
            if process:
                process.terminate()
                process.wait(60)
        if env:
            report.events.append(cache_ratio(env))
    print(report.summary())
    return 1 if report.error_count else 0


if __name__ == "__main__":
    sys.exit(main())
