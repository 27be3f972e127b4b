"""The `kechuang` command: one click group, each subcommand a thin call into a pipeline stage."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from .project import Project

datasets_option = click.option(
    "--datasets",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Folder of curated tables (default: datasets/ of the project).",
)


def _report_problems(problems: list) -> None:
    for problem in problems:
        click.echo(str(problem))
    noun = "problem" if len(problems) == 1 else "problems"
    click.echo(f"{len(problems)} {noun} found.", err=True)


@click.group()
@click.version_option(package_name="kechuang")
def cli() -> None:
    """Kechuang (科创开放数据): curated policy tables → SQLite → Datasette portal."""


@cli.command()
@datasets_option
def validate(datasets: Path | None) -> None:
    """Check every table in datasets/ against its schema and the project's rules. Writes nothing."""
    from .validate import validate_datasets

    project = Project.locate(datasets=datasets)
    problems = validate_datasets(project)
    if problems:
        _report_problems(problems)
        sys.exit(1)
    click.echo("All tables valid.")


@cli.command()
@datasets_option
@click.option(
    "--out",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Database to write (default: dist/kechuang.db).",
)
def build(datasets: Path | None, out: Path | None) -> None:
    """Validate, then compile the tables into SQLite; a failed build leaves the old database in place."""
    from .compile import build_database
    from .problems import ValidationFailed

    project = Project.locate(datasets=datasets)
    try:
        result = build_database(project, out or project.default_db)
    except ValidationFailed as failure:
        _report_problems(failure.problems)
        click.echo("Build aborted; the previous database is untouched.", err=True)
        sys.exit(1)
    for table, count in result.counts.items():
        click.echo(f"{table:24} {count:>8} rows")
    click.echo(f"Wrote {project.display(result.path)} in {result.seconds:.2f} s")


@cli.command()
@datasets_option
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8001, show_default=True, type=int)
@click.option(
    "--db",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Database to serve (default: dist/kechuang.db, rebuilt when stale).",
)
def serve(datasets: Path | None, host: str, port: int, db: Path | None) -> None:
    """Serve the portal with Datasette, building the database first when it is missing or stale."""
    from .serve import serve_portal

    serve_portal(Project.locate(datasets=datasets), host=host, port=port, db=db)


if __name__ == "__main__":
    cli()
