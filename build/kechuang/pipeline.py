"""The build: validate → compile → index, into one SQLite database.

The database is written to a temporary file beside the target and renamed into place only when
every step succeeded, so a failed build never replaces the last good database.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from kechuang.compile.tables import compile_tables
from kechuang.index.database import index_database
from kechuang.project import Project
from kechuang.validate.datasets import validate_datasets
from kechuang.validate.problems import ValidationFailed
from kechuang.validate.tables import bulk_reading


@dataclass
class BuildResult:
    path: Path
    counts: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0
    stages: dict[str, float] = field(default_factory=dict)  # validate, compile, index: seconds each


def build_database(project: Project, out: Path, release: dict[str, str] | None = None) -> BuildResult:
    """Validate, compile to a temporary file, then atomically replace `out`; times each stage.

    For large datasets (PARALLEL_FROM_ROWS data rows on) compiling starts in a second process while
    this one validates, on another core; invalid data stops it and its file is deleted, so the
    outcome is the same as compiling after validating, only sooner.
    """
    started = time.perf_counter()
    out = out.resolve()
    out.parent.mkdir(parents=True, exist_ok=True)
    temporary = out.with_name(f".{out.name}.{os.getpid()}.tmp")
    temporary.unlink(missing_ok=True)
    try:
        if _data_rows_at_least(project, PARALLEL_FROM_ROWS) and (os.cpu_count() or 1) > 1:
            counts, stages = _validate_while_compiling(project, temporary, release)
        else:
            with bulk_reading():  # the compile stage reuses the tables validation parsed
                counts, stages = _validate_then_compile(project, temporary, release)
        os.replace(temporary, out)
    finally:
        temporary.unlink(missing_ok=True)
    return BuildResult(path=out, counts=counts, seconds=time.perf_counter() - started, stages=stages)


PARALLEL_FROM_ROWS = 50_000
Timed = tuple[dict[str, int], dict[str, float]]


def _data_rows_at_least(project: Project, enough: int) -> bool:
    lines = 0
    for path in project.datasets.glob("*.csv"):
        with path.open("rb") as f:
            for block in iter(lambda f=f: f.read(1 << 16), b""):
                lines += block.count(b"\n")
                if lines >= enough:
                    return True
    return False


def _validate(project: Project) -> float:
    mark = time.perf_counter()
    problems = validate_datasets(project)
    if problems:
        raise ValidationFailed(problems)
    return time.perf_counter() - mark


def _compile_and_index(project: Project, path: Path, release: dict[str, str] | None) -> Timed:
    mark = time.perf_counter()
    counts = compile_tables(project, path, release)
    stages = {"compile": time.perf_counter() - mark}
    mark = time.perf_counter()
    index_database(project, path)
    stages["index"] = time.perf_counter() - mark
    return counts, stages


def _validate_then_compile(project: Project, path: Path, release: dict[str, str] | None) -> Timed:
    validated = _validate(project)
    counts, stages = _compile_and_index(project, path, release)
    return counts, {"validate": validated, **stages}


def _validate_while_compiling(project: Project, path: Path, release: dict[str, str] | None) -> Timed:
    """Compile in a child process (`python -m kechuang.pipeline`) while this one validates."""
    job = {
        "root": str(project.root),
        "datasets": str(project.datasets),
        "schemas": str(project.schemas),
        "path": str(path),
        "release": release,
    }
    child = subprocess.Popen(
        [sys.executable, "-m", "kechuang.pipeline", json.dumps(job)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        validated = _validate(project)
        output, errors = child.communicate()
    except BaseException:
        child.kill()  # invalid data (or an interruption): the speculative compile is thrown away
        child.communicate()
        raise
    if child.returncode != 0:
        raise RuntimeError(f"compiling {path.name} failed: {errors.strip()[-2000:]}")
    result = json.loads(output)
    return result["counts"], {"validate": validated, **result["stages"]}


def _compile_job(job: dict) -> None:
    """The child's side of `_validate_while_compiling`: compile and index, print counts and stage times."""
    project = Project(root=Path(job["root"]), datasets=Path(job["datasets"]), schemas=Path(job["schemas"]))
    with bulk_reading():
        counts, stages = _compile_and_index(project, Path(job["path"]), job["release"])
    print(json.dumps({"counts": counts, "stages": stages}))


if __name__ == "__main__":
    _compile_job(json.loads(sys.argv[1]))
