"""Ids are published contracts: an id of the last release that is gone fails validation unless listed as withdrawn."""

from __future__ import annotations

import dataclasses
import shutil
from pathlib import Path

import pytest

from conftest import add_table_rows, read_table, write_table
from kechuang.project import Project
from kechuang.release.publish import write_release
from kechuang.validate.datasets import validate_datasets

TERM = {"id": "zz-stability-term", "term_zh": "稳定性测试术语", "term_en": "Stability test term"}
RELEASED = "2026.11.0"


@pytest.fixture(scope="module")
def released(project: Project, sample, tmp_path_factory: pytest.TempPathFactory) -> Project:
    """A project whose last release holds the test sample plus one glossary term."""
    base = tmp_path_factory.mktemp("stability")
    datasets = base / "datasets"
    shutil.copytree(sample.datasets, datasets)
    add_table_rows(datasets, "glossary", TERM)
    published = dataclasses.replace(project, datasets=datasets, dist_dir=base / "dist")
    write_release(published, RELEASED)
    return published


@pytest.fixture
def edited(released: Project, tmp_path: Path) -> Project:
    """A private copy of the released datasets, same releases folder, for a test to edit."""
    datasets = tmp_path / "datasets"
    shutil.copytree(released.datasets, datasets)
    return dataclasses.replace(released, datasets=datasets)


def drop_row(datasets: Path, table: str, id_: str) -> None:
    header, rows = read_table(datasets / f"{table}.csv")
    write_table(datasets / f"{table}.csv", header, [r for r in rows if r["id"] != id_])


def rename_row(datasets: Path, table: str, id_: str, new_id: str) -> None:
    header, rows = read_table(datasets / f"{table}.csv")
    write_table(datasets / f"{table}.csv", header, [{**r, "id": new_id} if r["id"] == id_ else r for r in rows])


def withdraw(datasets: Path, table: str, id_: str) -> None:
    add_table_rows(
        datasets,
        "withdrawn",
        {
            "table": table,
            "id": id_,
            "withdrawn_in": "2026.11.1",
            "reason_zh": "误录。",
            "reason_en": "Entered in error.",
        },
    )


def messages(project: Project) -> list[str]:
    return [str(p) for p in validate_datasets(project)]


def test_unchanged_datasets_pass(released: Project):
    assert messages(released) == []


@pytest.mark.parametrize("edit", ["removed", "renamed"])
def test_a_published_id_that_is_gone_is_an_error(edited: Project, edit: str):
    if edit == "removed":
        drop_row(edited.datasets, "glossary", TERM["id"])
    else:
        rename_row(edited.datasets, "glossary", TERM["id"], "zz-stability-term-renamed")
    found = messages(edited)
    assert len(found) == 1, found
    assert found[0].startswith(f"{edited.display(edited.datasets / 'glossary.csv')} id: ")
    assert f'"{TERM["id"]}" was published in release {RELEASED} and is gone' in found[0]
    assert "withdrawn.csv" in found[0]


def test_a_withdrawn_id_may_go(edited: Project):
    drop_row(edited.datasets, "glossary", TERM["id"])
    withdraw(edited.datasets, "glossary", TERM["id"])
    assert messages(edited) == []


def test_a_withdrawn_id_that_is_still_there_is_an_error(edited: Project):
    withdraw(edited.datasets, "glossary", TERM["id"])
    found = messages(edited)
    assert len(found) == 1, found
    line = _last_line(edited.datasets / "withdrawn.csv")
    assert found[0].startswith(f"{edited.display(edited.datasets / 'withdrawn.csv')}:{line} id: ")
    assert "is listed as withdrawn but is still in" in found[0]


def test_withdrawn_names_a_real_table(edited: Project):
    withdraw(edited.datasets, "glosary", TERM["id"])
    found = messages(edited)
    line = _last_line(edited.datasets / "withdrawn.csv")
    assert any(f':{line} table: "glosary" is not a table' in m for m in found), found


def _last_line(path: Path) -> int:
    """The line number of a CSV's last row (the one a test just appended), the header being line 1."""
    return len(path.read_text(encoding="utf-8").splitlines())


def test_before_the_first_release_ids_may_change(project: Project, sample, tmp_path: Path):
    datasets = tmp_path / "datasets"
    shutil.copytree(sample.datasets, datasets)
    unreleased = dataclasses.replace(project, datasets=datasets, dist_dir=tmp_path / "dist")
    add_table_rows(datasets, "glossary", TERM)
    assert messages(unreleased) == []
    drop_row(datasets, "glossary", TERM["id"])
    assert messages(unreleased) == []
