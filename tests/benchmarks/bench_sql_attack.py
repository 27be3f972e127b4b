"""Hostile visitor SQL against citizens (run by hand): does the portal keep answering everyone else?

    .venv/bin/python tests/benchmarks/bench_sql_attack.py [--seconds 60] [--attackers 6] [--modes single,workers]

For each way of serving (`single`: one `datasette serve` process, as the container runs it; `workers`:
`kechuang serve --workers 2` behind nginx), bystanders ask for uncached API items, search and pages,
first alone (the quiet run), then for `--seconds` while `--attackers` hostile visitors send every class
of attack in turn, each request varied so that no cache merges them. Reported: bystander p50/p99 in both
runs and their ratio, failed bystander requests, each attack class's statuses and durations, and the
peak RSS of the largest process (a Datasette worker or a visitor-SQL worker) and of the whole tree.

Goal (issue 12): bystander p99 at most 3× the quiet p99, every hostile request answered within 4 s
with a 4xx, peak RSS under 512 MB, no failed bystander request.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import itertools
import json
import shutil
import sys
import tempfile
import time
from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote, urlencode

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from cluster_support import start_serving

from benchmarks.load import process_tree
from conftest import free_port, launch_portal, wait_until_up
from kechuang.pipeline import build_database
from kechuang.project import Project
from kechuang.serve.api.pagination import _mac

RECURSIVE = "with recursive r(i) as (select 1 union all select i + 1 from r)"
LONG = "printf('%.900000c', 'a')"


def _sql(path: str, sql: str) -> str:
    return f"{path}?{urlencode({'sql': sql})}"


def _forged_cursor(n: int) -> str:
    payload = json.dumps(["deadline_year", 0, 10**30 + n, "x"]).encode()
    return base64.urlsafe_b64encode(_mac(payload) + payload).rstrip(b"=").decode()


# Attack class → the request for the n-th attack (n varies it, so no cache answers it).
ATTACKS: dict[str, Callable[[int], str]] = {
    "like (one step)": lambda n: _sql(
        "/kechuang.json", f"select {LONG} like '%' || printf('%.{40000 + n}c', 'a') || 'b%'"
    ),
    "glob (one step)": lambda n: _sql(
        "/kechuang.json", f"select {LONG} glob '*' || printf('%.{40000 + n}c', 'a') || 'b*'"
    ),
    "instr (one step)": lambda n: _sql(
        "/kechuang.json", f"select instr({LONG}, printf('%.{450000 + n}c', 'a') || 'b')"
    ),
    "replace (one step)": lambda n: _sql(
        "/kechuang.json", f"select length(replace({LONG}, printf('%.{450000 + n}c', 'a') || 'b', 'x'))"
    ),
    "trim (one step)": lambda n: _sql(
        "/kechuang.json", f"select length(trim(printf('%.200000c', 'a') || 'b', printf('%.{50000 + n}c', 'c') || 'a'))"
    ),
    "printf directives": lambda n: _sql("/kechuang.json", "select printf('" + "%.999999c" * 600 + f"', {n})"),
    "recursive CTE": lambda n: _sql("/kechuang.json", f"{RECURSIVE} select count(*) + {n} from r"),
    "cartesian join": lambda n: _sql(
        "/kechuang.json", f"select count(*) + {n} from targets a, targets b, targets c, targets d, targets e"
    ),
    "JSON flood (CJK)": lambda n: _sql(
        "/kechuang.json", f"{RECURSIVE} select printf('%.{100000 + n}c', '中') from r limit 1000"
    ),
    "HTML flood": lambda n: _sql(
        "/kechuang",
        f"{RECURSIVE} select "
        + ", ".join(f"printf('%.2000c', 'x') as c{i}" for i in range(40))
        + f", {n} from r limit 1000",
    ),
    "CSV flood": lambda n: _sql(
        "/kechuang.csv", f"{RECURSIVE} select printf('%.{100000 + n}c', 'x') from r limit 1000"
    ),
    "sort big blobs (temp)": lambda n: _sql(
        "/kechuang.json",
        f"{RECURSIVE} select length(b) from (select randomblob(900000) as b from r limit {5000 + n}) order by b",
    ),
    "_where + facets page": lambda n: (
        "/kechuang/targets?"
        + urlencode({"_where": f"instr({LONG}, printf('%.{100000 + n}c', 'a') || 'b') = 0", "_facet": "status"})
    ),
    "nested __in": lambda n: f"/kechuang/targets.json?a__in={'[' * (2000 + n % 100)}",
    "_next overflow on a view": lambda n: f"/kechuang/targets_detail.json?_next={10**22 + n}",
    "_where two statements": lambda n: f"/kechuang/targets.json?_where={quote(f'{n}=1;drop')}",
    "forged API cursor": lambda n: f"/api/v1/targets?sort=deadline_year&cursor={_forged_cursor(n)}",
    "/-/threads": lambda n: f"/-/threads.json?n={n}",
}


def bystander_requests() -> Callable[[int], str]:
    """A citizen's n-th request: an uncached API item list, search, or a page, in turn."""
    terms = ["创新", "科技", "平台", "基金", "企业", "人才", "wuhan", "innovation"]

    def pick(n: int) -> str:
        kind = n % 3
        if kind == 0:
            return f"/api/v1/targets?limit={1 + n % 100}&deadline_year_min={2000 + n // 100 % 30}"
        if kind == 1:
            return f"/api/v1/search?q={quote(terms[n % len(terms)])}&limit={1 + n % 20}"
        return ["/", "/targets", "/policies", "/indicators", "/agencies"][n // 3 % 5]

    return pick


@dataclass
class Run:
    bystander_ms: list[float] = field(default_factory=list)
    bystander_failures: Counter = field(default_factory=Counter)
    attacks: dict[str, list[tuple[int, float]]] = field(default_factory=lambda: defaultdict(list))
    peak_process_kb: int = 0
    peak_process: str = ""
    peak_tree_kb: int = 0


def percentile(values: list[float], q: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(q * len(values)))] if values else 0.0


def _rss(pid: int) -> tuple[int, str]:
    try:
        status = Path(f"/proc/{pid}/status").read_text()
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return 0, ""
    rss = next((int(line.split()[1]) for line in status.splitlines() if line.startswith("VmRSS:")), 0)
    return rss, cmdline


async def _sample_memory(root: int, until: float, run: Run) -> None:
    while time.monotonic() < until:
        sizes = [_rss(pid) for pid in process_tree(root)]
        run.peak_tree_kb = max(run.peak_tree_kb, sum(s for s, _ in sizes))
        largest = max(sizes, default=(0, ""))
        if largest[0] > run.peak_process_kb:
            run.peak_process_kb, run.peak_process = largest
        await asyncio.sleep(0.2)


async def _bystander(base: str, until: float, run: Run, seed: int) -> None:
    pick, counter = bystander_requests(), itertools.count(seed * 100_000)
    async with httpx.AsyncClient(base_url=base, timeout=60) as http:
        while time.monotonic() < until:
            path = pick(next(counter))
            started = time.perf_counter()
            try:
                response = await http.get(path)
            except httpx.HTTPError as error:
                run.bystander_failures[f"{type(error).__name__} {path[:60]}"] += 1
                continue
            run.bystander_ms.append((time.perf_counter() - started) * 1000)
            if response.status_code != 200:
                run.bystander_failures[f"{response.status_code} {path[:60]}"] += 1


async def _attacker(base: str, until: float, run: Run, seed: int) -> None:
    classes = itertools.cycle(list(ATTACKS)[seed % len(ATTACKS) :] + list(ATTACKS)[: seed % len(ATTACKS)])
    counter = itertools.count(seed * 1000)  # small variations: the sizes stay what each attack needs
    async with httpx.AsyncClient(base_url=base, timeout=120) as http:
        while time.monotonic() < until:
            name = next(classes)
            started = time.perf_counter()
            try:
                response = await http.get(ATTACKS[name](next(counter)))
                status = response.status_code
            except httpx.HTTPError:
                status = 0
            run.attacks[name].append((status, time.perf_counter() - started))


async def measure(base: str, root: int, seconds: float, bystanders: int, attackers: int) -> Run:
    run = Run()
    until = time.monotonic() + seconds
    tasks = [_bystander(base, until, run, i) for i in range(bystanders)]
    tasks += [_attacker(base, until, run, i) for i in range(attackers)]
    await asyncio.gather(_sample_memory(root, until, run), *tasks)
    return run


def report(mode: str, quiet: Run, attacked: Run) -> list[str]:
    q50, q99 = percentile(quiet.bystander_ms, 0.5), percentile(quiet.bystander_ms, 0.99)
    a50, a99 = percentile(attacked.bystander_ms, 0.5), percentile(attacked.bystander_ms, 0.99)
    every = [a for results in attacked.attacks.values() for a in results]
    lines = [
        f"== {mode} ==",
        f"bystanders quiet:    {len(quiet.bystander_ms):6} requests  p50 {q50:7.1f} ms  p99 {q99:7.1f} ms"
        f"  failures {sum(quiet.bystander_failures.values())}",
        f"bystanders attacked: {len(attacked.bystander_ms):6} requests  p50 {a50:7.1f} ms  p99 {a99:7.1f} ms"
        f"  failures {sum(attacked.bystander_failures.values())} {dict(attacked.bystander_failures) or ''}",
        f"p99 attacked / quiet: {a99 / q99 if q99 else float('nan'):.2f}× (goal ≤ 3×)",
        f"hostile requests: {len(every)}, slowest {max((d for _, d in every), default=0):.2f} s (goal ≤ 4 s), "
        f"non-4xx: {sum(1 for s, _ in every if not 400 <= s < 500)}",
    ]
    for name, results in attacked.attacks.items():
        durations = [d for _, d in results]
        statuses = Counter(s for s, _ in results)
        lines.append(
            f"  {name:26} {len(results):4}×  p50 {percentile(durations, 0.5):5.2f} s  max {max(durations):5.2f} s  "
            f"statuses {dict(sorted(statuses.items()))}"
        )
    lines.append(
        f"peak RSS: largest process {attacked.peak_process_kb / 1024:.0f} MB ({attacked.peak_process[:70]}), "
        f"whole tree {attacked.peak_tree_kb / 1024:.0f} MB (quiet: {quiet.peak_process_kb / 1024:.0f} MB largest) "
        f"(goal < 512 MB per process)"
    )
    return lines


def serve(mode: str, project: Project, db: Path, work: Path) -> tuple[str, int, Callable[[], None]]:
    if mode == "single":
        port = free_port()
        log = (work / "single.log").open("w")
        process = launch_portal(db, port, log)
        url = f"http://127.0.0.1:{port}"
        wait_until_up(url + "/-/versions.json", process, log=work / "single.log")

        def stop() -> None:
            process.terminate()
            process.wait(30)

        return url, process.pid, stop
    served = start_serving(project, work / "dist", "--workers", "2", "--db", str(db))
    served.wait_until_serving()
    wait_until_up(served.url + "/-/versions.json", served.process)
    return served.url, served.process.pid, served.stop


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--quiet-seconds", type=float, default=20)
    parser.add_argument("--attackers", type=int, default=6)
    parser.add_argument("--bystanders", type=int, default=4)
    parser.add_argument("--modes", default="single,workers")
    args = parser.parse_args()
    project = Project.locate()
    lines: list[str] = []
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        db = build_database(project, work / "kechuang.db").path
        for mode in args.modes.split(","):
            url, root, stop = serve(mode, project, db, work)
            try:
                for path in (bystander_requests()(n) for n in range(15)):  # warm: templates, first workers
                    httpx.get(url + path, timeout=60)
                quiet = asyncio.run(measure(url, root, args.quiet_seconds, args.bystanders, 0))
                attacked = asyncio.run(measure(url, root, args.seconds, args.bystanders, args.attackers))
            finally:
                stop()
            lines += report(mode, quiet, attacked)
            print("\n".join(report(mode, quiet, attacked)), flush=True)
        shutil.rmtree(work / "dist", ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
