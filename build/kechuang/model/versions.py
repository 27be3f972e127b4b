"""Calendar versions (`YYYY.MM.N`) and the releases already published in `dist/releases/`.

A release folder is complete once it holds its database: folders are renamed into place only
after everything in them was written, so a half-written release is never mistaken for one.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from pathlib import Path

DATABASE_FILE = "kechuang.db"
VERSION_PATTERN = re.compile(r"^(\d{4})\.(0[1-9]|1[0-2])\.(0|[1-9]\d*)$")


@dataclass(frozen=True, order=True)
class Version:
    """A calendar version: year, month, and N counting the releases made earlier in that month."""

    year: int
    month: int
    number: int

    @classmethod
    def parse(cls, text: str) -> Version:
        match = VERSION_PATTERN.match(text.strip())
        if not match:
            raise ValueError(f'"{text}" is not a calendar version YYYY.MM.N (e.g. 2026.11.0)')
        year, month, number = (int(part) for part in match.groups())
        return cls(year, month, number)

    def __str__(self) -> str:
        return f"{self.year:04d}.{self.month:02d}.{self.number}"


def published_versions(releases: Path) -> list[Version]:
    """Every complete release under `releases`, oldest first."""
    if not releases.is_dir():
        return []
    found = []
    for path in releases.iterdir():
        complete = (path / DATABASE_FILE).is_file()
        if path.is_dir() and not path.is_symlink() and VERSION_PATTERN.match(path.name) and complete:
            found.append(Version.parse(path.name))
    return sorted(found)


def latest_version(releases: Path) -> Version | None:
    versions = published_versions(releases)
    return versions[-1] if versions else None


def latest_database(releases: Path) -> Path | None:
    """The database of the newest release, the one that is (or should be) served."""
    version = latest_version(releases)
    return releases / str(version) / DATABASE_FILE if version else None


def previous_version(releases: Path, version: Version) -> Version | None:
    """The newest release older than `version`: the one its changelog compares against."""
    older = [v for v in published_versions(releases) if v < version]
    return older[-1] if older else None


def next_version(releases: Path, today: dt.date) -> Version:
    """The next free version for `today`: N counts up within the month, from 0."""
    taken = [v.number for v in published_versions(releases) if (v.year, v.month) == (today.year, today.month)]
    return Version(today.year, today.month, max(taken) + 1 if taken else 0)


def check_new_version(releases: Path, version: Version) -> None:
    """Refuse a version that exists or that would sort before the newest release: releases only move forward."""
    if (releases / str(version)).exists():
        raise ValueError(f"release {version} already exists in {releases}; releases are immutable")
    latest = latest_version(releases)
    if latest and version < latest:
        raise ValueError(f"release {version} is older than the latest release {latest}")
