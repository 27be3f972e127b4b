"""Security plugin: hardened SQLite connections, the request guard and corrected error statuses.

Thin adapter: the logic lives in `kechuang.serve.security`.
"""

from datasette import hookimpl

from kechuang.serve.security import connection, errors, guard


@hookimpl
def prepare_connection(conn, database, datasette):
    connection.prepare_connection(conn, database, served=datasette.databases)


@hookimpl(trylast=True)
def asgi_wrapper(datasette):
    # trylast: applied after every other wrapper, so the guard is the outermost layer.
    return guard.wrap


@hookimpl
def startup(datasette):
    errors.stop_rich_tracebacks()


@hookimpl
def handle_exception(datasette, request, exception):
    return errors.handle_exception(datasette, request, exception)
