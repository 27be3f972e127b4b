"""Security plugin: hardened SQLite connections, the request guard and corrected error statuses.

Thin adapter: the logic lives in `kechuang.serve.security`.
"""

from datasette import hookimpl

from kechuang.serve.security import bulkhead, connection, errors, guard
from kechuang.serve.site import error_pages
from kechuang.serve.state import served_meta_now


@hookimpl
def prepare_connection(conn, database, datasette):
    connection.prepare_connection(conn, database, served=datasette.databases)


@hookimpl(trylast=True)
def asgi_wrapper(datasette):
    # trylast: applied after every other wrapper, so the guard is the outermost layer; inside it,
    # visitor SQL gets its admission, budget and size cap (bulkhead.py). A browser asking for a page gets a
    # refusal as the site's error page (error_pages.py).
    return lambda app: guard.wrap(bulkhead.wrap(app, datasette), page=error_pages.refusal_pages(datasette))


@hookimpl
def startup(datasette):
    errors.stop_rich_tracebacks()
    bulkhead.install(datasette)
    # Read once here, so no page's chrome first reads it inside a visitor's spent SQL budget.
    served_meta_now(datasette)


@hookimpl
def handle_exception(datasette, request, exception):
    return errors.handle_exception(datasette, request, exception)
