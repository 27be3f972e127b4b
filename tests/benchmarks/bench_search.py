"""Search speed benchmark, run by hand (pytest does not collect it):

    .venv/bin/python tests/benchmarks/bench_search.py [--passages 1000000] [--workers 2] [--requests 400]

Measures, each beside a baseline measured in the same run (stock Datasette full-text search: the same
records in one table with sqlite-utils' `enable_fts`, searched with `?_search=`):

1. p50/p95 latency of GET /api/v1/search on the real data, served by the portal's own Datasette;
2. the same over a synthetic corpus of --passages passages (real sentences recombined, tests/benchmarks/
   synthetic.py), in its own kechuang.db;
3. index build throughput over that corpus, in Chinese characters per second (normalising, FTS5
   insertion and the final merge), beside sqlite-utils inserting and `enable_fts`-indexing the same text.

The queries are the judged queries of tests/search_judgements.yaml plus a few very common words.
Prints a Markdown table for docs/performance.md and writes results.json to --out.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import re
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
import yaml
from sqlite_utils import Database

TESTS = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(TESTS), str(TESTS / "benchmarks")]

from stock_search import make_stock_db  # noqa: E402
from synthetic_corpus import synthetic_records  # noqa: E402

from conftest import free_port, wait_until_up  # noqa: E402
from kechuang.index.search import create_tables, insert_records, optimize_index  # noqa: E402
from kechuang.operations.launch import datasette_arguments  # noqa: E402
from kechuang.pipeline import build_database  # noqa: E402
from kechuang.project import Project  # noqa: E402

HAN = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")
COMMON = ["创新", "科技创新", "建设", "发展", "企业", "人才", "innovation", "technology", "the platform"]


def queries() -> list[str]:
    judged = yaml.safe_load((TESTS / "search_judgements.yaml").read_text(encoding="utf-8"))
    return [j["q"] for j in judged] + COMMON


def serve(args: list[str], cwd: Path, port: int) -> tuple[subprocess.Popen, str]:
    process = subprocess.Popen(
        [sys.executable, "-m", "datasette", *args], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=cwd
    )
    base = f"http://127.0.0.1:{port}"
    wait_until_up(base + "/-/versions.json", process, timeout=300)
    return process, base


def serve_ours(project: Project, db: Path) -> tuple[subprocess.Popen, str]:
    """The portal's own Datasette command line, as `kechuang serve` runs it."""
    port = free_port()
    return serve(datasette_arguments(db, "127.0.0.1", port), project.root, port)


def serve_stock(db: Path) -> tuple[subprocess.Popen, str]:
    """A plain Datasette, no plugins."""
    port = free_port()
    args = ["serve", "--immutable", str(db), "--host", "127.0.0.1", "--port", str(port)]
    return serve([*args, "--setting", "sql_time_limit_ms", "10000"], db.parent, port)


def latencies(url: str, params: list[dict[str, str]], requests: int) -> dict[str, float]:
    """p50/p95/max in ms of `requests` sequential GETs cycling through `params`, after one warm-up pass."""
    times: list[float] = []
    with httpx.Client(timeout=120) as client:
        for p in params:
            client.get(url, params=p)
        for i in range(requests):
            started = time.perf_counter()
            response = client.get(url, params=params[i % len(params)])
            times.append((time.perf_counter() - started) * 1000)
            if response.status_code != 200:
                raise SystemExit(f"{url} {params[i % len(params)]} → {response.status_code}: {response.text[:300]}")
    times.sort()
    return {
        "load_average": os.getloadavg()[0],
        "p50_ms": round(statistics.median(times), 1),
        "p95_ms": round(times[int(len(times) * 0.95) - 1], 1),
        "max_ms": round(times[-1], 1),
        "requests": len(times),
    }


def measure_servers(project: Project, ours_db: Path, stock_db: Path, requests: int) -> dict[str, dict[str, float]]:
    qs = queries()
    results = {}
    process, base = serve_ours(project, ours_db)
    try:
        results["kechuang"] = latencies(base + "/api/v1/search", [{"q": q} for q in qs], requests)
    finally:
        process.terminate()
        process.wait()
    process, base = serve_stock(stock_db)
    try:
        params = [{"_search": q, "_size": "20", "_shape": "objects"} for q in qs]
        results["stock"] = latencies(base + f"/{stock_db.stem}/records.json", params, requests)
    finally:
        process.terminate()
        process.wait()
    return results


def cpu_seconds() -> float:
    """CPU time of this process and of its finished children (the normalising workers)."""
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def build_synthetic(real_db: Path, out: Path, passages: int, workers: int) -> dict[str, float]:
    """Our index and the stock index over the same synthetic passages; both timed, Chinese chars/s."""
    records = list(synthetic_records(real_db, passages))
    han = sum(len(HAN.findall(r.parts["body_zh"][0])) for r in records)
    db = Database(out / "kechuang.db")
    db.execute("pragma journal_mode = off")
    db.execute("pragma synchronous = off")
    built = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
    db["_meta"].insert_all([{"key": "built_at", "value": built}], pk="key")
    cpu_before = cpu_seconds()
    started = time.perf_counter()
    with db.conn:
        create_tables(db)
        insert_records(db, records, workers=workers)
        optimize_index(db)
    ours = time.perf_counter() - started
    ours_cpu = cpu_seconds() - cpu_before
    db.execute("vacuum")
    db.close()

    stock = Database(out / "stock.db")
    stock.execute("pragma journal_mode = off")
    stock.execute("pragma synchronous = off")
    cpu_before = cpu_seconds()
    started = time.perf_counter()
    stock["records"].insert_all(
        ({"key": f"{r.type}/{r.id}", "body_zh": r.parts["body_zh"][0], "body_en": r.parts["body_en"][0]} for r in records),
        pk="key",
        batch_size=5000,
    )
    stock["records"].enable_fts(["body_zh", "body_en"])
    stock_seconds = time.perf_counter() - started
    stock_cpu = cpu_seconds() - cpu_before
    stock.close()
    return {
        "passages": passages,
        "chinese_chars": han,
        "kechuang_seconds": round(ours, 1),
        "kechuang_chars_per_s": round(han / ours),
        "kechuang_cpu_seconds": round(ours_cpu, 1),
        "kechuang_chars_per_cpu_s": round(han / ours_cpu),
        "stock_seconds": round(stock_seconds, 1),
        "stock_chars_per_s": round(han / stock_seconds),
        "stock_cpu_seconds": round(stock_cpu, 1),
        "workers": workers,
        "load_average": os.getloadavg()[0],
    }


def han_per_cpu(build: dict[str, float]) -> float:
    return build["chinese_chars"] / build["stock_cpu_seconds"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--passages", type=int, default=1_000_000)
    parser.add_argument("--workers", type=int, default=2, help="normalising processes for the synthetic build")
    parser.add_argument("--requests", type=int, default=400)
    parser.add_argument("--out", type=Path, default=None, help="folder for the databases (default: a temporary one)")
    args = parser.parse_args()
    out = args.out or Path(tempfile.mkdtemp(prefix="kechuang-bench-"))
    (out / "real").mkdir(parents=True, exist_ok=True)
    (out / "synthetic").mkdir(parents=True, exist_ok=True)
    project = Project.locate()

    real_db = build_database(project, out / "real" / "kechuang.db").path
    stock_real = make_stock_db(real_db, out / "real" / "stock.db")
    real = measure_servers(project, real_db, stock_real, args.requests)
    print(f"real data: {json.dumps(real)}", flush=True)

    build = build_synthetic(real_db, out / "synthetic", args.passages, args.workers)
    print(f"build: {json.dumps(build)}", flush=True)
    synthetic = measure_servers(project, out / "synthetic" / "kechuang.db", out / "synthetic" / "stock.db", args.requests)
    print(f"synthetic: {json.dumps(synthetic)}", flush=True)

    results = {"real": real, "synthetic": synthetic, "build": build, "queries": len(queries())}
    (out / "results.json").write_text(json.dumps(results, indent=2), encoding="utf-8")
    n = f"{args.passages:,}"
    print(
        f"""
| Measure | kechuang | stock Datasette FTS5 | ratio |
|---|---|---|---|
| p95 latency, real data ({results['queries']} queries × {args.requests} requests) | {real['kechuang']['p95_ms']} ms | {real['stock']['p95_ms']} ms | {real['kechuang']['p95_ms'] / real['stock']['p95_ms']:.2f} |
| p50 latency, real data | {real['kechuang']['p50_ms']} ms | {real['stock']['p50_ms']} ms | {real['kechuang']['p50_ms'] / real['stock']['p50_ms']:.2f} |
| p95 latency, {n} synthetic passages | {synthetic['kechuang']['p95_ms']} ms | {synthetic['stock']['p95_ms']} ms | {synthetic['kechuang']['p95_ms'] / synthetic['stock']['p95_ms']:.2f} |
| p50 latency, {n} synthetic passages | {synthetic['kechuang']['p50_ms']} ms | {synthetic['stock']['p50_ms']} ms | {synthetic['kechuang']['p50_ms'] / synthetic['stock']['p50_ms']:.2f} |
| index build, {build['chinese_chars']:,} Chinese characters | {build['kechuang_chars_per_s'] / 1e6:.2f} M chars/s ({build['kechuang_seconds']} s, {build['workers']} workers) | {build['stock_chars_per_s'] / 1e6:.2f} M chars/s ({build['stock_seconds']} s) | {build['kechuang_chars_per_s'] / build['stock_chars_per_s']:.2f} |
| index build per CPU second | {build['kechuang_chars_per_cpu_s'] / 1e6:.2f} M chars/CPU-s | {han_per_cpu(build) / 1e6:.2f} M chars/CPU-s | {build['kechuang_chars_per_cpu_s'] / han_per_cpu(build):.2f} |

Load average during the run: {real['kechuang']['load_average']:.1f} (real data), {build['load_average']:.1f} (build), {synthetic['kechuang']['load_average']:.1f} (synthetic queries) on {os.cpu_count()} cores.
"""
    )
    print(f"Databases and results.json in {out}")


if __name__ == "__main__":
    main()
