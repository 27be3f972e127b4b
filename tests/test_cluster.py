"""`kechuang serve --workers N`: real nginx from Debian in front of granian's real workers, on loopback.

Workers are killed one by one under load, and a release is published while serving; no request may fail.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from cluster_support import Published, Served, publish_and_start, start_serving

from conftest import free_port
from kechuang.operations.cluster import Cluster
from kechuang.operations.nginx import find_nginx, render_template
from kechuang.project import Project

pytestmark = pytest.mark.nginx


class ServeWorkers:
    """Factory: start the real command in the background (or adopt one started early); each is stopped
    (SIGTERM, and it must stop cleanly) at the end of the module."""

    def __init__(self, project: Project) -> None:
        self.project = project
        self.started: list[Served] = []

    def adopt(self, served: Served) -> Served:
        self.started.append(served)
        served.wait_until_serving()
        return served

    def __call__(self, dist: Path, *args: str) -> Served:
        return self.adopt(start_serving(self.project, dist, *args))


@pytest.fixture(scope="module")
def serve_workers(project: Project) -> Iterator[ServeWorkers]:
    factory = ServeWorkers(project)
    yield factory
    for served in factory.started:
        served.stop()


class Load:
    """A pool of httpx clients (keep-alive, like real API users) requesting URLs in a loop."""

    def __init__(self, base_url: str, paths: list[str], clients: int = 6):
        self.base_url = base_url
        self.paths = paths
        self.clients = clients
        self.errors: Counter[str] = Counter()
        self.answers: list[tuple[float, str, int, str]] = []  # successes: (sent at, path, status, release)
        self._stop = threading.Event()
        self._threads = [threading.Thread(target=self._run, args=(i,), daemon=True) for i in range(clients)]

    def _run(self, index: int) -> None:
        with httpx.Client(base_url=self.base_url, timeout=30) as client:
            n = index
            while not self._stop.is_set():
                path = self.paths[n % len(self.paths)]
                n += 1
                sent = time.monotonic()
                try:
                    response = client.get(path)
                except httpx.HTTPError as error:
                    self.errors[f"{path}: {type(error).__name__} {error}"] += 1
                    continue
                if response.status_code != 200:
                    self.errors[f"{path}: HTTP {response.status_code}"] += 1
                    continue
                release = response.json().get("version", "") if path == "/-/release.json" else ""
                self.answers.append((sent, path, response.status_code, release))

    def __enter__(self) -> Load:
        for thread in self._threads:
            thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(60)

    def count(self) -> int:
        """Successful answers so far."""
        return len(self.answers)

    def wait_for_answers(self, more: int, timeout: float = 30) -> None:
        target = self.count() + more
        deadline = time.monotonic() + timeout
        while self.count() < target and time.monotonic() < deadline:
            time.sleep(0.05)
        assert self.count() >= target, "the load stalled"


PATHS = [
    "/-/release.json",
    "/kechuang/jurisdictions.json?_shape=objects",
    "/kechuang/units.json?_shape=array&_size=5",
    "/kechuang.json",
]


# Each cluster serves the tests of this module in turn, in the order they are written: caching and
# balancing, or workers killed under load, then a release published under load. conftest.py starts them
# as soon as the test sample is built (fixture `early_boot`), when these tests are selected.


def published_cluster(name: str, request, serve_workers: ServeWorkers, cache: str) -> Published:
    early_boot = request.getfixturevalue("early_boot")
    published = early_boot.take(name)
    if published is None:
        sample = request.getfixturevalue("sample")
        folder = request.getfixturevalue("tmp_path_factory").mktemp(name)
        published = publish_and_start(serve_workers.project, sample.datasets, folder, cache)
    serve_workers.adopt(published.served)
    return published


@pytest.fixture(scope="module")
def cached(request, serve_workers: ServeWorkers) -> Published:
    return published_cluster("cached", request, serve_workers, "--cache")


@pytest.fixture(scope="module")
def uncached(request, serve_workers: ServeWorkers) -> Published:
    return published_cluster("uncached", request, serve_workers, "--no-cache")


def test_rendered_config_passes_nginx_test(project: Project, tmp_path: Path):
    for cache in (True, False):
        run_dir = tmp_path / ("cache" if cache else "no-cache")
        cluster = Cluster(project, 3, "127.0.0.1", free_port(), run_dir, cache=cache)
        for folder in ("logs", "tmp", "cache"):
            (run_dir / folder).mkdir(parents=True)
        config = cluster.nginx_config()
        assert "{{" not in config
        assert config.count("server unix:") == 3
        assert f"proxy_cache {'kechuang' if cache else 'off'};" in config
        (run_dir / "nginx.conf").write_text(config, encoding="utf-8")
        done = subprocess.run(
            [find_nginx(), "-t", "-e", str(run_dir / "logs/error.log"), "-p", str(run_dir), "-c", "nginx.conf"],
            capture_output=True,
            text=True,
            check=False,
        )
        assert done.returncode == 0, done.stderr


def test_template_placeholders_must_all_be_given():
    assert render_template("listen {{ listen }};", {"listen": "127.0.0.1:80"}) == "listen 127.0.0.1:80;"
    with pytest.raises(KeyError, match="listen"):
        render_template("listen {{ listen }};", {})


def test_proxy_balances_caches_and_compresses(cached: Published):
    served = cached.served
    with httpx.Client(base_url=served.url, timeout=30) as client:
        first = client.get("/-/release.json")
        second = client.get("/-/release.json")
        assert first.status_code == second.status_code == 200
        assert (first.headers["x-cache-status"], second.headers["x-cache-status"]) == ("MISS", "HIT")
        assert second.headers["etag"] == first.headers["etag"]
        assert second.headers["x-data-release"] == first.json()["version"]
        # The cache answers a conditional request from the stored ETag.
        revalidated = client.get("/-/release.json", headers={"If-None-Match": first.headers["etag"]})
        assert revalidated.status_code == 304
        # Datasette's own pages say max-age=5: cached too, for that long.
        client.get("/kechuang/units.json")
        assert client.get("/kechuang/units.json").headers["x-cache-status"] == "HIT"
        # Errors are not kept.
        for _ in range(2):
            missing = client.get("/kechuang/no_such_table.json")
            assert missing.status_code == 404
            assert missing.headers.get("x-cache-status") != "HIT"
        compressed = client.get("/kechuang/units.json?_shape=array", headers={"Accept-Encoding": "gzip"})
        assert compressed.headers["content-encoding"] == "gzip"
        assert compressed.json()  # httpx decompressed it
    # Two workers share the socket nginx sends to (the kernel hands each connection to one of them); nginx's
    # log names that socket (the log is flushed every 2 s, so it is read until it is there).
    state = served.state()
    assert len(state["workers"]) == 2
    access_log = served.run_dir / "logs" / "access.log"
    deadline = time.monotonic() + 30
    log = ""
    while time.monotonic() < deadline and f"uaddr=unix:{state['server']['socket']} " not in log:
        time.sleep(0.2)
        log = access_log.read_text(encoding="utf-8") if access_log.exists() else ""
    assert f"uaddr=unix:{state['server']['socket']} " in log, log[-2000:]


def worker_pids(state: dict) -> list[int]:
    return [worker["pid"] for worker in state["workers"]]


@pytest.mark.slow
def test_requests_keep_succeeding_while_workers_die_one_by_one(uncached: Published):
    served = uncached.served
    with Load(served.url, PATHS) as load:
        load.wait_for_answers(50)
        for victim in worker_pids(served.state()):  # the workers it started with, one after the other
            os.kill(victim, signal.SIGKILL)
            load.wait_for_answers(100)  # answered by the surviving worker while this one is down
            served.wait_for(lambda state, v=victim: len(state["workers"]) == 2 and v not in worker_pids(state))
            load.wait_for_answers(50)
    assert not load.errors, load.errors
    assert load.count() >= 300


@pytest.mark.slow
@pytest.mark.parametrize("cluster", ["cached", "uncached"])
def test_publishing_a_release_while_serving_fails_no_request(request, project: Project, cluster: str):
    published: Published = request.getfixturevalue(cluster)
    served, dist, second = published.served, published.dist, published.second
    assert served.state()["release"]["version"] == "2026.11.0"
    term = "/kechuang/glossary/zz-swap-term.json?_shape=objects"
    with Load(served.url, [*PATHS, term]) as load:
        load.wait_for_answers(100)
        done = subprocess.run(
            [sys.executable, "-m", "kechuang.cli", "release", "--datasets", str(second), "--version", "2026.11.1"],
            cwd=project.root,
            capture_output=True,
            text=True,
            check=False,
            env={**os.environ, "KECHUANG_DIST": str(dist)},
        )
        switched_at = time.monotonic()
        load.wait_for_answers(100)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "The running portal now serves 2026.11.1." in done.stdout
    assert not load.errors, load.errors
    releases = [(sent, release) for sent, path, _status, release in load.answers if path == "/-/release.json"]
    assert {release for sent, release in releases if sent < switched_at} >= {"2026.11.0"}
    assert {release for sent, release in releases if sent > switched_at} == {"2026.11.1"}
    with httpx.Client(base_url=served.url) as client:
        assert client.get(term).json()["rows"][0]["term_en"] == "Open-competition mechanism"
    assert served.state()["db"] == str(dist / "releases" / "2026.11.1" / "kechuang.db")


def test_a_failed_switch_keeps_serving_the_old_release(project: Project, built_db: Path, tmp_path: Path):
    """A file the workers cannot serve is refused; the running workers are untouched."""
    cluster = Cluster(project, 1, "127.0.0.1", free_port(), tmp_path / "run", cache=False, log=lambda _m: None)
    cluster.start(built_db)
    try:
        before = cluster.workers()
        broken = tmp_path / "broken.db"
        broken.write_bytes(b"not a database")
        assert cluster.switch(broken) is False
        assert cluster.workers() == before
        assert cluster.current.resolve() == built_db.resolve()
        assert httpx.get(cluster.url + "/kechuang.json", timeout=10).status_code == 200
    finally:
        cluster.stop()


def test_cluster_needs_a_worker(project: Project, tmp_path: Path):
    with pytest.raises(ValueError, match="at least one worker"):
        Cluster(project, 0, "127.0.0.1", 1, tmp_path)
