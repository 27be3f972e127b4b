"""Where a Kechuang project's folders are, so every stage agrees on them."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

PACKAGE_ROOT = Path(__file__).resolve().parents[2]


def find_root() -> Path:
    """The project root: $KECHUANG_ROOT, else the working directory if it holds `schemas/`, else the checkout
    the package runs from (an editable install), else the working directory (an installed wheel)."""
    if env := os.environ.get("KECHUANG_ROOT"):
        return Path(env).resolve()
    cwd = Path.cwd()
    if (cwd / "schemas").is_dir() and (cwd / "datasets").is_dir():
        return cwd
    if (PACKAGE_ROOT / "schemas").is_dir():
        return PACKAGE_ROOT
    return cwd


@dataclass(frozen=True)
class Project:
    """The folders of one project's data; `datasets` and `dist_dir` may point elsewhere (tests, staging copies).

    The code's own files (templates, static files, plugins, the nginx template) are not the project's:
    `kechuang.assets` finds them, in the installed package or the checkout.
    """

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
    def has_sources(self) -> bool:
        """Whether the datasets and schemas are here, so the database can be built (not just served)."""
        return self.datasets.is_dir() and self.schemas.is_dir()

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
