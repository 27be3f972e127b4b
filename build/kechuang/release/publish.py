"""Write a release: database, Data Package, zip, changelog and checksums, all or nothing.

Everything is written into a hidden staging folder beside the releases and renamed into
`dist/releases/<version>/` only at the end, so a failed release (invalid data, a bug) publishes
nothing and the previous release stays the latest.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
import sqlite3
from dataclasses import dataclass, field
from pathlib import Path

from kechuang.model.meta import read_meta_file
from kechuang.model.metadata import datasette_metadata
from kechuang.model.versions import (
    DATABASE_FILE,
    Version,
    check_new_version,
    next_version,
    previous_version,
    published_versions,
)
from kechuang.pipeline import build_database
from kechuang.project import Project
from kechuang.release.changelog import (
    ReleaseInfo,
    changes_document,
    diff_databases,
    release_info,
    render_markdown,
    summary,
)
from kechuang.release.package import (
    CHECKSUM_FILE,
    WORKBOOK_FILE,
    validate_package,
    write_checksums,
    write_package,
    write_workbook,
    zip_excel_csv,
    zip_package,
)

CHANGELOG_FILE = "CHANGELOG.md"
METADATA_FILE = "metadata.json"
CHANGES_FILE = "changes.json"
INDEX_FILE = "index.json"
LATEST_LINK = "latest"


@dataclass
class ReleaseResult:
    version: str
    date: str
    path: Path
    previous: str | None
    counts: dict[str, int] = field(default_factory=dict)
    changes: dict[str, int] = field(default_factory=dict)
    archive: Path | None = None


def archive_name(version: str) -> str:
    return f"kechuang-{version}.zip"


def write_release(project: Project, version: str | None = None, today: dt.date | None = None) -> ReleaseResult:
    """Validate and build the datasets into `dist/releases/<version>/`; raises ValidationFailed on bad data."""
    releases = project.releases
    date = (today or dt.date.today()).isoformat()
    chosen = Version.parse(version) if version else next_version(releases, today or dt.date.today())
    check_new_version(releases, chosen)
    releases.mkdir(parents=True, exist_ok=True)
    staging = releases / f".{chosen}.{os.getpid()}.tmp"
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir()
    try:
        result = _write_into(project, staging, str(chosen), date)
        os.rename(staging, releases / str(chosen))
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    result.path = releases / str(chosen)
    result.archive = result.path / archive_name(str(chosen))
    point_latest(releases, str(chosen))
    write_index(releases)
    return result


def _write_into(project: Project, folder: Path, version: str, date: str) -> ReleaseResult:
    db = folder / DATABASE_FILE
    build_database(project, db, release={"release_version": version, "release_date": date})
    counts = write_package(db, folder, version, date)
    if problems := validate_package(folder):
        raise RuntimeError("the exported Data Package does not validate:\n" + "\n".join(problems[:20]))

    previous = previous_version(project.releases, Version.parse(version))
    previous_db = project.releases / str(previous) / DATABASE_FILE if previous else None
    tables = diff_databases(previous_db, db)
    this = ReleaseInfo(version, date)
    before = _info_of(previous_db) if previous_db else None
    (folder / CHANGES_FILE).write_text(
        json.dumps(changes_document(this, before, tables), ensure_ascii=False, indent=2) + "\n", encoding="utf-8"
    )
    (folder / CHANGELOG_FILE).write_text(render_markdown(this, before, tables), encoding="utf-8")
    zip_package(folder, archive_name(version), list(counts), extra=(CHANGELOG_FILE, CHANGES_FILE))
    write_datasette_metadata(db, folder / METADATA_FILE)  # for stock Datasette: `datasette kechuang.db -m metadata.json`
    write_workbook(db, folder / WORKBOOK_FILE)
    zip_excel_csv(folder, list(counts))
    write_checksums(folder)
    return ReleaseResult(version, date, folder, str(previous) if previous else None, counts, summary(tables))


def write_datasette_metadata(db: Path, path: Path) -> Path:
    """Datasette's metadata for a built database, from its own `_meta`, as a file."""
    meta = read_meta_file(db)
    path.write_text(
        json.dumps(datasette_metadata(meta.model, meta.portal), ensure_ascii=False, indent=2), encoding="utf-8"
    )
    return path


def _info_of(db: Path) -> ReleaseInfo:
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        return release_info(conn)
    finally:
        conn.close()


def point_latest(releases: Path, version: str) -> None:
    """Move the `latest` symlink to the new release in one atomic rename."""
    link = releases / LATEST_LINK
    temporary = releases / f".{LATEST_LINK}.{os.getpid()}"
    temporary.unlink(missing_ok=True)
    temporary.symlink_to(version, target_is_directory=True)
    os.replace(temporary, link)


def write_index(releases: Path) -> Path:
    """index.json: every release, newest first, with its date, change counts and files with their checksums."""
    entries = []
    for version in reversed(published_versions(releases)):
        folder = releases / str(version)
        changes = json.loads((folder / CHANGES_FILE).read_text(encoding="utf-8"))
        sums = {}
        for line in (folder / CHECKSUM_FILE).read_text(encoding="utf-8").splitlines():
            digest, name = line.split("  ", 1)
            sums[name] = digest
        entries.append(
            {
                "version": str(version),
                "date": changes["release"]["date"],
                "previous": (changes["previous"] or {}).get("version"),
                "changes": changes["summary"],
                "files": sums,
            }
        )
    target = releases / INDEX_FILE
    temporary = releases / f".{INDEX_FILE}.{os.getpid()}"
    temporary.write_text(json.dumps({"releases": entries}, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    os.replace(temporary, target)
    return target
