"""The served database's search: its index loaded once per Datasette, and a search run under a time limit.

Both the search page/API and the targets browser's keyword box use these, so the index is held once per
process and an overrunning search is the same 503 everywhere.
"""

from __future__ import annotations

import sqlite3
import weakref
from collections.abc import Callable
from typing import Any, TypeVar

from datasette.utils import sqlite_timelimit

from kechuang.serve import http as web
from kechuang.serve.search.service import SearchIndex, load_search_index

TIME_LIMIT_MS = 2000
T = TypeVar("T")

_indexes: weakref.WeakKeyDictionary[Any, SearchIndex] = weakref.WeakKeyDictionary()


async def served_index(datasette) -> SearchIndex:
    """The served database's search index (its lexicon: names, terms, places), loaded once; HttpError 503
    when the database has none."""
    if datasette not in _indexes:
        try:
            _indexes[datasette] = await datasette.get_database(web.DATABASE).execute_fn(load_search_index)
        except sqlite3.OperationalError as error:
            message = f"This database has no search index ({error}); rebuild it with `kechuang build`."
            raise web.HttpError(503, message, "search", "search_unavailable") from None
    return _indexes[datasette]


async def run_timed(datasette, search: Callable[[sqlite3.Connection], T], param: str) -> T:
    """`search` on the served database in Datasette's thread pool, stopped after TIME_LIMIT_MS; HttpError 503
    (naming `param`) when it overruns."""

    def run(conn: sqlite3.Connection) -> T:
        with sqlite_timelimit(conn, TIME_LIMIT_MS):
            return search(conn)

    try:
        return await datasette.get_database(web.DATABASE).execute_fn(run)
    except sqlite3.OperationalError as error:
        if "interrupted" not in str(error):
            raise
        raise web.HttpError(503, "The search took too long; add words to narrow it.", param, "unavailable") from None
