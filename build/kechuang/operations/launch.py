"""Serve the portal with Datasette: immutable database, our metadata, plugins, templates and assets."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import click

from kechuang.model.metadata import write_datasette_metadata
from kechuang.pipeline import build_database
from kechuang.project import Project
from kechuang.validate.problems import ValidationFailed

SETTINGS = {
    "sql_time_limit_ms": "3000",
    "facet_time_limit_ms": "500",
    "max_returned_rows": "1000",
    "default_page_size": "50",
    "allow_csv_stream": "on",
}


def newest_input(project: Project) -> float:
    """The most recent modification time among the datasets and schemas."""
    paths = [*project.datasets.rglob("*"), *project.schemas.rglob("*"), project.datasets, project.schemas]
    return max(p.stat().st_mtime for p in paths if p.exists())


def is_stale(project: Project, db: Path) -> bool:
    return not db.exists() or db.stat().st_mtime < newest_input(project)


def datasette_arguments(
    project: Project,
    db: Path,
    metadata: Path,
    host: str,
    port: int,
    uds: Path | None = None,
    inspect_file: Path | None = None,
) -> list[str]:
    """The `datasette serve` command line every way of serving the portal shares.

    `uds` binds a Unix socket instead of the port (workers behind nginx); `inspect_file` is the
    output of `datasette inspect`, so an immutable file's row counts are not recounted at start.
    """
    args = ["serve", "--immutable", str(db), "--metadata", str(metadata)]
    # Folders git cannot keep while empty (a fresh clone may lack them) are passed only when present.
    if project.plugins.is_dir():
        args += ["--plugins-dir", str(project.plugins)]
    if (project.site / "templates").is_dir():
        args += ["--template-dir", str(project.site / "templates")]
    if (project.site / "static").is_dir():
        args += ["--static", f"static:{project.site / 'static'}"]
    args += ["--cors", "--host", host, "--port", str(port)]
    if uds:
        args += ["--uds", str(uds)]
    if inspect_file:
        args += ["--inspect-file", str(inspect_file)]
    for name, value in SETTINGS.items():
        args += ["--setting", name, value]
    return args


def prepare(project: Project, db: Path | None = None, metadata: Path | None = None) -> tuple[Path, Path]:
    """Build the database if stale and write the Datasette metadata (beside it unless `metadata` says where)."""
    db = (db or project.default_db).resolve()
    if db == project.default_db.resolve() and is_stale(project, db):
        click.echo(f"Building {project.display(db)} (missing or older than datasets/ or schemas/)…")
        try:
            result = build_database(project, db)
        except ValidationFailed as failure:
            for problem in failure.problems:
                click.echo(str(problem), err=True)
            if not db.exists():
                raise click.ClickException("the datasets are invalid and there is no previous database") from None
            click.echo("The datasets are invalid; serving the previous database.", err=True)
        else:
            click.echo(f"Built in {result.seconds:.2f} s")
    metadata = write_datasette_metadata(project, metadata or db.parent / "metadata.json")
    return db, metadata


def serve_portal(
    project: Project, host: str, port: int, db: Path | None = None, inspect_file: Path | None = None
) -> None:
    db, metadata = prepare(project, db)
    args = datasette_arguments(project, db, metadata, host, port, inspect_file=inspect_file)
    click.echo(f"Serving http://{host}:{port}/")
    os.environ.setdefault("KECHUANG_ROOT", str(project.root))
    os.execv(sys.executable, [sys.executable, "-m", "datasette", *args])
