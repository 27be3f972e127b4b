"""`kechuang release`: two releases from the edited test sample, their changelog, the Data Package and the versions."""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt
import json
import os
import shutil
import sqlite3
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
import sqlite_utils
from click.testing import CliRunner, Result
from datasette.app import Datasette

from conftest import add_table_rows, read_table, serve_in_process
from kechuang.cli import cli
from kechuang.model.schema import load_schemas
from kechuang.model.versions import Version, check_new_version, next_version, published_versions
from kechuang.project import Project
from kechuang.serve.http import data_release

FIRST, SECOND = "2026.11.0", "2026.11.1"
KEPT = {"id": "zz-release-test-kept", "term_zh": "发布测试术语甲", "term_en": "Release test term A"}
GONE = {"id": "zz-release-test-gone", "term_zh": "发布测试术语乙", "term_en": "Release test term B"}
NEW = {"id": "zz-release-test-new", "term_zh": "发布测试术语丙", "term_en": "Release test term C"}
RENAMED_EN = "Release test term A (revised)"
WITHDRAWAL = {
    "table": "glossary",
    "id": GONE["id"],
    "withdrawn_in": SECOND,
    "reason_zh": "与另一术语重复。",
    "reason_en": "Duplicate of another term.",
}


def release(datasets: Path, dist: Path, *args: str) -> subprocess.CompletedProcess:
    """The real command line, with its outputs in `dist`."""
    return subprocess.run(
        [sys.executable, "-m", "kechuang.cli", "release", "--datasets", str(datasets), *args],
        capture_output=True,
        text=True,
        check=False,
        env={**os.environ, "KECHUANG_DIST": str(dist)},
    )


def release_in_process(datasets: Path, dist: Path, *args: str):
    """The same command through click's runner: for the refusals, which stop before anything is written."""
    return CliRunner().invoke(cli, ["release", "--datasets", str(datasets), *args], env={"KECHUANG_DIST": str(dist)})


def typed(row: dict[str, str], header: list[str]) -> dict[str, str | None]:
    """A glossary or withdrawn row as the changelog reports it: every column, empty cells as null."""
    return {name: row.get(name) or None for name in header}


@dataclasses.dataclass
class TwoReleases:
    dist: Path
    first: Result
    second: subprocess.CompletedProcess
    glossary_header: list[str]
    withdrawn_header: list[str]

    @property
    def folder(self) -> Path:
        return self.dist / "releases" / SECOND


@pytest.fixture(scope="module")
def two_releases(sample, tmp_path_factory: pytest.TempPathFactory) -> TwoReleases:
    """Release 1: the test sample plus two glossary terms. Release 2: one term's English changed, the other
    removed (and listed as withdrawn), a third added. Both by the command line; the second in its own
    process, as a maintainer runs it."""
    base = tmp_path_factory.mktemp("releases")
    dist = base / "dist"
    first = base / "first"
    shutil.copytree(sample.datasets, first)
    add_table_rows(first, "glossary", KEPT, GONE)
    second = base / "second"
    shutil.copytree(sample.datasets, second)
    add_table_rows(second, "glossary", {**KEPT, "term_en": RENAMED_EN}, NEW)
    add_table_rows(second, "withdrawn", WITHDRAWAL)
    done_first = release_in_process(first, dist, "--version", FIRST)
    assert done_first.exit_code == 0, done_first.output
    done_second = release(second, dist, "--version", SECOND)
    assert done_second.returncode == 0, done_second.stdout + done_second.stderr
    return TwoReleases(
        dist,
        done_first,
        done_second,
        read_table(second / "glossary.csv")[0],
        read_table(second / "withdrawn.csv")[0],
    )


def test_changes_json_lists_exactly_the_edits(two_releases: TwoReleases, project: Project):
    changes = json.loads((two_releases.folder / "changes.json").read_text(encoding="utf-8"))
    expected = {
        name: {
            "primary_key": list(schema.primary_key),
            "columns_added": [],
            "columns_removed": [],
            "added": [],
            "removed": [],
            "changed": [],
        }
        for name, schema in load_schemas(project.schemas).items()
    }
    glossary, withdrawn = two_releases.glossary_header, two_releases.withdrawn_header
    expected["glossary"]["added"] = [{"key": {"id": NEW["id"]}, "record": typed(NEW, glossary)}]
    expected["glossary"]["removed"] = [
        {
            "key": {"id": GONE["id"]},
            "record": typed(GONE, glossary),
            "withdrawn": {k: WITHDRAWAL[k] for k in ("withdrawn_in", "reason_zh", "reason_en")},
        }
    ]
    expected["glossary"]["changed"] = [
        {"key": {"id": KEPT["id"]}, "fields": {"term_en": {"old": KEPT["term_en"], "new": RENAMED_EN}}}
    ]
    expected["withdrawn"]["added"] = [
        {"key": {"table": "glossary", "id": GONE["id"]}, "record": typed(WITHDRAWAL, withdrawn)}
    ]
    assert changes["tables"] == expected
    assert changes["summary"] == {"added": 2, "removed": 1, "changed": 1}
    assert changes["release"]["version"] == SECOND
    assert changes["previous"]["version"] == FIRST


def test_changelog_md_names_every_edit_for_people(two_releases: TwoReleases):
    text = (two_releases.folder / "CHANGELOG.md").read_text(encoding="utf-8")
    assert text.startswith(f"# Kechuang data release {SECOND}")
    assert f"compared with release {FIRST}" in text
    glossary = text[text.index("## `glossary`") : text.index("## `withdrawn`")]
    added = glossary[glossary.index("### Added") : glossary.index("### Removed")]
    removed = glossary[glossary.index("### Removed") : glossary.index("### Changed")]
    changed = glossary[glossary.index("### Changed") :]
    assert NEW["id"] in added and GONE["id"] not in added
    assert GONE["id"] in removed and WITHDRAWAL["reason_en"] in removed
    assert KEPT["id"] in changed
    assert f"`term_en`: `{KEPT['term_en']}` → `{RENAMED_EN}`" in changed
    assert "2 added, 1 removed, 1 changed against 2026.11.0" in two_releases.second.stdout


def test_first_release_has_everything_as_new(two_releases: TwoReleases):
    changes = json.loads((two_releases.dist / "releases" / FIRST / "changes.json").read_text(encoding="utf-8"))
    db = sqlite_utils.Database(two_releases.dist / "releases" / FIRST / "kechuang.db")
    assert changes["previous"] is None
    for name, table in changes["tables"].items():
        assert len(table["added"]) == db[name].count, name
        assert table["removed"] == table["changed"] == []
    assert "first release" in (two_releases.dist / "releases" / FIRST / "CHANGELOG.md").read_text(encoding="utf-8")


def test_package_validates_with_frictionless(two_releases: TwoReleases):
    done = subprocess.run(
        [str(Path(sys.executable).with_name("frictionless")), "validate", "datapackage.json"],
        cwd=two_releases.folder,
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr


def test_each_csv_validates_on_its_own_and_sources_name_only_shipped_files(two_releases: TwoReleases):
    """`frictionless validate targets.csv` alone infers the types from the first rows: numbers carry their
    decimal point, so a later 20.3 never breaks a column read as integers; sources point at no missing file."""
    frictionless = str(Path(sys.executable).with_name("frictionless"))
    csvs = sorted(p.name for p in two_releases.folder.glob("*.csv"))
    done = subprocess.run([frictionless, "validate", "--json", *csvs], cwd=two_releases.folder, capture_output=True)
    report = json.loads(done.stdout)
    assert report["valid"], [(t["name"], t["errors"][:2]) for t in report["tasks"] if not t["valid"]]
    descriptor = json.loads((two_releases.folder / "datapackage.json").read_text(encoding="utf-8"))
    for source in descriptor["sources"]:
        assert "path" not in source or (two_releases.folder / source["path"]).is_file(), source


def test_the_workbook_holds_every_table_cell_for_cell(two_releases: TwoReleases):
    """kechuang.xlsx: a sheet per table, read back with openpyxl, equal to the released database."""
    import openpyxl

    book = openpyxl.load_workbook(two_releases.folder / "kechuang.xlsx", read_only=True)
    with sqlite3.connect(two_releases.folder / "kechuang.db") as con:
        for sheet in book.worksheets:
            cells = [list(row) for row in sheet.iter_rows(values_only=True)]
            header = cells[0]
            order = [
                r[1] for r in sorted(con.execute(f"pragma table_info([{sheet.title}])"), key=lambda r: r[5]) if r[5]
            ]
            rows = con.execute(
                f"select {', '.join(f'[{c}]' for c in header)} from [{sheet.title}] order by {', '.join(f'[{k}]' for k in order) or 'rowid'}"
            ).fetchall()
            assert len(cells) - 1 == len(rows), sheet.title
            for got, row in zip(cells[1:], rows, strict=True):
                got = [*got, *[None] * (len(header) - len(got))]  # a read-only sheet drops trailing empty cells
                assert [("" if v is None else v) for v in got] == [("" if v is None else v) for v in row], sheet.title
    assert "kechuang.xlsx" in (two_releases.folder / "SHA256SUMS").read_text(encoding="utf-8")


def test_the_excel_csv_zip_holds_each_csv_with_a_byte_order_mark(two_releases: TwoReleases):
    """kechuang-excel-csv.zip: every table's CSV, the same bytes after a UTF-8 byte-order mark (Excel)."""
    csvs = sorted(p.name for p in two_releases.folder.glob("*.csv"))
    with zipfile.ZipFile(two_releases.folder / "kechuang-excel-csv.zip") as z:
        assert sorted(z.namelist()) == csvs
        for name in csvs:
            data = z.read(name)
            assert data == b"\xef\xbb\xbf" + (two_releases.folder / name).read_bytes(), name
            assert data.decode("utf-8-sig").split(",")[0] == (two_releases.folder / name).read_text("utf-8").split(",")[0]
    assert "kechuang-excel-csv.zip" in (two_releases.folder / "SHA256SUMS").read_text(encoding="utf-8")


def test_package_catches_a_tampered_csv(two_releases: TwoReleases, tmp_path: Path):
    copy = tmp_path / "copy"
    shutil.copytree(two_releases.folder, copy)
    with (copy / "glossary.csv").open("a", encoding="utf-8") as f:
        f.write("zz-tampered,篡改,Tampered,,,,\n")
    done = subprocess.run(
        [str(Path(sys.executable).with_name("frictionless")), "validate", "datapackage.json"],
        cwd=copy,
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode != 0
    assert "hash" in done.stdout


def test_one_csv_per_table_matches_the_database(two_releases: TwoReleases, project: Project):
    db = sqlite_utils.Database(two_releases.folder / "kechuang.db")
    descriptor = json.loads((two_releases.folder / "datapackage.json").read_text(encoding="utf-8"))
    resources = {r["name"]: r for r in descriptor["resources"]}
    for name, schema in load_schemas(project.schemas).items():
        header, rows = read_table(two_releases.folder / f"{name}.csv")
        assert header == schema.column_names, name
        assert len(rows) == db[name].count, name
        assert [f["name"] for f in resources[name]["schema"]["fields"]] == header
        assert resources[name]["schema"].get("primaryKey") == list(schema.primary_key)
    assert descriptor["version"] == SECOND


def test_checksums_cover_every_file_and_verify(two_releases: TwoReleases):
    done = subprocess.run(
        ["sha256sum", "--check", "--strict", "SHA256SUMS"],
        cwd=two_releases.folder,
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    listed = {line.split("  ", 1)[1] for line in (two_releases.folder / "SHA256SUMS").read_text().splitlines()}
    present = {
        p.relative_to(two_releases.folder).as_posix()
        for p in two_releases.folder.rglob("*")
        if p.is_file() and p.name != "SHA256SUMS"
    }
    assert listed == present


def test_zip_holds_the_package(two_releases: TwoReleases):
    archive = two_releases.folder / f"kechuang-{SECOND}.zip"
    with zipfile.ZipFile(archive) as z:
        names = set(z.namelist())
        csvs = {p.name for p in two_releases.folder.glob("*.csv")}
        assert names == {"datapackage.json", "CHANGELOG.md", "changes.json", *csvs}
        for name in names:
            assert z.read(name) == (two_releases.folder / name).read_bytes(), name


def test_version_and_date_are_in_the_database_and_served(two_releases: TwoReleases):
    db = two_releases.folder / "kechuang.db"
    meta = {r["key"]: r["value"] for r in sqlite_utils.Database(db)["_meta"].rows}
    assert meta["release_version"] == SECOND
    assert dt.date.fromisoformat(meta["release_date"]) == dt.date.today()

    async def served() -> dict[str, str]:
        datasette = Datasette(immutables=[str(db)])
        return await data_release(datasette)

    release_info = asyncio.run(served())
    assert release_info["version"] == SECOND
    assert release_info["date"] == meta["release_date"]


@pytest.fixture(scope="module")
def released_portal(two_releases: TwoReleases):
    """The portal serving the second release, whose releases folder (hence the downloads page) holds the two."""
    return serve_in_process(two_releases.folder / "kechuang.db")


def test_release_endpoint_reports_the_release(released_portal):
    response = released_portal.get("/-/release.json")
    assert response.status_code == 200
    assert response.json()["version"] == SECOND
    assert response.headers["x-data-release"] == SECOND
    again = released_portal.get("/-/release.json", headers={"If-None-Match": response.headers["etag"]})
    assert again.status_code == 304


def test_api_index_and_headers_carry_the_release(released_portal):
    date = released_portal.get("/-/release.json").json()["date"]
    index = released_portal.get("/api/v1/")
    assert index.status_code == 200
    assert index.json()["release"] == {"version": SECOND, "date": date}
    assert index.headers["x-data-release"] == SECOND
    assert released_portal.get("/api/v1/targets?limit=1").headers["x-data-release"] == SECOND


def test_site_footer_shows_the_release(released_portal):
    date = released_portal.get("/-/release.json").json()["date"]
    page = released_portal.get("/").text
    assert f"<strong>{SECOND}</strong> · {date}" in page


def test_downloads_page_offers_every_file_of_every_release(two_releases: TwoReleases, released_portal):
    page = released_portal.get("/downloads").text
    for version in (FIRST, SECOND):
        folder = two_releases.dist / "releases" / version
        for path in folder.iterdir():
            assert f'href="/releases/{version}/{path.name}"' in page, path.name
    csv_file = released_portal.get(f"/releases/{SECOND}/glossary.csv")
    assert csv_file.content == (two_releases.folder / "glossary.csv").read_bytes()


def test_index_and_latest_point_at_the_newest_release(two_releases: TwoReleases):
    releases = two_releases.dist / "releases"
    assert (releases / "latest").resolve() == (releases / SECOND).resolve()
    index = json.loads((releases / "index.json").read_text(encoding="utf-8"))
    assert [r["version"] for r in index["releases"]] == [SECOND, FIRST]
    assert index["releases"][0]["previous"] == FIRST
    assert index["releases"][0]["changes"] == {"added": 2, "removed": 1, "changed": 1}
    assert "kechuang.db" in index["releases"][0]["files"]


def test_invalid_data_publishes_nothing(two_releases: TwoReleases, tmp_path: Path, sample):
    dist = tmp_path / "dist"
    shutil.copytree(two_releases.dist, dist, symlinks=True)
    broken = tmp_path / "broken"
    shutil.copytree(sample.datasets, broken)
    add_table_rows(broken, "glossary", {"id": "Not A Slug", "term_zh": "坏", "term_en": "Bad"})
    before = sorted(p.name for p in (dist / "releases").iterdir())
    done = release_in_process(broken, dist)
    assert done.exit_code == 1
    assert "lowercase slug" in done.stdout
    assert "Nothing was released" in done.stderr
    assert sorted(p.name for p in (dist / "releases").iterdir()) == before
    assert (dist / "releases" / "latest").resolve().name == SECOND


def test_a_published_version_cannot_be_written_again(two_releases: TwoReleases, tmp_path: Path, sample):
    dist = tmp_path / "dist"
    shutil.copytree(two_releases.dist, dist, symlinks=True)
    for version, why in ((SECOND, "already exists"), (FIRST, "already exists"), ("2026.10.3", "older than")):
        done = release_in_process(sample.datasets, dist, "--version", version)
        assert done.exit_code != 0
        assert why in done.stderr


def make_releases(folder: Path, *versions: str) -> Path:
    for version in versions:
        (folder / version).mkdir(parents=True)
        (folder / version / "kechuang.db").touch()
    return folder


@pytest.mark.parametrize(
    ("existing", "today", "expected"),
    [
        ((), dt.date(2026, 11, 5), "2026.11.0"),
        (("2026.11.0", "2026.11.1"), dt.date(2026, 11, 30), "2026.11.2"),
        (("2026.10.4",), dt.date(2026, 11, 1), "2026.11.0"),
        (("2026.11.0", "2026.11.10", "2026.11.9"), dt.date(2026, 11, 2), "2026.11.11"),
        (("2026.12.0",), dt.date(2027, 1, 1), "2027.01.0"),
    ],
)
def test_default_version_is_the_next_free_one_today(tmp_path: Path, existing, today, expected):
    releases = make_releases(tmp_path / "releases", *existing)
    assert str(next_version(releases, today)) == expected


def test_only_complete_release_folders_count(tmp_path: Path):
    releases = make_releases(tmp_path / "releases", "2026.11.0")
    (releases / "2026.11.1").mkdir()  # no database: not complete
    (releases / ".2026.11.2.123.tmp").mkdir()
    (releases / ".2026.11.2.123.tmp" / "kechuang.db").touch()
    (releases / "latest").symlink_to("2026.11.0")
    assert [str(v) for v in published_versions(releases)] == ["2026.11.0"]


@pytest.mark.parametrize("text", ["2026.13.0", "2026.1.0", "v2026.11.0", "2026.11", "2026.11.01", "26.11.0"])
def test_malformed_versions_are_refused(text):
    with pytest.raises(ValueError, match="calendar version"):
        Version.parse(text)


def test_versions_sort_by_number_not_text(tmp_path: Path):
    releases = make_releases(tmp_path / "releases", "2026.11.9", "2026.11.10")
    assert [str(v) for v in published_versions(releases)] == ["2026.11.9", "2026.11.10"]
    with pytest.raises(ValueError, match="older than"):
        check_new_version(releases, Version.parse("2026.11.2"))


def test_release_carries_the_datasette_metadata_to_serve_it(two_releases: TwoReleases, project: Project):
    metadata = json.loads((two_releases.folder / "metadata.json").read_text(encoding="utf-8"))
    columns = metadata["databases"]["kechuang"]["tables"]["targets"]["columns"]
    for field in load_schemas(project.schemas)["targets"].fields:
        assert columns[field.name].startswith(field.description)
