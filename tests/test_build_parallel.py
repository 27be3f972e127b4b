"""Large builds compile in a second process while validating: same database, and invalid data still publishes nothing."""

from __future__ import annotations

import hashlib
import sqlite3
from pathlib import Path

import pytest

import kechuang.pipeline as compile_module
from kechuang.pipeline import build_database
from kechuang.project import Project
from kechuang.validate.problems import ValidationFailed


def table_digests(db: Path) -> dict[str, str]:
    """Every table's rows, in primary-key order, hashed; `_meta` left out (it holds the build time)."""
    conn = sqlite3.connect(db)
    names = [r[0] for r in conn.execute("select name from sqlite_master where type = 'table' and name != '_meta'")]
    digests = {}
    for name in names:
        rows = conn.execute(f"select * from [{name}] order by 1, 2").fetchall()
        digests[name] = hashlib.sha256(repr(rows).encode()).hexdigest()
    conn.close()
    return digests


@pytest.fixture
def parallel(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(compile_module, "PARALLEL_FROM_ROWS", 0)


def test_parallel_build_writes_the_same_database(parallel, sample, tmp_path: Path):
    """The test sample built in two processes is the sample built in one (fixture `sample`)."""
    result = build_database(sample.project, tmp_path / "kechuang.db")
    assert set(result.stages) == {"validate", "compile", "index"}
    assert table_digests(result.path) == table_digests(sample.db)


def test_parallel_build_of_invalid_data_publishes_nothing(parallel, project: Project, sample_copy: Path, tmp_path):
    out = tmp_path / "out" / "kechuang.db"
    with (sample_copy / "jurisdictions.csv").open("a", encoding="utf-8") as f:
        f.write("Broken Id,破,Broken,city,\n")
    broken = Project(root=project.root, datasets=sample_copy, schemas=project.schemas, dist_dir=project.dist)
    with pytest.raises(ValidationFailed):
        build_database(broken, out)
    assert list(out.parent.iterdir()) == []
