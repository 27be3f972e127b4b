"""Shared fixtures: the real datasets built once, the small test sample built once, the portal's Datasette
on either, in process (`portal`, `sample_portal`) or as a served process (`live_portal`,
`live_sample_portal`, for browsers, raw sockets and load), and a release behind nginx."""

from __future__ import annotations

import asyncio
import csv
import itertools
import os
import shutil
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from kechuang.operations.launch import datasette_arguments, server_arguments, server_environment
from kechuang.pipeline import build_database
from kechuang.project import Project

ROOT = Path(__file__).resolve().parents[1]
API_SAMPLE = ROOT / "tests" / "data" / "api_sample"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_until_up(url: str, process: subprocess.Popen, timeout: float = 60, log: Path | None = None) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            output = log.read_text(errors="replace") if log else ""
            raise RuntimeError(f"server exited with {process.returncode}: {output}")
        try:
            if httpx.get(url, timeout=2).status_code < 500:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    raise TimeoutError(f"{url} did not come up in {timeout} s")


class Client(httpx.Client):
    """An httpx client that keeps no cookies between requests: each request is a visitor of its own, as
    with `httpx.get` (a test that wants a cookie sends it: `cookies=` becomes that request's Cookie header)."""

    def request(self, method: str, url, *, cookies: dict[str, str] | None = None, **kwargs) -> httpx.Response:
        if cookies:
            sent = "; ".join(f"{name}={value}" for name, value in cookies.items())
            kwargs["headers"] = {**(kwargs.get("headers") or {}), "Cookie": sent}
        return super().request(method, url, **kwargs)

    def send(self, request: httpx.Request, **kwargs) -> httpx.Response:
        try:
            return super().send(request, **kwargs)
        finally:
            self.cookies.clear()


class ClientCalls:
    """`get`, `head` and `request` on `self.client`, the same for a served and an in-process portal."""

    client: Client

    def get(self, path: str, **kwargs) -> httpx.Response:
        return self.client.get(path, **kwargs)

    def head(self, path: str, **kwargs) -> httpx.Response:
        return self.client.head(path, **kwargs)

    def request(self, method: str, path: str, **kwargs) -> httpx.Response:
        return self.client.request(method, path, **kwargs)


@dataclass
class Portal(ClientCalls):
    """A running Datasette serving one database file."""

    base_url: str
    process: subprocess.Popen
    db: Path
    log: Path | None = None

    def log_text(self) -> str:
        """What the server wrote to stderr so far (a file, so a chatty server never blocks on a pipe)."""
        return self.log.read_text(errors="replace") if self.log else ""

    def __post_init__(self) -> None:
        self.client = Client(base_url=self.base_url, timeout=30)

    def stop(self) -> None:
        self.client.close()
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()


# --- Datasette in process: the same configuration, answered without a server ---------------------


def portal_arguments(db: Path, port: int = 0) -> list[str]:
    """`datasette serve …` as the portal runs it (kechuang.operations.launch), for a test database."""
    return datasette_arguments(db, "127.0.0.1", port)


class _Loop:
    """One event loop in a daemon thread, shared by every in-process Datasette of the run.

    Its own thread, so the synchronous tests (and Playwright's loop in the main thread) can wait on it."""

    _loop: asyncio.AbstractEventLoop | None = None
    _lock = threading.Lock()

    @classmethod
    def run(cls, coroutine) -> Any:
        with cls._lock:
            if cls._loop is None:
                cls._loop = asyncio.new_event_loop()
                threading.Thread(target=cls._loop.run_forever, name="datasette-loop", daemon=True).start()
        return asyncio.run_coroutine_threadsafe(coroutine, cls._loop).result()


class AppTransport(httpx.BaseTransport):
    """A synchronous httpx transport that hands each request to an ASGI app on the shared loop."""

    def __init__(self, app) -> None:
        self._asgi = httpx.ASGITransport(app=app, client=("127.0.0.1", 50000))

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        async def send() -> tuple[httpx.Response, bytes]:
            response = await self._asgi.handle_async_request(request)
            body = b"".join([part async for part in response.stream])
            return response, body

        response, body = _Loop.run(send())
        return httpx.Response(
            response.status_code, headers=response.headers, stream=httpx.ByteStream(body), extensions=response.extensions
        )


def in_process_datasette(db: Path):
    """The Datasette instance `datasette serve` would run for `db`: the portal's own command line parsed
    by Datasette's own `serve` command, which returns the instance instead of starting uvicorn."""
    from datasette.cli import serve

    args = portal_arguments(db)
    assert args[0] == "serve"
    with serve.make_context("serve", args[1:]) as ctx:
        return serve.callback(**ctx.params, return_instance=True)


_hosts = itertools.count(1)


@dataclass
class InProcessPortal(ClientCalls):
    """Datasette with the portal's configuration, called in process: the same interface as `Portal`
    (`get`, `head`, `request`, `client`, `base_url`, `db`) without a server process. Each has its own host
    name, so clients and caches keyed by URL never mix two of them."""

    datasette: Any
    db: Path
    base_url: str = field(default_factory=lambda: f"http://portal-{next(_hosts)}.test")

    def __post_init__(self) -> None:
        self.app = self.datasette.app()
        self.client = Client(transport=AppTransport(self.app), base_url=self.base_url, timeout=30)

    def stop(self) -> None:
        self.client.close()


_in_process: dict[Path, InProcessPortal] = {}


def serve_in_process(db: Path) -> InProcessPortal:
    """The in-process portal of `db`, one per file for the whole run (the serving code keeps state per
    Datasette instance, so instances are never thrown away while the run lasts)."""
    db = db.resolve()
    if db not in _in_process:
        _in_process[db] = InProcessPortal(in_process_datasette(db), db)
    return _in_process[db]


@pytest.fixture(scope="session", autouse=True)
def dist_dir(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """Build outputs of the run, releases included, kept out of the checkout's dist/ (also for commands run)."""
    dist = tmp_path_factory.mktemp("dist")
    before = os.environ.get("KECHUANG_DIST")
    os.environ["KECHUANG_DIST"] = str(dist)
    yield dist
    if before is None:
        os.environ.pop("KECHUANG_DIST", None)
    else:
        os.environ["KECHUANG_DIST"] = before


# --- Starting early what the selected tests will need ------------------------------------------------

_needed: set[str] = set()


def pytest_collection_finish(session) -> None:
    """Remember every fixture the selected tests use (directly or through other fixtures)."""
    for item in session.items:
        _needed.update(getattr(item, "fixturenames", ()))


class EarlyBoot:
    """Served things (clusters behind nginx) that the selected tests will need, started as soon as what
    they serve is built, so they boot while other tests run; the fixture that needs one takes it (and
    waits for it). What no test took is stopped at the end of the run."""

    def __init__(self) -> None:
        self.booted: dict[str, Any] = {}
        self.stoppers: dict[str, Any] = {}

    def boot(self, name: str, start, stop) -> None:
        if name in _needed and name not in self.booted:
            self.booted[name] = start()
            self.stoppers[name] = stop

    def take(self, name: str) -> Any | None:
        self.stoppers.pop(name, None)
        return self.booted.pop(name, None)

    def stop_untaken(self) -> None:
        for name, value in self.booted.items():
            self.stoppers[name](value)


@pytest.fixture(scope="session")
def early_boot() -> Iterator[EarlyBoot]:
    boot = EarlyBoot()
    yield boot
    boot.stop_untaken()


@pytest.fixture(scope="session")
def project(dist_dir: Path) -> Project:
    """The checkout's datasets and schemas; build outputs go to the run's private dist folder."""
    return Project(root=ROOT, datasets=ROOT / "datasets", schemas=ROOT / "schemas", dist_dir=dist_dir)


@pytest.fixture
def datasets_copy(tmp_path: Path, project: Project) -> Path:
    """A private copy of the real datasets that a test may break."""
    target = tmp_path / "datasets"
    shutil.copytree(project.datasets, target)
    return target


@pytest.fixture(scope="session")
def built_db(tmp_path_factory: pytest.TempPathFactory, project: Project, start_portal: StartPortal) -> Path:
    """The real datasets compiled once per test run (and a served process of them set booting for the tests
    that need one, fixture `live_portal`, so it starts while other tests run)."""
    db = build_database(project, tmp_path_factory.mktemp("build") / "kechuang.db").path
    if "live_portal" in _needed:
        start_portal.boot(db)
    return db


def launch_portal(
    db: Path,
    port: int,
    stderr=subprocess.DEVNULL,
    plugins: Path | None = None,
    env=None,
    cwd: Path | None = None,
) -> subprocess.Popen:
    """The portal as `kechuang serve` runs it, a child process: granian (`server_arguments`, with its limits)
    serving the portal's own Datasette command line. `plugins` replaces plugins/, which only Datasette's own
    `serve` command line can take: that one process then runs `datasette serve` (uvicorn) instead."""
    if plugins is None:
        command = [sys.executable, *server_arguments("127.0.0.1", port)]
        env = {**server_environment(db), **(env or {})}
    else:
        args = portal_arguments(db, port)
        args[args.index("--plugins-dir") + 1] = str(plugins)
        command = [sys.executable, "-m", "datasette", *args]
    return subprocess.Popen(
        command,
        stdout=subprocess.DEVNULL,
        stderr=stderr,
        text=True,
        env={**os.environ, **(env or {})},
        cwd=cwd,
    )


class StartPortal:
    """Factory: serve a database file with the portal's own Datasette command line, a process of its own.

    `boot(db)` starts one and returns at once, so it boots while other tests run; the first call for that
    file then takes it (waiting until it answers). Every other call starts a new one."""

    def __init__(self, tmp_path_factory: pytest.TempPathFactory) -> None:
        self.tmp_path_factory = tmp_path_factory
        self.started: list[Portal] = []
        self.booting: dict[Path, Portal] = {}

    def _launch(self, db: Path) -> Portal:
        port = free_port()
        log = self.tmp_path_factory.mktemp("portal") / "datasette.log"
        with log.open("w") as stderr:
            process = launch_portal(db, port, stderr)
        portal = Portal(f"http://127.0.0.1:{port}", process, db, log)
        self.started.append(portal)
        return portal

    def boot(self, db: Path) -> None:
        if db.resolve() not in self.booting:
            self.booting[db.resolve()] = self._launch(db)

    def __call__(self, db: Path) -> Portal:
        portal = self.booting.pop(db.resolve(), None) or self._launch(db)
        wait_until_up(portal.base_url + "/-/versions.json", portal.process, log=portal.log)
        return portal

    def stop(self) -> None:
        for portal in self.started:
            portal.stop()


@pytest.fixture(scope="session")
def start_portal(tmp_path_factory: pytest.TempPathFactory) -> Iterator[StartPortal]:
    """Factory: serve a database file with the portal's own Datasette command line (see `StartPortal`)."""
    factory = StartPortal(tmp_path_factory)
    yield factory
    factory.stop()


@pytest.fixture(scope="session")
def portal(built_db: Path) -> InProcessPortal:
    """The real data served by the portal's Datasette, in process, shared by the whole run."""
    return serve_in_process(built_db)


@pytest.fixture(scope="session")
def live_portal(start_portal: StartPortal, built_db: Path) -> Portal:
    """The real data served by a real server process (granian, as `kechuang serve` runs it): for browsers, raw sockets and load."""
    return start_portal(built_db)


CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


@pytest.fixture(scope="module")
def chromium():
    """Headless Chromium from Debian, driven by Playwright, for one test module.

    Module scope: Playwright's sync API allows one instance per thread at a time, and other modules
    start their own."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
        yield browser
        browser.close()


def read_table(path: Path) -> tuple[list[str], list[dict[str, str]]]:
    with path.open(encoding="utf-8", newline="") as f:
        reader = csv.DictReader(f)
        return list(reader.fieldnames or []), list(reader)


def write_table(path: Path, header: list[str], rows: list[dict[str, str]]) -> None:
    with path.open("w", encoding="utf-8", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=header, lineterminator="\n", restval="")
        writer.writeheader()
        writer.writerows(rows)


def add_table_rows(datasets: Path, table: str, *rows: dict[str, str]) -> None:
    """Append rows to datasets/<table>.csv, columns in the header's order (missing ones empty)."""
    header, existing = read_table(datasets / f"{table}.csv")
    write_table(datasets / f"{table}.csv", header, [*existing, *rows])


@dataclass(frozen=True)
class Sample:
    """The small dataset of the unit and contract tests (fixture `sample`)."""

    datasets: Path  # valid as it is; copy it (fixture `sample_copy`) before breaking it
    db: Path
    hostile: dict[str, list[dict[str, str]]]  # the rows that carry script payloads, by table
    project: Project


@pytest.fixture(scope="session")
def sample(
    tmp_path_factory: pytest.TempPathFactory, project: Project, start_portal: StartPortal, early_boot: EarlyBoot
) -> Sample:
    """A few rows per table, validated and built once per run: the real policies (with their sources),
    headings, indicators, units and jurisdictions; the hand-curated rows of tests/data/api_sample for every
    other table, so every relation the API embeds or filters on has rows whatever the state of the
    curation; records whose English text is markup (hostile.markup_rows); and script and markup payloads
    in every table (hostile.poison)."""
    from hostile import markup_rows, poison_all

    folder = tmp_path_factory.mktemp("sample")
    datasets = folder / "datasets"
    shutil.copytree(project.datasets, datasets)
    for table in API_SAMPLE.glob("*.csv"):
        shutil.copy(table, datasets / table.name)
    add_rows(datasets, project.schemas, markup_rows(datasets))
    hostile_rows = poison_all(datasets, project.schemas)
    sample_project = Project(root=project.root, datasets=datasets, schemas=project.schemas, dist_dir=project.dist)
    db = build_database(sample_project, folder / "build" / "kechuang.db").path
    built = Sample(datasets, db, hostile_rows, sample_project)
    # What serves the sample, booting meanwhile: for the browser tests (`live_sample_portal`), the proxy and
    # broken-release tests (`served_release`) and the cluster tests (tests/test_cluster.py).
    if "live_sample_portal" in _needed:
        start_portal.boot(db)
    from cluster_support import publish_and_start

    early_boot.boot(
        "served_release",
        lambda: start_served_release(project, built, tmp_path_factory.mktemp("served-release")),
        lambda booted: booted[0].stop(),
    )
    for name, cache in (("cached", "--cache"), ("uncached", "--no-cache")):
        early_boot.boot(
            name,
            lambda name=name, cache=cache: publish_and_start(project, datasets, tmp_path_factory.mktemp(name), cache),
            lambda published: published.served.stop(),
        )
    return built


@pytest.fixture
def sample_copy(tmp_path: Path, sample: Sample) -> Path:
    """A private copy of the sample datasets that a test may break."""
    target = tmp_path / "datasets"
    shutil.copytree(sample.datasets, target)
    return target


@pytest.fixture(scope="session")
def sample_db(sample: Sample) -> Path:
    return sample.db


@pytest.fixture(scope="session")
def sample_portal(sample: Sample) -> InProcessPortal:
    """The sample served by the portal's Datasette, in process."""
    return serve_in_process(sample.db)


@pytest.fixture(scope="session")
def live_sample_portal(start_portal: StartPortal, sample: Sample) -> Portal:
    """The sample served by a real server process (granian, as `kechuang serve` runs it), for the browser tests."""
    return start_portal(sample.db)


# --- Rows added to a copy of datasets; a served release; hostile data ----------------------------------


def add_rows(datasets: Path, schemas_dir: Path, rows_by_table: dict[str, list[dict[str, str]]]) -> None:
    """Append rows to the tables in `datasets`, in each table's column order."""
    import csv

    for table, rows in rows_by_table.items():
        path = datasets / f"{table}.csv"
        with path.open(encoding="utf-8", newline="") as f:
            header = next(csv.reader(f))
        text = path.read_text(encoding="utf-8")
        with path.open("a", encoding="utf-8", newline="") as f:
            if text and not text.endswith("\n"):
                f.write("\n")
            writer = csv.DictWriter(f, fieldnames=header, lineterminator="\n")
            for row in rows:
                writer.writerow({name: row.get(name, "") for name in header})


@dataclass(frozen=True)
class ServedRelease:
    """A release of the test sample served by `kechuang serve --workers 2`: nginx in front of two workers."""

    url: str
    dist: Path
    version: str


def start_served_release(project: Project, sample: Sample, folder: Path):
    """Write a release of the sample into `folder`/dist and start serving it; returns (Served, version) at once."""
    from cluster_support import start_serving

    from kechuang.release.publish import write_release

    dist = folder / "dist"
    release = write_release(Project(root=project.root, datasets=sample.datasets, schemas=project.schemas, dist_dir=dist))
    return start_serving(project, dist, "--workers", "2"), release.version


@pytest.fixture(scope="session")
def served_release(
    project: Project, sample: Sample, early_boot: EarlyBoot, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ServedRelease]:
    """Shared by the tests that only read from it or publish nothing (the proxy layer, broken releases)."""
    booted = early_boot.take("served_release") or start_served_release(
        project, sample, tmp_path_factory.mktemp("served-release")
    )
    served, version = booted
    try:
        served.wait_until_serving()
        wait_until_up(served.url + "/-/release.json", served.process, timeout=120)
        yield ServedRelease(served.url, served.run_dir.parent, version)
    finally:
        served.stop()


@pytest.fixture(scope="session")
def hostile(live_sample_portal: Portal, sample: Sample) -> tuple[Portal, dict]:
    """The sample, whose every table carries script and markup payloads (tests/hostile.py), served by a
    real process; returns the portal and the hostile rows by table."""
    return live_sample_portal, sample.hostile


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Files that hold slow tests run first, so that `make test`'s two workers (xdist, one file at a time)
    do not finish with one long file left on one of them. Order within files is kept."""
    heavy = ("slow", "browser", "nginx", "image")
    slow_files = {item.path for item in items if any(item.get_closest_marker(m) for m in heavy)}
    items.sort(key=lambda item: item.path not in slow_files)
