"""A bounded load test of a served portal on loopback: throughput, latency, errors and memory.

Used by `bench_load.py` (the full run, by hand) and by `tests/test_load.py` (a short run in the
suite that asserts zero errors only). The request mix is discovered from the server itself, so it
follows the data and the routes that exist: pages, Datasette JSON and CSV, SQL, and, when they are
served, the JSON API (every GET operation of /api/v1/openapi.json) and search.
"""

from __future__ import annotations

import asyncio
import random
import statistics
import time
from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote

import httpx

SQL = [
    "select policy_id, count(*) as n from targets group by policy_id",
    "select deadline_year, count(*) from targets where status = 'stated' group by deadline_year",
    "select a.name_zh, count(*) from measure_agencies m join agencies a on a.id = m.agency_id group by a.id "
    "order by 2 desc limit 20",
    "select * from targets_detail order by deadline_year limit 50",
]


@dataclass
class Mix:
    """Weighted request paths by kind: a list to choose from, or a function making a fresh path."""

    paths: dict[str, list[str] | Callable[[random.Random], str]] = field(default_factory=dict)
    weights: dict[str, float] = field(default_factory=dict)

    def add(self, kind: str, paths: list[str] | Callable[[random.Random], str], weight: float) -> None:
        if paths:
            self.paths[kind] = paths
            self.weights[kind] = weight

    def picker(self, seed: int) -> Callable[[], tuple[str, str]]:
        rng = random.Random(seed)
        kinds = list(self.paths)
        weights = [self.weights[k] for k in kinds]

        def pick() -> tuple[str, str]:
            kind = rng.choices(kinds, weights)[0]
            paths = self.paths[kind]
            return kind, paths(rng) if callable(paths) else rng.choice(paths)

        return pick


def distinct_api_request(rng: random.Random) -> str:
    """A valid API request never seen before, with a query string near the guard's 8 KB limit: what a
    visitor would send to fill the API's response caches with long keys."""
    agencies = ",".join(f"{rng.getrandbits(64):016x}{'a' * 170}" for _ in range(40))
    return f"/api/v1/targets?fields=id&limit=1&agency={agencies}"


def _get_json(client: httpx.Client, path: str, **params) -> object | None:
    response = client.get(path, params=params)
    if response.status_code != 200 or "json" not in response.headers.get("content-type", ""):
        return None
    return response.json()


def _api_paths(client: httpx.Client, ids: dict[str, list[str]], terms: list[str]) -> list[str]:
    """Every GET operation of the OpenAPI document, path parameters filled with real values."""
    spec = _get_json(client, "/api/v1/openapi.json")
    if not isinstance(spec, dict):
        return []
    paths = []
    for template, operations in spec.get("paths", {}).items():
        if "get" not in operations or "search" in template:
            continue
        names = [part[1:-1] for part in template.split("/") if part.startswith("{")]
        if not names:
            paths.append(template)
            continue
        table = next((t for t in ids if f"/{t}/" in template), None)
        if table and len(names) == 1 and ids[table]:
            paths += [template.replace("{" + names[0] + "}", quote(i, safe="")) for i in ids[table][:20]]
    return paths


def discover_mix(base_url: str, distinct: bool = False) -> Mix:
    """Requests a visitor would make, from what this server serves; with `distinct`, also a flood of
    API requests that are all different (see `distinct_api_request`)."""
    with httpx.Client(base_url=base_url, timeout=30) as client:
        ids = {
            table: [r["id"] for r in _get_json(client, f"/kechuang/{table}.json", _shape="array", _col="id", _size="max") or []]
            for table in ("targets", "measures", "policies", "agencies", "platforms")
        }
        terms = [
            value
            for r in _get_json(client, "/kechuang/glossary.json", _shape="array", _size="40") or []
            for value in (r.get("term_zh"), r.get("term_en"))
            if value
        ]
        mix = Mix()
        pages = ["/", "/kechuang", "/kechuang/targets", "/kechuang/measures?_facet=kind"]
        pages += [f"/kechuang/targets/{quote(i, safe='')}" for i in ids["targets"][:30]]
        pages += [p for p in ("/about", "/targets", "/policies") if client.get(p).status_code == 200]
        mix.add("page", pages, 3)
        tables = [f"/kechuang/{t}.json?_size=50" for t in ids] + ["/kechuang/targets.json?_facet=deadline_year"]
        mix.add("datasette-json", tables, 2)
        mix.add("csv", ["/kechuang/targets.csv?_size=100", "/kechuang/measures.csv?_size=50"], 1)
        mix.add("sql", [f"/kechuang.json?sql={quote(s)}" for s in SQL], 2)
        mix.add("api", _api_paths(client, ids, terms), 3)
        search = [
            f"{route}?q={quote(term)}"
            for route in ("/api/v1/search", "/-/search")
            if client.get(route, params={"q": terms[0] if terms else "科技"}).status_code == 200
            for term in terms
        ]
        mix.add("search", search, 3)
        if distinct and "api" in mix.paths:
            mix.add("api-distinct", distinct_api_request, 3)
    return mix


def process_tree(root: int) -> list[int]:
    """`root` and all its descendants (e.g. nginx master + workers, or a supervisor + portal workers)."""
    children: dict[int, list[int]] = defaultdict(list)
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        children[int(fields[1])].append(int(stat.parent.name))
    tree, todo = [], [root]
    while todo:
        pid = todo.pop()
        tree.append(pid)
        todo += children.get(pid, [])
    return tree


def rss_kb(pids: list[int]) -> int:
    total = 0
    for pid in pids:
        try:
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
        except OSError:
            continue
    return total


@dataclass
class LoadReport:
    clients: int
    seconds: float
    requests: int = 0
    errors: Counter = field(default_factory=Counter)
    latencies: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    rss_samples: list[tuple[float, int]] = field(default_factory=list)
    baseline_p50_ms: float | None = None
    events: list[str] = field(default_factory=list)

    @property
    def error_count(self) -> int:
        return sum(self.errors.values())

    def percentile(self, q: float, kind: str | None = None) -> float:
        values = sorted(self.latencies[kind] if kind else [v for vs in self.latencies.values() for v in vs])
        if not values:
            return 0.0
        return values[min(len(values) - 1, int(q * len(values)))] * 1000

    def memory_growth_kb(self) -> int:
        """RSS at the end minus RSS after the first fifth of the run (warm caches, all routes loaded)."""
        if len(self.rss_samples) < 5:
            return 0
        warm = self.rss_samples[len(self.rss_samples) // 5][1]
        end = statistics.median(s for _, s in self.rss_samples[-3:])
        return int(end - warm)

    def summary(self) -> str:
        lines = [
            f"{self.clients} clients × {self.seconds:.0f} s: {self.requests} requests, "
            f"{self.requests / self.seconds:.0f} req/s, {self.error_count} errors {dict(self.errors) or ''}",
            f"latency p50 {self.percentile(0.5):.1f} ms, p99 {self.percentile(0.99):.1f} ms"
            + (
                f" (p50 {self.percentile(0.5) / self.baseline_p50_ms:.1f}× the single-client baseline "
                f"{self.baseline_p50_ms:.1f} ms)"
                if self.baseline_p50_ms
                else ""
            ),
        ]
        for kind in sorted(self.latencies):
            n = len(self.latencies[kind])
            lines.append(
                f"  {kind:15} {n:7} req  p50 {self.percentile(0.5, kind):7.1f} ms  p99 {self.percentile(0.99, kind):7.1f} ms"
            )
        if self.rss_samples:
            values = [s for _, s in self.rss_samples]
            lines.append(
                f"server RSS: start {values[0] / 1024:.0f} MB, max {max(values) / 1024:.0f} MB, "
                f"end {values[-1] / 1024:.0f} MB, growth after warm-up {self.memory_growth_kb() / 1024:+.1f} MB "
                f"({len(values)} samples)"
            )
        lines += self.events
        return "\n".join(lines)


def _is_error(status: int) -> bool:
    return not (200 <= status < 400)


async def _client(
    http: httpx.AsyncClient, pick: Callable[[], tuple[str, str]], deadline: float, report: LoadReport
) -> None:
    while time.monotonic() < deadline:
        kind, path = pick()
        started = time.perf_counter()
        try:
            response = await http.get(path)
            status = response.status_code
            await response.aclose()
        except httpx.HTTPError as error:
            report.errors[f"{kind} {type(error).__name__}"] += 1
            continue
        report.latencies[kind].append(time.perf_counter() - started)
        report.requests += 1
        if _is_error(status):
            report.errors[f"{kind} {status} {path[:80]}"] += 1


async def _sample_memory(root_pid: int, deadline: float, report: LoadReport, every: float) -> None:
    start = time.monotonic()
    while time.monotonic() < deadline:
        report.rss_samples.append((time.monotonic() - start, rss_kb(process_tree(root_pid))))
        await asyncio.sleep(every)


async def _baseline(base_url: str, mix: Mix, requests: int) -> float:
    pick = mix.picker(seed=1)
    timings = []
    async with httpx.AsyncClient(base_url=base_url, timeout=60) as http:
        for _ in range(requests):
            _kind, path = pick()
            started = time.perf_counter()
            await http.get(path)
            timings.append(time.perf_counter() - started)
    return statistics.median(timings) * 1000


async def run_load_async(
    base_url: str,
    clients: int,
    seconds: float,
    server_pid: int | None = None,
    mix: Mix | None = None,
    baseline_requests: int = 0,
    during: Callable[[], str] | None = None,
) -> LoadReport:
    """Run `clients` concurrent clients for `seconds`; `during` is called once, half-way, in a thread."""
    mix = mix or discover_mix(base_url)
    report = LoadReport(clients=clients, seconds=seconds)
    if baseline_requests:
        report.baseline_p50_ms = await _baseline(base_url, mix, baseline_requests)
    deadline = time.monotonic() + seconds
    # Drop idle connections before the server does (uvicorn closes them after 5 s): reusing one the
    # server is closing at that moment fails the request, an artefact of the client, not the portal.
    # Each client is a visitor of its own: on loopback it connects from its own address (127.0.0.2, …), so
    # the portal's per-client limits see ten visitors, not one visitor with ten connections.
    visitors = [_visitor(base_url, i) for i in range(clients)]
    try:
        tasks = [
            asyncio.create_task(_client(http, mix.picker(seed=i), deadline, report)) for i, http in enumerate(visitors)
        ]
        if server_pid:
            tasks.append(asyncio.create_task(_sample_memory(server_pid, deadline, report, max(0.5, seconds / 60))))
        if during:
            await asyncio.sleep(seconds / 2)
            report.events.append(await asyncio.to_thread(during))
        await asyncio.gather(*tasks)
    finally:
        await asyncio.gather(*(http.aclose() for http in visitors))
    return report


def _visitor(base_url: str, index: int) -> httpx.AsyncClient:
    """One visitor's client; from a loopback address of its own when the portal is on 127.0.0.1."""
    local = f"127.0.0.{2 + index % 250}" if httpx.URL(base_url).host == "127.0.0.1" else None
    limits = httpx.Limits(max_connections=1, max_keepalive_connections=1, keepalive_expiry=3)
    transport = httpx.AsyncHTTPTransport(local_address=local, limits=limits)
    return httpx.AsyncClient(base_url=base_url, timeout=60, transport=transport)


def run_load(base_url: str, clients: int, seconds: float, **kwargs) -> LoadReport:
    return asyncio.run(run_load_async(base_url, clients, seconds, **kwargs))
