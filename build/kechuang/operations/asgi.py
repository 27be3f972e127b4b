"""The portal as an ASGI application, for a server that imports it (granian's workers): `create_app`.

The application is the one `datasette serve` would run: the portal's own command line
(`datasette_arguments`) parsed by Datasette's own `serve` command, which returns the instance
instead of starting a server. What it serves comes from the environment, because a server's
worker processes are started by the server and not by us:

- `KECHUANG_SERVE_DB`: the database, or a symlink to it. It is resolved when a worker starts, so a
  release switch repoints the link and reloads the workers: each new worker opens the new file, and
  an old one keeps answering from the file it opened until it stops.
- `KECHUANG_INSPECT_FILE` (optional): `datasette inspect`'s row counts of that file.
"""

from __future__ import annotations

import os
from pathlib import Path

from kechuang.operations.launch import datasette_arguments, served_as_kechuang

DB_VARIABLE = "KECHUANG_SERVE_DB"
INSPECT_VARIABLE = "KECHUANG_INSPECT_FILE"


def portal_datasette(db: Path, inspect_file: Path | None = None):
    """The Datasette instance of the portal's command line for `db`, not started."""
    from datasette.cli import serve

    args = datasette_arguments(db, "127.0.0.1", 0, inspect_file=inspect_file)
    with serve.make_context("serve", args[1:]) as context:
        return serve.callback(**context.params, return_instance=True)


def create_app():
    """The ASGI application of the database `KECHUANG_SERVE_DB` names (resolved now, once)."""
    db = served_as_kechuang(Path(os.path.realpath(os.environ[DB_VARIABLE])))
    inspect = os.environ.get(INSPECT_VARIABLE)
    return portal_datasette(db, Path(inspect) if inspect else None).app()
