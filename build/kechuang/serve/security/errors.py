"""Datasette 0.65 errors that come from request input are answered as 400, and error pages stay script-free.

Datasette raises `DatasetteError` without a status (so 500) for a few bad inputs: sorting by a
column that does not exist and a `_through` naming no foreign key; and a bare `ValueError` when an
argument it reads as a number is not one (`_next` on a view); a row address with too few
primary-key parts fails to bind (that row does not exist: 404); a database CSV export without a
query fails to find its columns; a switch such as `_json_infinity` given neither on nor off; a CSV
export whose query ran out of time (QueryInterrupted); a visitor query whose rows exceed the result
budget (ResultTooLarge, from `bulkhead`); any other SQLite error of a visitor's query (two statements
in `_where`, an integer beyond 64 bits). Those are the visitor's mistake,
not the server's. Its "SQL Interrupted" page embeds an inline script, which the
Content-Security-Policy would block; it is rendered without it.
"""

from __future__ import annotations

import re
import sqlite3

import datasette.handle_exception
from datasette.database import QueryInterrupted
from datasette.handle_exception import handle_exception as render_datasette_error
from datasette.utils import ValueAsBooleanError
from datasette.views.base import DatasetteError

from kechuang.serve.security.bulkhead import current_budget
from kechuang.serve.security.sqlpool import ResultTooLarge

INPUT_ERRORS = ("Cannot sort table by ", "Cannot use _sort and _sort_desc", "Invalid _through")
_INLINE_SCRIPT = re.compile(r"<script\b.*?</script>", re.DOTALL | re.IGNORECASE)


def _unparsed_argument(exception: BaseException, request) -> str | None:
    """The request argument whose value Datasette failed to read as a whole number, if that is what happened."""
    if type(exception) is not ValueError or request is None:
        return None
    for name in request.args:
        values = request.args.getlist(name)
        if any(str(exception) == f"invalid literal for int() with base 10: {value!r}" for value in values):
            return name
    return None


def corrected_error(exception: BaseException, request=None) -> DatasetteError | None:
    """The error Datasette should have raised, or None when it raised the right one."""
    if isinstance(exception, sqlite3.ProgrammingError) and "pks" in getattr(request, "url_vars", {}):
        # a row address with fewer key parts than the table's compound primary key names no record
        return DatasetteError("Record not found", status=404)
    if isinstance(exception, KeyError) and exception.args == ("columns",) and request.path.endswith(".csv"):
        # a database's CSV export without a query has no columns to write
        return DatasetteError("a CSV export of a database needs a query: ?sql=select …", status=400)
    if isinstance(exception, sqlite3.Error) and current_budget() is not None:
        # in a visitor SQL request (bulkhead) it is the visitor's SQL or parameters, which Datasette's
        # table view does not catch (only OperationalError): two statements in `_where`, an integer
        # beyond 64 bits in `_next`
        return DatasetteError(str(exception), title="Invalid SQL", status=400)
    if isinstance(exception, ResultTooLarge):
        return DatasetteError(str(exception), title="Result too large", status=400)
    if isinstance(exception, QueryInterrupted):
        # Datasette's CSV export does not catch it (its pages and JSON answer 400 "took too long")
        return DatasetteError("SQL query took too long: a request may spend at most its time limit on SQL", status=400)
    if isinstance(exception, ValueAsBooleanError):
        return DatasetteError("a switch parameter takes on/off, true/false or 1/0", status=400)
    if name := _unparsed_argument(exception, request):
        return DatasetteError(f"{name} must be a whole number here", title="Invalid parameter", status=400)
    if not isinstance(exception, DatasetteError):
        return None
    message = str(exception.message)
    if exception.status == 500 and message.startswith(INPUT_ERRORS):
        return DatasetteError(message, title=exception.title, status=400)
    if exception.message_is_html and _INLINE_SCRIPT.search(message):
        return DatasetteError(
            _INLINE_SCRIPT.sub("", message).strip(),
            title=exception.title,
            status=exception.status,
            message_is_html=True,
        )
    return None


def handle_exception(datasette, request, exception: BaseException):
    """Datasette's own error rendering, given the corrected error; None to let Datasette handle it."""
    corrected = corrected_error(exception, request)
    if corrected is None:
        return None
    return render_datasette_error(datasette, request, corrected)


def stop_rich_tracebacks() -> None:
    """Stop Datasette printing a `rich` traceback, with every local variable, for each error.

    When `rich` is installed (schemathesis and typer pull it in), Datasette 0.65 formats one on the
    event loop for every error, even a 400: seconds of CPU during which no other request is
    answered, so any visitor could stall the portal with bad queries. Real 500s are still logged
    with a plain traceback.
    """
    datasette.handle_exception.rich = None
