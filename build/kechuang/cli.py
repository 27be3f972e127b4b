"""The `kechuang` command: one click group, each subcommand a thin call into a pipeline stage."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from kechuang.project import Project

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
@click.option(
    "--engine",
    type=click.Choice(["auto", "frictionless", "columnar"]),
    default="auto",
    show_default=True,
    help="Who runs the schema checks: Frictionless row by row, the same checks column by column "
    "(for large datasets), or auto (columnar from 20,000 data rows).",
)
def validate(datasets: Path | None, engine: str) -> None:
    """Check every table in datasets/ against its schema and the project's rules. Writes nothing."""
    from kechuang.validate.datasets import validate_datasets

    project = Project.locate(datasets=datasets)
    problems = validate_datasets(project, engine)
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
    from kechuang.pipeline import build_database
    from kechuang.validate.problems import ValidationFailed

    project = Project.locate(datasets=datasets)
    try:
        result = build_database(project, out or project.default_db)
    except ValidationFailed as failure:
        _report_problems(failure.problems)
        click.echo("Build aborted; the previous database is untouched.", err=True)
        sys.exit(1)
    for table, count in result.counts.items():
        click.echo(f"{table:24} {count:>8} rows")
    stages = " · ".join(f"{stage} {seconds:.2f} s" for stage, seconds in result.stages.items())
    click.echo(f"Wrote {project.display(result.path)} in {result.seconds:.2f} s ({stages})")


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
@click.option(
    "--workers",
    type=click.IntRange(min=1),
    default=None,
    help="Run N Datasette workers behind nginx (load balancing, caching, failover, release switching); "
    "serves the newest release unless --db is given.",
)
@click.option("--cache/--no-cache", default=True, show_default=True, help="With --workers: nginx's proxy cache.")
@click.option(
    "--run-dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="With --workers: folder for nginx's configuration, logs, cache and sockets (default: dist/run).",
)
@click.option(
    "--inspect-file",
    type=click.Path(dir_okay=False, exists=True, path_type=Path),
    default=None,
    help="Without --workers: row counts from `datasette inspect` (workers compute their own).",
)
def serve(
    datasets: Path | None,
    host: str,
    port: int,
    db: Path | None,
    workers: int | None,
    cache: bool,
    run_dir: Path | None,
    inspect_file: Path | None,
) -> None:
    """Serve the portal with Datasette, building the database first when it is missing or stale."""
    project = Project.locate(datasets=datasets)
    if workers:
        from kechuang.operations.cluster import serve_cluster

        try:
            serve_cluster(project, workers, host, port, db=db, cache=cache, run_dir=run_dir)
        except RuntimeError as error:
            raise click.ClickException(str(error)) from None
        return
    from kechuang.operations.launch import serve_portal

    serve_portal(project, host=host, port=port, db=db, inspect_file=inspect_file)


@cli.command()
@datasets_option
@click.option(
    "--version", "version", default=None, help="Calendar version YYYY.MM.N (default: the next free one today)."
)
def release(datasets: Path | None, version: str | None) -> None:
    """Write dist/releases/VERSION/: database, Data Package, zip, changelog, checksums.

    A portal served with `kechuang serve --workers N` (nginx and workers, run folder dist/run) switches to
    the release. A single-process `kechuang serve` keeps serving the database it started with: restart it
    with `--db dist/releases/VERSION/kechuang.db` to serve the release.
    """
    from kechuang.operations.cluster import request_switch
    from kechuang.release.publish import write_release
    from kechuang.validate.problems import ValidationFailed

    project = Project.locate(datasets=datasets)
    try:
        result = write_release(project, version)
    except ValidationFailed as failure:
        _report_problems(failure.problems)
        click.echo("Nothing was released; the previous release stays published.", err=True)
        sys.exit(1)
    except ValueError as error:
        raise click.ClickException(str(error)) from None
    changes = result.changes
    against = f"against {result.previous}" if result.previous else "(first release)"
    click.echo(f"Release {result.version} ({result.date}) written to {project.display(result.path)}")
    click.echo(f"{changes['added']} added, {changes['removed']} removed, {changes['changed']} changed {against}")
    switched = request_switch(project.dist / "run", result.version)
    if switched is None:
        served = project.display(result.path / "kechuang.db")
        click.echo(f"No multi-worker portal runs from this project; a single-process one keeps its database: --db {served}")
    else:
        click.echo(
            f"The running portal now serves {result.version}."
            if switched
            else "The running portal did not switch; see its log."
        )


if __name__ == "__main__":
    cli()
