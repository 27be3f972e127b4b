"""Serving at scale: one and two Datasette workers behind nginx, with and without its cache, against a stock
`datasette serve` of the same file. Run by hand (not collected by pytest):

    .venv/bin/python tests/benchmarks/bench_serving.py               # 10k synthetic targets, 10 s per setup
    .venv/bin/python tests/benchmarks/bench_serving.py --seconds 20 --clients 16

The database is a build of synthetic data (see synthetic.py), the same file for every setup. The load
is a fixed mix of read URLs (table pages, filters, single rows, a SQL aggregate; and separately
/api/v1 collections and items), requested in a loop by keep-alive HTTP/1.1 connections from two
asyncio client processes; with the cache on, also by wrk (lighter, so nginx's own speed shows) when
Debian's `wrk` is installed. Client and servers share this machine's cores, as they would on one box.
Printed: requests per second, latency percentiles, errors, cache hits, and ratios in the same run.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import multiprocessing
import os
import random
import re
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent))


async def _request(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, host: str, path: str
) -> tuple[int, bool, bool]:
    """One GET on a kept-alive connection; returns (status, served from nginx's cache, server closes)."""
    writer.write(f"GET {path} HTTP/1.1\r\nHost: {host}\r\nAccept-Encoding: gzip\r\n\r\n".encode())
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split(" ")[1])
    headers = {k.strip().lower(): v.strip() for k, v in (line.split(":", 1) for line in lines[1:] if ":" in line)}
    if "content-length" in headers:
        await reader.readexactly(int(headers["content-length"]))
    elif headers.get("transfer-encoding") == "chunked":
        while True:
            size = int((await reader.readline()).split(b";")[0], 16)
            await reader.readexactly(size + 2)
            if size == 0:
                break
    return status, headers.get("x-cache-status") == "HIT", headers.get("connection", "").lower() == "close"


async def _connection(url_host: str, port: int, paths: list[str], until: float, seed: int, out: dict) -> None:
    rng = random.Random(seed)
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    while time.monotonic() < until:
        path = paths[rng.randrange(len(paths))]
        started = time.perf_counter()
        try:
            status, hit, closing = await _request(reader, writer, url_host, path)
        except (OSError, asyncio.IncompleteReadError, ValueError) as error:
            out["errors"] += 1
            out["kinds"][f"{type(error).__name__}: {error}"[:120]] = (
                out["kinds"].get(f"{type(error).__name__}: {error}"[:120], 0) + 1
            )
            writer.close()
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
            continue
        out["latencies"].append(time.perf_counter() - started)
        out["hits"] += hit
        if closing:  # e.g. nginx's keepalive_requests reached: open a new connection, as clients do
            writer.close()
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
        if status != 200:
            out["errors"] += 1
            out["kinds"][f"HTTP {status} {path}"] = out["kinds"].get(f"HTTP {status} {path}", 0) + 1
    writer.close()


def _client(port: int, paths: list[str], connections: int, seconds: float, seed: int, queue) -> None:
    out = {"latencies": [], "errors": 0, "hits": 0, "kinds": {}}

    async def run() -> None:
        until = time.monotonic() + seconds
        await asyncio.gather(
            *(_connection(f"127.0.0.1:{port}", port, paths, until, seed * 1000 + i, out) for i in range(connections))
        )

    asyncio.run(run())
    queue.put(out)


def load(port: int, paths: list[str], seconds: float, clients: int, processes: int = 2) -> dict:
    """Drive `port` for `seconds` with `clients` connections spread over `processes` processes."""
    queue: multiprocessing.Queue = multiprocessing.Queue()
    workers = [
        multiprocessing.Process(target=_client, args=(port, paths, clients // processes, seconds, n, queue))
        for n in range(processes)
    ]
    for w in workers:
        w.start()
    results = [queue.get() for _ in workers]
    for w in workers:
        w.join()
    latencies = sorted(x for r in results for x in r["latencies"])
    n = len(latencies)

    def pct(q: float) -> float:
        return latencies[min(n - 1, int(q * n))] * 1000 if n else float("nan")

    return {
        "requests": n,
        "rps": n / seconds,
        "p50_ms": pct(0.50),
        "p99_ms": pct(0.99),
        "errors": sum(r["errors"] for r in results),
        "hit_rate": sum(r["hits"] for r in results) / n if n else 0.0,
        "kinds": {k: v for r in results for k, v in r["kinds"].items()},
    }


WRK_SCRIPT = """
paths = {%s}
counter = 0
request = function()
  counter = counter + 1
  return wrk.format("GET", paths[(counter %% #paths) + 1], {["Accept-Encoding"] = "gzip"})
end
"""


def _ms(text: str) -> float:
    found = re.fullmatch(r"([\d.]+)(us|ms|s|m)", text)
    if found is None:
        raise ValueError(f"wrk printed a latency this benchmark cannot read: {text!r}")
    number, unit = found.groups()
    return float(number) * {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60_000.0}[unit]


def load_wrk(port: int, paths: list[str], seconds: float, clients: int, tmp: Path) -> dict:
    """The same URL mix with wrk (C, one thread): a lighter client, so a fast server shows its speed."""
    script = tmp / "paths.lua"
    script.write_text(WRK_SCRIPT % ", ".join(f'"{p}"' for p in paths), encoding="utf-8")
    done = subprocess.run(
        ["wrk", "-t1", f"-c{clients}", f"-d{seconds:.0f}s", "--latency", "-s", str(script), f"http://127.0.0.1:{port}"],
        capture_output=True,
        text=True,
        check=True,
    )
    out = done.stdout
    requests = int(re.search(r"(\d+) requests in", out).group(1))
    non_2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    socket = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    errors = (int(non_2xx.group(1)) if non_2xx else 0) + (sum(map(int, socket.groups())) if socket else 0)
    return {
        "requests": requests,
        "rps": float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1)),
        "p50_ms": _ms(re.search(r"50%\s+(\S+)", out).group(1)),
        "p99_ms": _ms(re.search(r"99%\s+(\S+)", out).group(1)),
        "errors": errors,
        "hit_rate": float("nan"),
        "kinds": {"wrk": 1} if errors else {},
    }


def read_paths(db: Path, kind: str) -> list[str]:
    """A URL mix over a fixed set of records: "datasette" (Datasette's table, row and SQL JSON: what a
    stock Datasette also serves) or "api" (/api/v1 collections and items)."""
    conn = sqlite3.connect(db)
    ids = [r[0] for r in conn.execute("select id from targets order by id limit 40")]
    policies = [r[0] for r in conn.execute("select id from policies order by id limit 5")]
    conn.close()
    if kind == "api":
        paths = [f"/api/v1/targets/{i}" for i in ids]
        paths += [f"/api/v1/targets?policy={p}&limit=20" for p in policies]
        paths += [f"/api/v1/measures?policy={p}&limit=10" for p in policies]
        return [*paths, "/api/v1/targets?deadline_year=2027&sort=-value_base&limit=10"]
    paths = [f"/kechuang/targets/{i}.json" for i in ids]
    paths += [f"/kechuang/targets.json?_size=20&_shape=objects&policy_id={p}" for p in policies]
    paths += [f"/kechuang/measures.json?_size=10&_shape=objects&policy_id={p}" for p in policies]
    paths += [f"/kechuang/targets.json?_size=10&deadline_year=2027&_next={i}" for i in ids[:5]]
    return [*paths, "/kechuang.json?sql=select+policy_id,+count(*)+from+targets+group+by+policy_id&_shape=array"]


def build_database(project, tmp: Path, targets: int) -> Path:
    from synthetic_datasets import write_synthetic_datasets

    from kechuang.pipeline import build_database as build

    datasets = write_synthetic_datasets(project, tmp / "data", targets)
    synthetic = dataclasses.replace(project, datasets=datasets, dist_dir=tmp / "dist")
    return build(synthetic, tmp / "db" / "kechuang.db").path


def has_api(port: int) -> bool:
    import httpx

    return httpx.get(f"http://127.0.0.1:{port}/api/v1/targets?limit=1", timeout=10).status_code == 200


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--targets", type=int, default=10_000)
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--clients", type=int, default=16, help="concurrent keep-alive connections")
    args = parser.parse_args()

    from conftest import free_port, launch_portal, wait_until_up
    from kechuang.operations.cluster import Cluster
    from kechuang.project import Project

    project = Project.locate()
    wrk = shutil.which("wrk") is not None
    rows = []
    with tempfile.TemporaryDirectory(prefix="bench-api-") as tmp_name:
        tmp = Path(tmp_name)
        db = build_database(project, tmp, args.targets)

        def measure(label: str, port: int, paths: list[str]) -> None:
            load(port, paths, 2, args.clients)  # warm up: connections, caches, page cache
            result = load(port, paths, args.seconds, args.clients)
            rows.append((label, result))
            if wrk and "cache on" in label:
                rows.append((label + " (wrk)", load_wrk(port, paths, args.seconds, args.clients, tmp)))
            print(f"# {label}: {result['rps']:.0f} req/s {result['kinds'] or ''}", file=sys.stderr)

        # Our portal on one port, to learn whether the API plugin is there, then the stock Datasette.
        port = free_port()
        portal = launch_portal(db, port)
        try:
            wait_until_up(f"http://127.0.0.1:{port}/-/versions.json", portal)
            api = has_api(port)
            paths = read_paths(db, "datasette")
            api_paths = read_paths(db, "api")
            measure("portal Datasette, one process, no proxy", port, paths)
            if api:
                measure("portal Datasette, one process, no proxy · /api/v1", port, api_paths)
        finally:
            portal.terminate()
            portal.wait()

        port = free_port()
        stock = subprocess.Popen(
            [sys.executable, "-m", "datasette", "serve", "-i", str(db), "--port", str(port)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            wait_until_up(f"http://127.0.0.1:{port}/-/versions.json", stock)
            measure("stock `datasette serve`", port, paths)
        finally:
            stock.terminate()
            stock.wait()

        for workers in (1, 2):
            for cache in (False, True):
                cluster = Cluster(
                    project,
                    workers,
                    "127.0.0.1",
                    free_port(),
                    tmp / f"run-{workers}-{cache}",
                    cache=cache,
                    log=lambda _m: None,
                )
                cluster.start(db)
                try:
                    label = f"nginx + {workers} worker{'s' if workers > 1 else ''}, cache {'on' if cache else 'off'}"
                    measure(label, cluster.port, paths)
                    if api:
                        measure(label + " · /api/v1", cluster.port, api_paths)
                finally:
                    cluster.stop()

    report(rows, args)


def _hits(r: dict) -> str:
    return "–" if r["hit_rate"] != r["hit_rate"] else f"{r['hit_rate']:.0%}"


def report(rows: list[tuple[str, dict]], args: argparse.Namespace) -> None:
    stock = next(r for label, r in rows if label.startswith("stock"))
    portal_api = next((r for label, r in rows if label.startswith("portal") and "/api/v1" in label), None)
    print(
        f"\nServing throughput on {os.cpu_count()} cores: {args.clients} keep-alive connections from 2 client "
        f"processes on the same machine, {args.seconds:.0f} s per setup, {args.targets:,} synthetic targets\n"
    )
    print("Datasette JSON (table pages with the portal's facets, filters, rows, SQL):\n")
    print("| setup | req/s | × stock Datasette | p50 ms | p99 ms | errors | cache hits |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for label, r in rows:
        if "/api/v1" not in label:
            print(
                f"| {label} | {r['rps']:.0f} | {r['rps'] / stock['rps']:.2f}× | {r['p50_ms']:.1f} | "
                f"{r['p99_ms']:.1f} | {r['errors']} | {_hits(r)} |"
            )
    if portal_api:
        print("\n/api/v1 (collections and items; a stock Datasette has no API):\n")
        print("| setup | req/s | × one process, no proxy | p50 ms | p99 ms | errors | cache hits |")
        print("|---|---:|---:|---:|---:|---:|---:|")
        for label, r in rows:
            if "/api/v1" in label:
                print(
                    f"| {label.replace(' · /api/v1', '')} | {r['rps']:.0f} | {r['rps'] / portal_api['rps']:.2f}× | "
                    f"{r['p50_ms']:.1f} | {r['p99_ms']:.1f} | {r['errors']} | {_hits(r)} |"
                )
    for label, r in rows:
        for kind, count in r["kinds"].items():
            print(f"\n{label}: {count} × {kind}")


if __name__ == "__main__":
    main()
