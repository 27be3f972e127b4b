"""`kechuang serve --workers N` as the tests run it: started in the background, awaited, stopped cleanly.

Used by tests/test_cluster.py and by conftest.py, which starts the clusters the selected tests will need
as soon as the test sample they serve is built (fixture `early_boot`), so they boot while other tests run.
"""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

from conftest import add_table_rows, free_port
from kechuang.project import Project
from kechuang.release.publish import write_release


@dataclasses.dataclass
class Served:
    """A `kechuang serve --workers N` process and where it keeps its state."""

    process: subprocess.Popen
    run_dir: Path
    url: str

    def state(self) -> dict:
        return json.loads((self.run_dir / "state.json").read_text(encoding="utf-8"))

    def wait_for(self, condition: Callable[[dict], bool], timeout: float = 90) -> dict:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            assert self.process.poll() is None, f"the supervisor exited with {self.process.returncode}"
            try:
                state = self.state()
            except (OSError, ValueError):
                state = None
            if state and condition(state):
                return state
            time.sleep(0.1)
        raise TimeoutError("the supervisor did not reach the expected state")

    def wait_until_serving(self) -> None:
        self.wait_for(lambda state: bool(state.get("workers")))

    def stop(self) -> None:
        """SIGTERM; the supervisor must stop cleanly and remove its state file."""
        self.process.send_signal(signal.SIGTERM)
        try:
            assert self.process.wait(60) == 0, "the supervisor did not stop cleanly"
        finally:
            if self.process.poll() is None:
                self.process.kill()
        assert not (self.run_dir / "state.json").exists()


def start_serving(project: Project, dist: Path, *args: str) -> Served:
    """The real command in the background, with its outputs in `dist`; returns at once."""
    port = free_port()
    dist.mkdir(parents=True, exist_ok=True)
    log = (dist / "serve.log").open("ab")
    process = subprocess.Popen(
        [sys.executable, "-m", "kechuang.cli", "serve", "--port", str(port), *args],
        cwd=project.root,
        stdout=log,
        stderr=log,
        env={**os.environ, "KECHUANG_DIST": str(dist)},
    )
    return Served(process, dist / "run", f"http://127.0.0.1:{port}")


def edited_datasets(source: Path, target: Path, term_en: str) -> Path:
    shutil.copytree(source, target)
    add_table_rows(target, "glossary", {"id": "zz-swap-term", "term_zh": "切换测试术语", "term_en": term_en})
    return target


@dataclasses.dataclass
class Published:
    """`kechuang serve --workers 2` serving release 2026.11.0 of the edited sample; `second` is the edit that
    becomes 2026.11.1."""

    served: Served
    dist: Path
    second: Path


def publish_and_start(project: Project, sample_datasets: Path, folder: Path, cache: str) -> Published:
    """Releases of the test sample (small: the release's build, package and switch are what is tested)."""
    dist = folder / "dist"
    first = edited_datasets(sample_datasets, folder / "first", "Open competition mechanism")
    write_release(dataclasses.replace(project, datasets=first, dist_dir=dist), "2026.11.0")
    second = edited_datasets(sample_datasets, folder / "second", "Open-competition mechanism")
    return Published(start_serving(project, dist, "--workers", "2", cache), dist, second)
