"""Shared fixtures: the real datasets, a real built database and a real Datasette serving it."""

from __future__ import annotations

import csv
import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from kechuang.model.metadata import write_datasette_metadata
from kechuang.operations.launch import datasette_arguments
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


@dataclass
class Portal:
    """A running Datasette serving one database file."""

    base_url: str
    process: subprocess.Popen
    db: Path
    log: Path | None = None

    def log_text(self) -> str:
        """What the server wrote to stderr so far (a file, so a chatty server never blocks on a pipe)."""
        return self.log.read_text(errors="replace") if self.log else ""

    def get(self, path: str, **kwargs) -> httpx.Response:
        return httpx.get(self.base_url + path, timeout=30, **kwargs)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()


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
def built_db(tmp_path_factory: pytest.TempPathFactory, project: Project) -> Path:
    """The real datasets compiled once per test run."""
    return build_database(project, tmp_path_factory.mktemp("build") / "kechuang.db").path


def launch_portal(
    project: Project,
    db: Path,
    metadata: Path,
    port: int,
    stderr=subprocess.DEVNULL,
    plugins: Path | None = None,
    env=None,
) -> subprocess.Popen:
    """The portal's own `datasette serve` command line as a child process (`plugins` replaces plugins/)."""
    args = datasette_arguments(project, db, metadata, "127.0.0.1", port)
    if plugins is not None:
        args[args.index("--plugins-dir") + 1] = str(plugins)
    return subprocess.Popen(
        [sys.executable, "-m", "datasette", *args],
        stdout=subprocess.DEVNULL,
        stderr=stderr,
        text=True,
        env={**os.environ, "KECHUANG_ROOT": str(project.root), **(env or {})},
    )


@pytest.fixture(scope="session")
def start_portal(project: Project, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Callable[[Path], Portal]]:
    """Factory: serve a database file with the portal's own Datasette command line."""
    started: list[Portal] = []

    def start(db: Path) -> Portal:
        port = free_port()
        metadata = write_datasette_metadata(project, tmp_path_factory.mktemp("meta") / "metadata.json")
        log = metadata.parent / "datasette.log"
        with log.open("w") as stderr:
            process = launch_portal(project, db, metadata, port, stderr)
        portal = Portal(f"http://127.0.0.1:{port}", process, db, log)
        started.append(portal)
        wait_until_up(portal.base_url + "/-/versions.json", process, log=log)
        return portal

    yield start
    for portal in started:
        portal.stop()


@pytest.fixture(scope="session")
def portal(start_portal: Callable[[Path], Portal], built_db: Path) -> Portal:
    """The real data served by a real Datasette, shared by the whole run."""
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


@pytest.fixture(scope="session")
def sample_db(tmp_path_factory: pytest.TempPathFactory, project: Project) -> Path:
    """The real datasets with the tables of tests/data/api_sample in place of the curated ones, built for real:
    every relation the API embeds or filters on has rows, whatever the state of the curation."""
    folder = tmp_path_factory.mktemp("api-sample") / "datasets"
    shutil.copytree(project.datasets, folder)
    for table in API_SAMPLE.glob("*.csv"):
        shutil.copy(table, folder / table.name)
    sample = Project(root=project.root, datasets=folder, schemas=project.schemas, dist_dir=project.dist)
    return build_database(sample, tmp_path_factory.mktemp("api-sample-build") / "kechuang.db").path


@pytest.fixture(scope="session")
def sample_portal(start_portal: Callable[[Path], Portal], sample_db: Path) -> Portal:
    """A real Datasette serving the sample database."""
    return start_portal(sample_db)


# --- Databases built from a copy of the real datasets with extra rows (e.g. records that carry markup) ---


def read_table_rows(folder: Path) -> dict[str, list[dict[str, str]]]:
    """Every CSV in `folder` as {table: rows}."""
    import csv

    return {
        path.stem: list(csv.DictReader(path.open(encoding="utf-8", newline="")))
        for path in sorted(folder.glob("*.csv"))
    }


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


@pytest.fixture(scope="session")
def build_db_with(tmp_path_factory: pytest.TempPathFactory, project: Project) -> Callable[..., Path]:
    """Factory: the real datasets plus `extra` rows, validated and compiled into a fresh kechuang.db."""

    def build(extra: dict[str, list[dict[str, str]]]) -> Path:
        folder = tmp_path_factory.mktemp("extra")
        datasets = folder / "datasets"
        shutil.copytree(project.datasets, datasets)
        add_rows(datasets, project.schemas, extra)
        copy = Project(root=project.root, datasets=datasets, schemas=project.schemas, dist_dir=project.dist)
        return build_database(copy, folder / "kechuang.db").path

    return build


@pytest.fixture(scope="session")
def hostile(project: Project, tmp_path_factory: pytest.TempPathFactory, start_portal) -> tuple[Portal, dict]:
    """The real datasets with script and markup payloads in every table (tests/hostile.py), built and
    served; returns the portal and the hostile rows by table."""
    from hostile import build_hostile

    db, rows = build_hostile(project, tmp_path_factory.mktemp("hostile"))
    return start_portal(db), rows
