"""Build scaling: wall time and peak memory per stage at 10k, 100k and 1M targets (and as many measures).

Run by hand (not collected by pytest):

    .venv/bin/python tests/benchmarks/bench_build.py                 # 10k, 100k, 1M
    .venv/bin/python tests/benchmarks/bench_build.py --sizes 10000,100000 --repeat 3

Each size gets a synthetic datasets folder that passes every rule (see synthetic.py). A fresh child
process per measurement runs, in order: a raw load of the same CSV files into SQLite with the
`sqlite3` module's executemany (no types, keys or checks: the floor), then the build's stages
validate, compile and index. Peak memory is the process's resident high-water mark, reset before
each stage (/proc/self/clear_refs). Then, in another fresh process, the whole `build_database` as
`kechuang build` runs it (from 50,000 rows on it compiles in a second process while validating). With --repeat, each time is the
fastest of the runs (the machine is shared), each peak the largest. Printed: a table of seconds,
ratios to the raw load and to the previous size (10.0 means linear growth), and peaks.
"""

from __future__ import annotations

import argparse
import csv
import dataclasses
import json
import os
import re
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

STAGES = ("raw", "validate", "compile", "index")


def reset_peak() -> None:
    Path("/proc/self/clear_refs").write_text("5")


def peak_mb() -> float:
    status = Path("/proc/self/status").read_text()
    return int(re.search(r"VmHWM:\s+(\d+) kB", status).group(1)) / 1024


def raw_load(datasets: Path, out: Path) -> int:
    """The floor: every CSV into an untyped SQLite table with executemany, in one transaction."""
    conn = sqlite3.connect(out)
    rows = 0
    with conn:
        for path in sorted(datasets.glob("*.csv")):
            with path.open(encoding="utf-8", newline="") as f:
                reader = csv.reader(f)
                header = next(reader)
                conn.execute(f"create table [{path.stem}] ({', '.join(f'[{h}]' for h in header)})")
                cursor = conn.executemany(f"insert into [{path.stem}] values ({', '.join('?' * len(header))})", reader)
                rows += cursor.rowcount
    conn.close()
    return rows


def child_build(datasets: Path) -> dict:
    """The build as `kechuang build` runs it, in this (fresh) process: from 50,000 rows on, compiling
    overlaps validation in a second process."""
    from kechuang.pipeline import build_database
    from kechuang.project import Project

    project = dataclasses.replace(Project.locate(), datasets=datasets, dist_dir=datasets.parent / "dist")
    work = Path(tempfile.mkdtemp(prefix="bench-build-"))
    started, cpu = time.perf_counter(), time.process_time()
    build_database(project, work / "kechuang.db")
    result = {"seconds": {"build": time.perf_counter() - started}, "cpu": {"build": time.process_time() - cpu}}
    result["peak_mb"] = {"build": peak_mb()}
    (work / "kechuang.db").unlink()
    work.rmdir()
    return result


def child(datasets: Path, engine: str) -> dict:
    """One measurement in this (fresh) process: raw load, then validate, compile and index."""
    from kechuang.compile.tables import compile_tables
    from kechuang.index.database import index_database
    from kechuang.project import Project
    from kechuang.validate.datasets import validate_datasets
    from kechuang.validate.tables import bulk_reading

    project = dataclasses.replace(Project.locate(), datasets=datasets, dist_dir=datasets.parent / "dist")
    result: dict = {"seconds": {}, "cpu": {}, "peak_mb": {}}
    work = Path(tempfile.mkdtemp(prefix="bench-build-"))

    def stage(name: str, run) -> object:
        reset_peak()
        started, cpu = time.perf_counter(), time.process_time()
        value = run()
        result["seconds"][name] = time.perf_counter() - started
        result["cpu"][name] = time.process_time() - cpu
        result["peak_mb"][name] = peak_mb()
        return value

    result["rows"] = stage("raw", lambda: raw_load(datasets, work / "raw.db"))
    with bulk_reading():  # as build_database does
        problems = stage("validate", lambda: validate_datasets(project, engine))
        if problems:
            raise SystemExit(f"synthetic data invalid: {problems[:3]}")
        stage("compile", lambda: compile_tables(project, work / "kechuang.db"))
        stage("index", lambda: index_database(project, work / "kechuang.db"))
    result["db_mb"] = (work / "kechuang.db").stat().st_size / 1e6
    for path in work.iterdir():
        path.unlink()
    work.rmdir()
    return result


def measure(datasets: Path, engine: str, repeat: int) -> dict:
    runs = []
    for _ in range(repeat):
        runs.append(_run_child(datasets, "--engine", engine))
        if engine == "auto":
            build = _run_child(datasets, "--whole-build")
            for key in ("seconds", "cpu", "peak_mb"):
                runs[-1][key].update(build[key])
    return {
        "rows": runs[0]["rows"],
        "db_mb": runs[0]["db_mb"],
        "seconds": {s: min(r["seconds"][s] for r in runs) for s in runs[0]["seconds"]},
        "cpu": {s: min(r["cpu"][s] for r in runs) for s in runs[0]["cpu"]},
        "peak_mb": {s: max(r["peak_mb"][s] for r in runs) for s in runs[0]["peak_mb"]},
    }


def _run_child(datasets: Path, *options: str) -> dict:
    done = subprocess.run(
        [sys.executable, __file__, "--child", str(datasets), *options], capture_output=True, text=True, check=True
    )
    return json.loads(done.stdout)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="10000,100000,1000000")
    parser.add_argument("--repeat", type=int, default=3, help="runs per size up to 100k (1M runs once)")
    parser.add_argument(
        "--frictionless-up-to",
        type=int,
        default=100_000,
        help="also time validation by Frictionless row by row (the engine below 20k rows) up to this size",
    )
    parser.add_argument("--child", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--engine", default="auto", help=argparse.SUPPRESS)
    parser.add_argument("--whole-build", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(child_build(args.child) if args.whole_build else child(args.child, args.engine)))
        return

    from synthetic_datasets import write_synthetic_datasets

    from kechuang.project import Project

    project = Project.locate()
    sizes = [int(s) for s in args.sizes.split(",")]
    results = {}
    with tempfile.TemporaryDirectory(prefix="bench-data-") as tmp:
        for size in sizes:
            started = time.perf_counter()
            datasets = write_synthetic_datasets(project, Path(tmp) / str(size), size)
            generated = time.perf_counter() - started
            repeat = args.repeat if size <= 100_000 else 1
            results[size] = measure(datasets, "auto", repeat)
            if size <= args.frictionless_up_to:
                results[size]["frictionless"] = measure(datasets, "frictionless", 1)["seconds"]["validate"]
            print(f"# {size:,} targets: data generated in {generated:.1f} s, measured {repeat}x", file=sys.stderr)
            for path in sorted(Path(tmp, str(size)).rglob("*"), reverse=True):
                path.unlink() if path.is_file() else path.rmdir()
    report(results, os.cpu_count() or 0)


def report(results: dict[int, dict], cpus: int) -> None:
    print(f"\nBuild scaling on {cpus} cores (synthetic targets + as many measures; times in seconds)\n")
    print(
        "| targets | rows | raw load | validate | compile | index | stages in a row | ÷ raw "
        "| `kechuang build` | ÷ raw | stages growth ×10 rows |"
    )
    print("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    previous = None
    for size, r in results.items():
        s = r["seconds"]
        stages = s["validate"] + s["compile"] + s["index"]
        growth = f"{stages / previous:.1f}×" if previous else "–"
        print(
            f"| {size:,} | {r['rows']:,} | {s['raw']:.2f} | {s['validate']:.2f} | {s['compile']:.2f} | "
            f"{s['index']:.2f} | {stages:.2f} | {stages / s['raw']:.1f}× | {s['build']:.2f} | "
            f"{s['build'] / s['raw']:.1f}× | {growth} |"
        )
        previous = stages  # growth of the same work, whatever the build parallelises
    print("\nThe same in CPU seconds of the build process (less sensitive to other load on a shared machine)\n")
    print("| targets | raw load | validate | compile | index | stages in a row | ÷ raw |")
    print("|---:|---:|---:|---:|---:|---:|---:|")
    for size, r in results.items():
        c = r["cpu"]
        build = c["validate"] + c["compile"] + c["index"]
        print(
            f"| {size:,} | {c['raw']:.2f} | {c['validate']:.2f} | {c['compile']:.2f} | {c['index']:.2f} | "
            f"{build:.2f} | {build / c['raw']:.1f}× |"
        )
    print("\nPeak resident memory per stage (MB; the process's high-water mark, reset before each stage)\n")
    print("| targets | raw load | validate | compile | index | `kechuang build` (main process) | database size |")
    print("|---:|---:|---:|---:|---:|---:|---:|")
    for size, r in results.items():
        p = r["peak_mb"]
        print(
            f"| {size:,} | {p['raw']:.0f} | {p['validate']:.0f} | {p['compile']:.0f} | {p['index']:.0f} | "
            f"{p['build']:.0f} | {r['db_mb']:.0f} MB |"
        )
    timed = {size: r for size, r in results.items() if "frictionless" in r}
    if timed:
        print("\nValidation engines (seconds): Frictionless row by row vs the same checks column by column\n")
        print("| targets | Frictionless | columnar + rules | speed-up |")
        print("|---:|---:|---:|---:|")
        for size, r in timed.items():
            fast = r["seconds"]["validate"]
            print(f"| {size:,} | {r['frictionless']:.2f} | {fast:.2f} | {r['frictionless'] / fast:.1f}× |")


if __name__ == "__main__":
    main()
