"""Datasette 0.65 errors that come from request input are answered as 400, and error pages stay script-free.

Datasette raises `DatasetteError` without a status (so 500) for a few bad inputs: sorting by a
column that does not exist and a `_through` naming no foreign key. Those are the visitor's
mistake, not the server's. Its "SQL Interrupted" page embeds an inline script, which the
Content-Security-Policy would block; it is rendered without it.
"""

from __future__ import annotations

import re

import datasette.handle_exception
from datasette.handle_exception import handle_exception as render_datasette_error
from datasette.views.base import DatasetteError

INPUT_ERRORS = ("Cannot sort table by ", "Cannot use _sort and _sort_desc", "Invalid _through")
_INLINE_SCRIPT = re.compile(r"<script\b.*?</script>", re.DOTALL | re.IGNORECASE)


def corrected_error(exception: BaseException) -> DatasetteError | None:
    """The error Datasette should have raised, or None when it raised the right one."""
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
    corrected = corrected_error(exception)
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
