"""Benchmark: /api/v1/targets?limit=50 against Datasette's own table JSON and a static-file ceiling.

Run by hand, never by pytest (pytest collects only test_*.py files):

    .venv/bin/python tests/benchmarks/bench_api.py [--datasets DIR] [--sample] [--rows 101]
        [--duration 10] [--connections 16] [--rounds 3] [--readme]

In one run, on loopback, it builds the database and serves the same ASGI application
(`kechuang.operations.asgi`, the portal's own Datasette command line) with one worker of each
server: granian (the portal's, with its own command line `kechuang.operations.launch`) and uvicorn
(with uvloop and httptools, as `datasette serve` runs it, access log off like granian's). It serves the
exact bytes of the API response as a static file with Debian's nginx (one worker, like the one server
process) on a free port with a temporary config. wrk (Debian package `wrk`) measures requests per second
and the 99th-percentile latency of each, round-robin for `--rounds` rounds (plus, for reference, the same
bytes from a bare ASGI app under each server: the ceiling of any Python application on it); the table
reports medians and the ratios that the goal is stated in. When the curated data has fewer than `--rows` targets, copies of them (ids
suffixed `-bench-N`) are added to the benchmark's own database so that a page really has 50
records; the table says so. `--readme` writes the table into docs/performance.md.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "build"))
sys.path.insert(0, str(ROOT / "tests"))

from conftest import free_port, wait_until_up  # noqa: E402
from kechuang.operations.launch import server_arguments, server_environment  # noqa: E402
from kechuang.pipeline import build_database  # noqa: E402
from kechuang.project import Project  # noqa: E402

API_PATH = "/api/v1/targets?limit=50"
DATASETTE_PATH = "/kechuang/targets.json?_size=50"
START, END = "<!-- bench:api -->", "<!-- /bench:api -->"


def prepare_datasets(args: argparse.Namespace, work: Path) -> Path:
    folder = work / "datasets"
    shutil.copytree(args.datasets or ROOT / "datasets", folder)
    if args.sample:
        for table in (ROOT / "tests" / "data" / "api_sample").glob("*.csv"):
            shutil.copy(table, folder / table.name)
    return folder


def pad_targets(db: Path, rows: int) -> int:
    """Copies of the curated targets until there are `rows`; returns how many were added."""
    conn = sqlite3.connect(db)
    columns = [r[1] for r in conn.execute("pragma table_info(targets)")]
    originals = conn.execute("select * from targets").fetchall()
    added = 0
    while originals and conn.execute("select count(*) from targets").fetchone()[0] < rows:
        for original in originals:
            row = dict(zip(columns, original, strict=True))
            row["id"] = f"{row['id']}-bench-{added}"
            conn.execute(
                f"insert into targets ({', '.join(columns)}) values ({', '.join('?' for _ in columns)})",
                [row[c] for c in columns],
            )
            added += 1
    conn.commit()
    conn.close()
    return added


def start_nginx(work: Path, body: bytes) -> tuple[subprocess.Popen, int]:
    nginx = shutil.which("nginx") or "/usr/sbin/nginx"
    root = work / "nginx"
    (root / "www").mkdir(parents=True)
    (root / "www" / "targets.json").write_bytes(body)
    port = free_port()
    temp = "".join(
        f"  {kind}_temp_path {root}/{kind};\n" for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
    )
    (root / "nginx.conf").write_text(
        f"""worker_processes 1;
daemon off;
pid {root}/nginx.pid;
error_log {root}/error.log;
events {{ worker_connections 1024; }}
http {{
  access_log off;
{temp}  server {{
    listen 127.0.0.1:{port};
    root {root}/www;
    location / {{ default_type application/json; }}
  }}
}}
"""
    )
    for path in (work, root, root / "www"):
        path.chmod(0o755)  # nginx's worker runs as an unprivileged user
    process = subprocess.Popen([nginx, "-c", str(root / "nginx.conf"), "-p", str(root)], stderr=subprocess.DEVNULL)
    _wait_or_stop(f"http://127.0.0.1:{port}/targets.json", process)
    return process, port


def _wait_or_stop(url: str, process: subprocess.Popen) -> None:
    """Wait for a helper server; stop it when it does not come up."""
    try:
        wait_until_up(url, process, timeout=20)
    except (TimeoutError, RuntimeError):
        process.terminate()
        raise


ASGI_APP = """
BODY = open(__file__.replace("bare_asgi.py", "body.json"), "rb").read()
HEADERS = [(b"content-type", b"application/json"), (b"content-length", str(len(BODY)).encode())]


async def app(scope, receive, send):
    if scope["type"] == "http":
        await send({"type": "http.response.start", "status": 200, "headers": HEADERS})
        await send({"type": "http.response.body", "body": BODY})
"""


def server_command(server: str, port: int, target: str, factory: bool) -> list[str]:
    """One worker of `server` on `port` serving the ASGI application `target`."""
    if server == "granian":
        args = server_arguments("127.0.0.1", port)
        return [sys.executable, *args[:-1], *([] if factory else ["--no-factory"]), target]
    return [
        sys.executable, "-m", "uvicorn", *(["--factory"] if factory else []), target, "--port", str(port),
        "--loop", "uvloop", "--http", "httptools", "--no-access-log", "--log-level", "warning",
    ]  # fmt: skip


def start_portal(server: str, db: Path) -> tuple[subprocess.Popen, int]:
    port = free_port()
    process = subprocess.Popen(
        server_command(server, port, "kechuang.operations.asgi:create_app", factory=True),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env={**os.environ, **server_environment(db)},
    )
    _wait_or_stop(f"http://127.0.0.1:{port}{API_PATH}", process)
    return process, port


def start_bare_asgi(server: str, work: Path, body: bytes) -> tuple[subprocess.Popen, int]:
    """The same bytes from a minimal ASGI app on `server`: the ceiling of any Python application on it."""
    folder = work / "bare"
    folder.mkdir(exist_ok=True)
    (folder / "body.json").write_bytes(body)
    (folder / "bare_asgi.py").write_text(ASGI_APP)
    port = free_port()
    process = subprocess.Popen(
        server_command(server, port, "bare_asgi:app", factory=False),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        cwd=folder,
        env={**os.environ, "PYTHONPATH": str(folder)},
    )
    _wait_or_stop(f"http://127.0.0.1:{port}/", process)
    return process, port


def run_wrk(url: str, duration: int, connections: int) -> tuple[float, float]:
    """(requests per second, p99 latency in ms) as wrk measures them."""
    out = subprocess.run(
        ["wrk", "-t1", f"-c{connections}", f"-d{duration}s", "--latency", url],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    value, unit = re.search(r"99%\s+([\d.]+)(us|ms|s)", out).groups()
    p99 = float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]
    return rps, p99


def table(results: dict[str, list[tuple[float, float]]], sizes: dict[str, int], note: str, args) -> str:
    median = {
        name: (statistics.median(r for r, _ in runs), statistics.median(p for _, p in runs))
        for name, runs in results.items()
    }
    api_rps = median["api granian"][0]
    labels = {
        "api granian": f"`{API_PATH}` (our API) on granian",
        "api uvicorn": f"`{API_PATH}` (our API) on uvicorn",
        "datasette granian": f"`{DATASETTE_PATH}` (Datasette) on granian",
        "datasette uvicorn": f"`{DATASETTE_PATH}` (Datasette) on uvicorn",
        "nginx": "same bytes as a static file (nginx)",
        "bare granian": "same bytes from a bare ASGI app on granian",
        "bare uvicorn": "same bytes from a bare ASGI app on uvicorn",
    }
    lines = [
        "| endpoint | requests/s | p99 latency | body | our API on granian's requests/s ÷ this |",
        "|---|---:|---:|---:|---:|",
    ]
    for name in labels:
        rps, p99 = median[name]
        lines.append(f"| {labels[name]} | {rps:,.0f} | {p99:.1f} ms | {sizes[name]:,} B | {api_rps / rps:.2f}× |")
    lines.append("")
    lines.append(
        f"Medians of {args.rounds} rounds of wrk ({args.connections} connections, {args.duration} s each, one thread) "
        f"on loopback, {os.cpu_count()} cores shared by the servers and the load generator "
        f"(load average {args.load:.1f} when the run started: other work on the machine makes the numbers noisy, "
        "the ratios come from the same rounds). "
        f"{note} Each server runs one worker of the same application; a bare ASGI app is the ceiling of any "
        "Python application on that server. "
        f"granian ÷ uvicorn on our API: {api_rps / median['api uvicorn'][0]:.2f}×. "
        f"Goal: API ≥ 1× Datasette (measured {api_rps / median['datasette granian'][0]:.1f}×) and within 3× of "
        f"nginx (measured {median['nginx'][0] / api_rps:.1f}× slower)."
    )
    return "\n".join(lines)


def write_readme(text: str) -> None:
    """Replace the table between the bench:api markers of docs/performance.md."""
    page = ROOT / "docs" / "performance.md"
    content = page.read_text(encoding="utf-8")
    if START not in content:
        raise SystemExit(f"{page} has no {START} … {END} markers to write the table between")
    block = f"{START}\n{text}\n{END}"
    content = re.sub(re.escape(START) + r".*?" + re.escape(END), lambda _m: block, content, flags=re.S)
    page.write_text(content, encoding="utf-8")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--datasets", type=Path, help="datasets folder (default: the project's)")
    parser.add_argument("--sample", action="store_true", help="use tests/data/api_sample in place of its tables")
    parser.add_argument(
        "--rows", type=int, default=101, help="pad targets to at least this many rows (default: two pages)"
    )
    parser.add_argument("--duration", type=int, default=10)
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--readme", action="store_true", help="write the table into docs/performance.md")
    args = parser.parse_args()
    if not shutil.which("wrk"):
        sys.exit("wrk is needed: apt-get install wrk")

    with tempfile.TemporaryDirectory(prefix="kechuang-bench-") as tmp:
        work = Path(tmp)
        project = Project(root=ROOT, datasets=prepare_datasets(args, work), schemas=ROOT / "schemas")
        db = build_database(project, work / "db" / "kechuang.db").path
        curated = sqlite3.connect(db).execute("select count(*) from targets").fetchone()[0]
        added = pad_targets(db, args.rows)
        note = f"Database: {curated} curated targets" + (
            f" plus {added} copies (ids suffixed -bench-N) so that a page holds 50." if added else "."
        )
        servers: list[subprocess.Popen] = []
        args.load = os.getloadavg()[0]
        try:
            urls = {}
            for server in ("granian", "uvicorn"):
                process, port = start_portal(server, db)
                servers.append(process)
                urls[f"api {server}"] = f"http://127.0.0.1:{port}{API_PATH}"
                urls[f"datasette {server}"] = f"http://127.0.0.1:{port}{DATASETTE_PATH}"
            body = httpx.get(urls["api granian"]).content
            process, nginx_port = start_nginx(work, body)
            servers.append(process)
            urls["nginx"] = f"http://127.0.0.1:{nginx_port}/targets.json"
            for server in ("granian", "uvicorn"):
                process, port = start_bare_asgi(server, work, body)
                servers.append(process)
                urls[f"bare {server}"] = f"http://127.0.0.1:{port}/"
            sizes = {name: len(httpx.get(url).content) for name, url in urls.items()}
            results: dict[str, list[tuple[float, float]]] = {name: [] for name in urls}
            for url in urls.values():
                run_wrk(url, 2, args.connections)  # warm up
            for round_number in range(args.rounds):
                for name, url in urls.items():
                    results[name].append(run_wrk(url, args.duration, args.connections))
                    rps, p99 = results[name][-1]
                    print(f"round {round_number + 1} {name:9} {rps:10,.0f} req/s  p99 {p99:7.1f} ms", file=sys.stderr)
            text = table(results, sizes, note, args)
        finally:
            for process in servers:
                process.terminate()
                process.wait(10)
    print(text)
    if args.readme:
        write_readme(text)


if __name__ == "__main__":
    main()
