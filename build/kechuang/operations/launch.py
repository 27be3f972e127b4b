"""Serve the portal with Datasette: immutable database, our metadata, plugins, templates and assets.

The plugins, templates and static files come from `kechuang.assets` (the installed package, or the
checkout in an editable install); the project only supplies the data: the database and its metadata.
"""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

import click

from kechuang import assets
from kechuang.model.versions import DATABASE_FILE
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
    db: Path,
    host: str,
    port: int,
    uds: Path | None = None,
    inspect_file: Path | None = None,
) -> list[str]:
    """The `datasette serve` command line every way of serving the portal shares.

    `uds` binds a Unix socket instead of the port (workers behind nginx); `inspect_file` is the
    output of `datasette inspect`, so an immutable file's row counts are not recounted at start.
    The plugins, templates and static files are the package's (`kechuang.assets`), whichever
    database is served.
    """
    args = ["serve", "--immutable", str(db)]
    # Folders git cannot keep while empty (a fresh clone may lack them) are passed only when present.
    if assets.PLUGINS.is_dir():
        args += ["--plugins-dir", str(assets.PLUGINS)]
    if assets.TEMPLATES.is_dir():
        args += ["--template-dir", str(assets.TEMPLATES)]
    if assets.STATIC.is_dir():
        args += ["--static", f"static:{assets.STATIC}"]
    args += ["--cors", "--host", host, "--port", str(port)]
    if uds:
        args += ["--uds", str(uds)]
    if inspect_file:
        args += ["--inspect-file", str(inspect_file)]
    for name, value in SETTINGS.items():
        args += ["--setting", name, value]
    return args


def prepare(project: Project, db: Path | None = None) -> Path:
    """The database to serve: built first when it is the project's own and older than its datasets.

    Only a project with its datasets and schemas builds; elsewhere (an installed wheel serving
    `--db FILE` from any folder) the file is served as it is and nothing is read or written.
    """
    db = (db or project.default_db).resolve()
    if project.has_sources and db == project.default_db.resolve() and is_stale(project, db):
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
    if not db.is_file():
        hint = "" if project.has_sources else f" (and no datasets/ and schemas/ in {project.root} to build one)"
        raise click.ClickException(f"no database at {db}{hint}; pass --db FILE")
    return db


def served_as_kechuang(db: Path) -> Path:
    """The file under the name the portal serves it by: Datasette names a database after its file."""
    if db.name == DATABASE_FILE:
        return db
    link = Path(tempfile.mkdtemp(prefix="kechuang-serve-")) / DATABASE_FILE
    link.symlink_to(db.resolve())
    return link


def serve_portal(
    project: Project, host: str, port: int, db: Path | None = None, inspect_file: Path | None = None
) -> None:
    db = served_as_kechuang(prepare(project, db))
    args = datasette_arguments(db, host, port, inspect_file=inspect_file)
    click.echo(f"Serving http://{host}:{port}/")
    os.execv(sys.executable, [sys.executable, "-m", "datasette", *args])
