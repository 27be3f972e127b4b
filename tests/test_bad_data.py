"""Bad data never reaches users.

Every kind of broken input a maintainer can produce, applied to a copy of the test sample (the real
policies and sources, a few rows in every other table; fixture `sample`) and generated from the
schemas (every key, foreign key, bounded number, verbatim field and English field), is rejected by
`kechuang validate` with a located message. Then, end to end: a broken dataset fed to `kechuang
build` (and to `kechuang serve`, and `kechuang release` behind nginx) is not published, and the
database being served keeps being served unchanged.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest
from click.testing import CliRunner

from conftest import free_port, read_table, serve_in_process, wait_until_up, write_table
from kechuang.cli import cli
from kechuang.model.schema import load_schemas
from kechuang.pipeline import build_database
from kechuang.project import Project

SCHEMAS = {n: s for n, s in load_schemas(Project.locate().schemas).items() if s.curated}  # built tables have no CSV


def set_cell(
    datasets: Path, table: str, column: str, value: Callable[[str], str], want_value: bool = False
) -> int | None:
    """Change one cell (of the first row that has a value there, if `want_value`); return its line,
    or None when the table has no such row yet (e.g. no id has been withdrawn)."""
    path = datasets / f"{table}.csv"
    header, rows = read_table(path)
    index = next((i for i, r in enumerate(rows) if r[column] or not want_value), None)
    if index is None:
        return None
    rows[index][column] = value(rows[index][column])
    write_table(path, header, rows)
    return index + 2


def validate(datasets: Path) -> list[str]:
    result = CliRunner().invoke(cli, ["validate", "--datasets", str(datasets)])
    assert result.exit_code == 1, result.output
    return result.output.splitlines()


def reported(lines: list[str], datasets: Path, table: str, line: int, field: str, why: str) -> bool:
    where = f"{datasets}/{table}.csv:{line} {field}: " if field else f"{datasets}/{table}.csv:{line}: "
    return any(out.startswith(where) and why in out for out in lines)


KEYED = [name for name, s in SCHEMAS.items() if s.primary_key]
FOREIGN_KEYS = [(name, fk.fields[0], fk.table) for name, s in SCHEMAS.items() for fk in s.foreign_keys]
BOUNDED = [
    (name, f.name, bound, kind)
    for name, s in SCHEMAS.items()
    for f in s.fields
    for bound, kind in ((f.minimum, "below the minimum"), (f.maximum, "above the maximum"))
    if bound is not None
]
VERBATIM = [(name, f.name) for name, s in SCHEMAS.items() for f in s.fields if f.verbatim]
ENGLISH = [(name, f.name) for name, s in SCHEMAS.items() for f in s.fields if f.is_english]

# Each kind of break is applied to every place the schemas allow it, all in one copy of the
# datasets (validation reports every problem), and each must be reported where it was made.


def assert_all_reported(datasets: Path, expected: list[tuple[str, int, str, str]]) -> None:
    assert expected, "nothing was broken: the test would prove nothing"
    lines = validate(datasets)
    missing = [e for e in expected if not reported(lines, datasets, *e)]
    assert not missing, f"not reported: {missing}\nreported: {lines[:30]}"


def test_duplicate_key_anywhere_in_a_table_is_reported(sample_copy):
    expected = []
    for table in KEYED:
        path = sample_copy / f"{table}.csv"
        header, rows = read_table(path)
        if rows:
            write_table(path, header, [*rows, dict(rows[0])])
            key = ", ".join(SCHEMAS[table].primary_key)
            expected.append((table, len(rows) + 2, key, "is duplicated (also on line"))
    assert len(expected) >= len(KEYED) // 2
    assert_all_reported(sample_copy, expected)


def test_dangling_reference_is_reported(sample_copy):
    expected = []
    for table, column, target in FOREIGN_KEYS:
        line = set_cell(sample_copy, table, column, lambda _: "no-such-record")
        if line is not None:
            expected.append((table, line, column, f'"no-such-record" is not an id in {target}'))
    assert_all_reported(sample_copy, expected)


@pytest.mark.parametrize("side", ["below the minimum", "above the maximum"])
def test_out_of_range_number_is_reported(sample_copy, side):
    expected = []
    for table, column, bound, why in BOUNDED:
        if why != side:
            continue
        step = -1 if why.startswith("below") else 1
        outside = str(int(bound) + step) if float(bound).is_integer() else str(bound + step)
        line = set_cell(sample_copy, table, column, lambda _, outside=outside: outside)
        if line is not None:
            expected.append((table, line, column, f'"{outside}" is {why}'))
    assert_all_reported(sample_copy, expected)


def test_text_not_in_the_source_is_reported(sample_copy):
    expected = []
    for table, column in VERBATIM:
        line = set_cell(sample_copy, table, column, lambda text: text[:4] + "※" + text[4:], want_value=True)
        if line is not None:
            expected.append((table, line, column, "is not verbatim in sources/"))
    assert_all_reported(sample_copy, expected)


def test_chinese_left_in_an_english_field_is_reported(sample_copy):
    expected = []
    for table, column in ENGLISH:
        line = set_cell(sample_copy, table, column, lambda text: f"{text} 待译".strip(), want_value=True)
        if line is not None:
            expected.append((table, line, column, 'contains Chinese characters: "待译"'))
    assert_all_reported(sample_copy, expected)


def reencode(encoding: str) -> Callable[[Path], None]:
    def breaker(path: Path) -> None:
        path.write_bytes(path.read_text(encoding="utf-8").encode(encoding, errors="replace"))

    return breaker


def fewer_cells(path: Path) -> None:
    lines = path.read_text(encoding="utf-8").splitlines()
    lines[1] = lines[1].rsplit(",", 1)[0]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def unquoted_comma(path: Path) -> None:
    header, rows = read_table(path)
    rows[0]["name_en"] += ", Hubei"
    text = ",".join(header) + "\n" + "\n".join(",".join(r[h] for h in header) for r in rows) + "\n"
    path.write_text(text, encoding="utf-8")


FILE_BREAKERS: list[tuple[str, Callable[[Path], None], int, str]] = [
    ("gbk", reencode("gbk"), 2, "is not UTF-8"),
    ("gb18030", reencode("gb18030"), 2, "is not UTF-8"),
    ("big5", reencode("big5"), 2, "is not UTF-8"),
    ("utf-16", reencode("utf-16"), 1, "is not UTF-8"),
    ("bom", reencode("utf-8-sig"), 1, "starts with a UTF-8 byte-order mark"),
    ("fewer cells", fewer_cells, 2, "(ragged row)"),
    ("unquoted comma", unquoted_comma, 2, "more than the header (ragged row)"),
    ("empty file", lambda path: path.write_bytes(b""), 0, "is empty"),
]


@pytest.mark.parametrize(("case", "breaker", "line", "why"), FILE_BREAKERS, ids=[c[0] for c in FILE_BREAKERS])
def test_broken_file_is_reported_where_it_breaks(sample_copy, case, breaker, line, why):
    breaker(sample_copy / "agencies.csv")
    lines = validate(sample_copy)
    where = f"{sample_copy}/agencies.csv:{line}" if line else f"{sample_copy}/agencies.csv:"
    assert any(out.startswith(where) and why in out for out in lines), lines[:20]


@pytest.mark.parametrize(
    ("case", "encoding", "why"), [("gbk", "gbk", "is not UTF-8 text"), ("bom", "utf-8-sig", "byte-order mark")]
)
def test_broken_source_text_is_reported(sample_copy, case, encoding, why):
    _header, rows = read_table(sample_copy / "policies.csv")
    source = sample_copy / rows[0]["source_file"]
    source.write_bytes(source.read_text(encoding="utf-8").encode(encoding))
    lines = validate(sample_copy)
    assert reported(lines, sample_copy, "policies", 2, "source_file", why), lines[:20]


# --- end to end: nothing broken is published ---------------------------------------------------


def duplicate_first_target(datasets: Path) -> None:
    header, rows = read_table(datasets / "targets.csv")
    write_table(datasets / "targets.csv", header, [*rows, rows[0]])


def dangling_target_indicator(datasets: Path) -> None:
    set_cell(datasets, "targets", "indicator_id", lambda _: "no-such-indicator")


def year_out_of_range(datasets: Path) -> None:
    set_cell(datasets, "targets", "deadline_year", lambda _: "2099")


def quote_not_in_source(datasets: Path) -> None:
    set_cell(datasets, "targets", "quote_zh", lambda text: "据悉" + text)


def chinese_in_english(datasets: Path) -> None:
    set_cell(datasets, "targets", "name_en", lambda text: text + " 目标")


PUBLISH_BREAKERS: list[tuple[str, Callable[[Path], None]]] = [
    ("gbk", lambda d: reencode("gbk")(d / "agencies.csv")),
    ("bom", lambda d: reencode("utf-8-sig")(d / "targets.csv")),
    ("ragged row", lambda d: fewer_cells(d / "measures.csv")),
    ("duplicate id", duplicate_first_target),
    ("dangling reference", dangling_target_indicator),
    ("year out of range", year_out_of_range),
    ("quote not in the source", quote_not_in_source),
    ("chinese in english", chinese_in_english),
]


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def served_state(client: httpx.Client) -> dict:
    """What visitors see: the build stamp and a digest of every row of targets."""
    built = client.get(
        "/kechuang.json", params={"sql": "select value from _meta where key = 'built_at'", "_shape": "array"}
    ).json()
    rows = client.get("/kechuang/targets.json", params={"_shape": "array", "_size": "max"}).json()
    return {"built_at": built, "targets": hashlib.sha256(repr(rows).encode()).hexdigest(), "count": len(rows)}


@pytest.fixture(scope="module")
def published(sample, tmp_path_factory):
    """A built database (the test sample's) that the portal is serving."""
    db = tmp_path_factory.mktemp("published") / "kechuang.db"
    shutil.copy(sample.db, db)
    return serve_in_process(db)


@pytest.mark.slow
@pytest.mark.parametrize(("case", "breaker"), PUBLISH_BREAKERS, ids=[c[0] for c in PUBLISH_BREAKERS])
def test_broken_dataset_is_not_published(published, sample_copy, case, breaker):
    before_file, before_served = sha256(published.db), served_state(published.client)
    assert before_served["count"] > 0
    breaker(sample_copy)
    done = CliRunner().invoke(cli, ["build", "--datasets", str(sample_copy), "--out", str(published.db)])
    assert done.exit_code == 1, done.output
    assert "Build aborted; the previous database is untouched." in done.stderr
    assert f"{sample_copy}/" in done.stdout
    assert sha256(published.db) == before_file
    assert served_state(published.client) == before_served
    assert sorted(p.name for p in published.db.parent.iterdir()) == ["kechuang.db"]


@pytest.mark.slow
def test_serve_with_broken_datasets_keeps_serving_the_last_good_database(project, sample, tmp_path):
    """`kechuang serve` rebuilds stale data; when the new data is broken it serves the last good build."""
    root = tmp_path / "project"
    shutil.copytree(sample.datasets, root / "datasets")
    for name in ("schemas", "plugins", "site"):
        shutil.copytree(project.root / name, root / name)
    shutil.copy(project.root / "metadata.yml", root / "metadata.yml")
    good = build_database(_project(root), root / "dist" / "kechuang.db")
    chinese_in_english(root / "datasets")
    an_hour_ago = time.time() - 3600
    os.utime(good.path, (an_hour_ago, an_hour_ago))  # older than the broken datasets: `serve` must rebuild
    before = sha256(good.path)
    port = free_port()
    log = tmp_path / "serve.log"
    with log.open("w") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "kechuang.cli", "serve", "--port", str(port)],
            cwd=root,
            stdout=out,
            stderr=subprocess.STDOUT,
            env={**os.environ, "KECHUANG_ROOT": str(root), "KECHUANG_DIST": str(root / "dist")},
        )
    try:
        wait_until_up(f"http://127.0.0.1:{port}/-/versions.json", process, log=log)
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=30) as client:
            state = served_state(client)
        assert state["count"] > 0
        assert "The datasets are invalid; serving the previous database." in log.read_text()
        assert "contains Chinese characters" in log.read_text()
        assert sha256(good.path) == before
    finally:
        process.terminate()
        process.wait(10)


def _project(root: Path) -> Project:
    return Project(root=root, datasets=root / "datasets", schemas=root / "schemas")


# --- end to end through the real serving path: nginx, workers, `kechuang release` ------------------


def rename_first_target(datasets: Path) -> None:
    """An id that was published, renamed: the old id is gone (ids are published contracts)."""
    header, rows = read_table(datasets / "targets.csv")
    rows[0]["id"] = rows[0]["id"] + "-renamed"
    write_table(datasets / "targets.csv", header, rows)


RELEASE_BREAKERS: list[tuple[str, Callable[[Path], None]]] = [
    ("renamed id", rename_first_target),
    ("gbk", lambda d: reencode("gbk")(d / "agencies.csv")),
    ("quote not in the source", quote_not_in_source),
    ("duplicate id", duplicate_first_target),
]


@pytest.mark.slow
@pytest.mark.nginx
def test_a_broken_release_is_not_published_and_the_served_one_stays(sample, served_release, tmp_path):
    """`kechuang serve --workers 2` serves the last release; `kechuang release` with each kind of broken
    data fails, publishes nothing, and every visitor keeps getting the same release and the same data."""
    dist, url, released = served_release.dist, served_release.url, served_release.version
    client = httpx.Client(base_url=url, timeout=30)
    assert client.get("/-/release.json").json()["version"] == released
    before = served_state(client)
    for case, breaker in RELEASE_BREAKERS:
        datasets = tmp_path / case.replace(" ", "-") / "datasets"
        shutil.copytree(sample.datasets, datasets)
        breaker(datasets)
        done = CliRunner().invoke(cli, ["release", "--datasets", str(datasets)], env={"KECHUANG_DIST": str(dist)})
        assert done.exit_code != 0, (case, done.output[-3000:])
        assert f"{datasets}/" in done.output, case
        assert sorted(p.name for p in (dist / "releases").iterdir() if not p.name.startswith(".")) == sorted(
            [released, "index.json", "latest"]
        ), case
        assert client.get("/-/release.json").json()["version"] == released, case
        assert served_state(client) == before, case
    renamed = tmp_path / "renamed-id" / "datasets"
    validated = CliRunner().invoke(cli, ["validate", "--datasets", str(renamed)], env={"KECHUANG_DIST": str(dist)})
    assert "was published in release" in validated.output
