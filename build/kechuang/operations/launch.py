"""Serve the portal with Datasette: immutable database, our metadata, plugins, templates and assets.

The plugins, templates and static files come from `kechuang.assets` (the installed package, or the
checkout in an editable install); the project only supplies the data: the database and its metadata.

The HTTP server is granian (chosen by measurement against uvicorn: docs/performance.md), in both
ways of serving: one process on a port (the container image, `kechuang serve`), or several workers
on a Unix socket behind nginx (`kechuang serve --workers N`). Its own limits protect the process
that runs without nginx: see `server_arguments`.
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


# The server's limits, for the mode without nginx in front (the container image); behind nginx they are
# a second line. A request whose line and headers outgrow the read buffer of HEADER_BYTES (hyper grows
# it in steps: measured, a 100 KB head passes and a 130 KB one does not), or that has more than 100
# headers (hyper's fixed limit), is answered 431 and its connection closed, without reading the rest.
# A connection that has not sent a whole request head within HEADER_READ_TIMEOUT_MS (a half-sent
# request, or an idle keep-alive connection waiting for its next request) is closed. A body is
# refused (413) by the request guard before any of it is read (kechuang.serve.security.guard).
HEADER_BYTES = 65536  # nginx in front allows 4 × 16 KB of headers (deploy/nginx.conf.template)
HEADER_READ_TIMEOUT_MS = 10_000
BACKLOG = 1024
STOP_TIMEOUT_S = 30  # a worker still answering after a graceful stop is asked for is killed


def server_arguments(
    host: str = "127.0.0.1",
    port: int = 8001,
    uds: Path | None = None,
    workers: int = 1,
    pid_file: Path | None = None,
    header_read_timeout_ms: int = HEADER_READ_TIMEOUT_MS,
) -> list[str]:
    """granian's command line for the portal's ASGI application (`kechuang.operations.asgi`).

    HTTP/1.1 only: HTTP/2 without TLS would bypass the HTTP/1 limits and is never needed (nginx or a
    platform's load balancer speaks HTTP/2 to browsers). Workers that die are replaced; SIGHUP
    replaces them one by one, each new worker opening the database `KECHUANG_SERVE_DB` names then.
    """
    args = ["-m", "granian", "--interface", "asgi", "--factory", "--http", "1", "--no-ws"]
    args += ["--http1-buffer-size", str(HEADER_BYTES), "--http1-header-read-timeout", str(header_read_timeout_ms)]
    args += ["--backlog", str(BACKLOG), "--workers", str(workers), "--workers-kill-timeout", str(STOP_TIMEOUT_S)]
    # One access-log line per request costs throughput; nginx keeps the log in front of the workers.
    access_log = "--access-log" if os.environ.get("KECHUANG_ACCESS_LOG") == "1" else "--no-access-log"
    args += ["--respawn-failed-workers", access_log, "--log-level", "warning"]
    args += ["--uds", str(uds)] if uds else ["--host", host, "--port", str(port)]
    if pid_file:
        args += ["--pid-file", str(pid_file)]
    return [*args, "kechuang.operations.asgi:create_app"]


def server_environment(db: Path, inspect_file: Path | None = None) -> dict[str, str]:
    """What the workers read: the database to serve (kechuang.operations.asgi)."""
    environment = {"KECHUANG_SERVE_DB": str(db)}
    if inspect_file:
        environment["KECHUANG_INSPECT_FILE"] = str(inspect_file.resolve())
    return environment


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
    db = prepare(project, db)
    click.echo(f"Serving http://{host}:{port}/")
    environment = {**os.environ, **server_environment(db.resolve(), inspect_file)}
    os.execve(sys.executable, [sys.executable, *server_arguments(host, port)], environment)
