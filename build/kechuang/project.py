"""Where a Kechuang project's folders are, so every stage agrees on them."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

PACKAGE_ROOT = Path(__file__).resolve().parents[2]


def find_root() -> Path:
    """The project root: $KECHUANG_ROOT, else the working directory if it holds `schemas/`, else the checkout."""
    if env := os.environ.get("KECHUANG_ROOT"):
        return Path(env).resolve()
    cwd = Path.cwd()
    if (cwd / "schemas").is_dir() and (cwd / "datasets").is_dir():
        return cwd
    return PACKAGE_ROOT


@dataclass(frozen=True)
class Project:
    """The folders of one project; `datasets` and `dist_dir` may point elsewhere (tests, staging copies)."""

    root: Path
    datasets: Path
    schemas: Path
    dist_dir: Path | None = None

    @classmethod
    def locate(cls, datasets: Path | None = None, schemas: Path | None = None) -> Project:
        """The project around the working directory; $KECHUANG_DIST moves the build outputs elsewhere."""
        root = find_root()
        dist = os.environ.get("KECHUANG_DIST")
        return cls(
            root=root,
            datasets=(datasets or root / "datasets").resolve(),
            schemas=(schemas or root / "schemas").resolve(),
            dist_dir=Path(dist).resolve() if dist else None,
        )

    @property
    def dist(self) -> Path:
        return self.dist_dir or self.root / "dist"

    @property
    def releases(self) -> Path:
        """Where `kechuang release` writes each release, one folder per version."""
        return self.dist / "releases"

    @property
    def default_db(self) -> Path:
        return self.dist / "kechuang.db"

    @property
    def site(self) -> Path:
        return self.root / "site"

    @property
    def plugins(self) -> Path:
        return self.root / "plugins"

    @property
    def metadata_file(self) -> Path:
        return self.root / "metadata.yml"

    def table_path(self, table: str) -> Path:
        return self.datasets / f"{table}.csv"

    def display(self, path: Path) -> str:
        """A path as a maintainer would type it: relative to the root when inside it."""
        try:
            return str(path.resolve().relative_to(self.root))
        except ValueError:
            return str(path)
