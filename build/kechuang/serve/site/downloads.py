"""The release files a `kechuang release` wrote under `dist/releases/<version>/`, for the downloads page.

File and version names are checked against a strict pattern and resolved inside the releases folder, so
a request can never read anything else.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

RELEASES_ENV = "KECHUANG_RELEASES_DIR"
SAFE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")


@dataclass(frozen=True)
class ReleaseFile:
    name: str
    size: int
    href: str


@dataclass(frozen=True)
class Release:
    version: str
    files: tuple[ReleaseFile, ...]


def _natural_key(name: str) -> list[tuple[int, int | str]]:
    return [(0, int(part)) if part.isdigit() else (1, part) for part in re.split(r"(\d+)", name) if part]


def releases_folder(database: Path | None) -> Path | None:
    """Where the published releases are, known from the served database alone (or $KECHUANG_RELEASES_DIR).

    A release's own database (`releases/<version>/kechuang.db`) sits in its releases folder; a build
    (`dist/kechuang.db`) sits beside it (`dist/releases/`).
    """
    if configured := os.environ.get(RELEASES_ENV):
        return Path(configured)
    if database is None:
        return None
    database = database.resolve()
    if database.parent.parent.name == "releases":
        return database.parent.parent
    return database.parent / "releases"


def list_releases(releases_dir: Path | None) -> list[Release]:
    """Every release folder, newest version first, with its files (not the `latest` link, not hidden
    staging folders)."""
    if releases_dir is None or not releases_dir.is_dir():
        return []
    releases = []
    for folder in releases_dir.iterdir():
        if folder.is_symlink() or not folder.is_dir() or not SAFE_NAME.match(folder.name):
            continue
        files = tuple(
            ReleaseFile(f.name, f.stat().st_size, f"/releases/{folder.name}/{f.name}")
            for f in sorted(folder.iterdir())
            if f.is_file() and SAFE_NAME.match(f.name)
        )
        releases.append(Release(folder.name, files))
    return sorted(releases, key=lambda r: _natural_key(r.version), reverse=True)


def release_file(releases_dir: Path | None, version: str, name: str) -> Path | None:
    """The file `name` of release `version`, or None when there is no such file (or the names are unsafe)."""
    if releases_dir is None or not (SAFE_NAME.match(version) and SAFE_NAME.match(name)) or ".." in version or ".." in name:
        return None
    base = releases_dir.resolve()
    path = (base / version / name).resolve()
    if path.parent.parent != base or not path.is_file():
        return None
    return path
