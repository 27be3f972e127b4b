"""Visitor SQL on capacity of its own, within one budget per request, a few requests per client.

A request to a database's own pages (`/kechuang`, `/kechuang.json?sql=…`, tables, rows, canned
queries) is *visitor SQL*: the visitor chooses what SQLite does. Such a request

- is admitted only while its client has fewer than `PER_CLIENT` of them running and the process
  fewer than `IN_FLIGHT` (a short wait, then 429 or 503 with the JSON error and `Retry-After`);
- runs every query in the worker processes of `kechuang.serve.security.sqlpool`, never on the
  threads that the API, search and the citizens' pages use;
- has one budget of SQL time for all its queries (main query, count, facets, suggestions); facet
  suggestions are skipped when it carries `_where` or when the budget has no room for them;
- stops its work when the visitor goes away (the request is cancelled; the worker killed);
- sends at most `MAX_SENT_BYTES`: a larger answer becomes a 413, a larger stream ends with a note.
"""

from __future__ import annotations

import contextlib
import contextvars
import functools
import re
import sqlite3
import threading
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl

from datasette.database import QueryInterrupted, Results

from kechuang.serve.http import error_response
from kechuang.serve.security.admission import Admission, client_key
from kechuang.serve.security.connection import should_harden
from kechuang.serve.security.guard import ASGIApp, Receive, Scope, Send
from kechuang.serve.security.sqlpool import PoolBusy, ResultTooLarge, VisitorPool, WorkerLost
from kechuang.serve.security.streams import capped, until_disconnect

# Worker processes per served database and server process (the machine has two cores; more
# processes would only share them).
POOL_SIZE = 2
# Visitor SQL requests one client may have running at once, and the whole process. Admitted requests
# beyond the pool's size wait for a worker within their own budget.
PER_CLIENT = 4
IN_FLIGHT = 4 * POOL_SIZE
# How long a request over either limit waits for a place before it is refused: an ordinary table
# page takes a few hundred milliseconds, so a reader opening several tabs at once is not refused.
ADMISSION_WAIT_SECONDS = 2.0
RETRY_AFTER_SECONDS = 3
# Encoded bytes one query's rows may take (counted by the worker as it fetches them) and bytes one
# response may send: the first keeps memory bounded, the second is the hard cap on what leaves.
MAX_ENCODED_RESULT_BYTES = 16 * 2**20
MAX_SENT_BYTES = 32 * 2**20


@dataclass
class RequestBudget:
    """The SQL time one request may spend, over all its queries."""

    seconds: float
    skip_suggestions: bool = False
    spent: float = 0.0

    def remaining(self) -> float:
        return self.seconds - self.spent


_budget: contextvars.ContextVar[RequestBudget | None] = contextvars.ContextVar("visitor_sql_budget", default=None)


def current_budget() -> RequestBudget | None:
    """The budget of the visitor SQL request being answered, None outside one."""
    return _budget.get()


def visitor_database(path: str, databases: dict[str, Any]) -> str | None:
    """The served database whose own pages `path` addresses (so its queries are visitor SQL), or None.

    The database file itself (`/kechuang.db`) is a download, not a query."""
    segment = path.split("/", 2)[1] if path.startswith("/") else ""
    name, _, extension = segment.partition(".") if segment not in databases else (segment, "", "")
    if name in databases and extension != "db" and should_harden(name, databases):
        return name
    return None


# --- queries: Database.execute for visitor requests -------------------------------------------------

_describing = threading.local()


def as_rows(columns: list[str], values: list[tuple]) -> list[sqlite3.Row]:
    """Real `sqlite3.Row`s (key and index access, as Datasette expects) for rows a worker sent."""
    if not hasattr(_describing, "conn"):
        _describing.conn = sqlite3.connect(":memory:")
    names = ", ".join('null as "{}"'.format(c.replace('"', '""')) for c in columns) or "null"
    cursor = _describing.conn.execute(f"select {names}")
    return [sqlite3.Row(cursor, v) for v in values]


_NAMED_PARAMETER = re.compile(r":(\w+)")


def plain_parameters(sql: str, params: Any) -> Any:
    """`params` as plain values a worker can receive. Canned queries get Datasette's MagicParameters, a
    dict that computes `_header_…`, `_cookie_…`, `_now_…` parameters on demand from the request."""
    if params is None or type(params) in (dict, list, tuple):
        return params
    if not isinstance(params, dict):
        return list(params)
    plain = dict(dict.items(params))
    for name in _NAMED_PARAMETER.findall(sql):
        with contextlib.suppress(KeyError):
            plain[name] = params[name]
    return plain


def _interrupted(sql: str, params: Any) -> QueryInterrupted:
    return QueryInterrupted(sqlite3.OperationalError("interrupted"), sql, params)


async def execute_visitor_sql(
    datasette,
    pool: VisitorPool,
    original,
    sql: str,
    params=None,
    truncate: bool = False,
    custom_time_limit: int | None = None,
    page_size: int | None = None,
    log_sql_errors: bool = True,
) -> Results:
    """`Database.execute`, run in the visitor pool within the request's budget when a visitor asked."""
    budget = current_budget()
    # Datasette's own bookkeeping (`PRAGMA schema_version` before every request) is not a visitor's:
    # visitors' statements must be SELECT or WITH, so a PRAGMA statement here is Datasette's.
    if budget is None or sql.lstrip()[:6].lower() == "pragma":
        return await original(
            sql,
            params,
            truncate,
            custom_time_limit=custom_time_limit,
            page_size=page_size,
            log_sql_errors=log_sql_errors,
        )
    limit = datasette.sql_time_limit_ms / 1000
    if custom_time_limit:
        limit = min(limit, custom_time_limit / 1000)
    # Datasette gives only facet suggestions this limit; there are about fifty per table page.
    suggestion = custom_time_limit == datasette.setting("facet_suggest_time_limit_ms")
    if (suggestion and budget.skip_suggestions) or budget.remaining() <= (limit if suggestion else 0):
        raise _interrupted(sql, params)
    page_size = page_size or datasette.page_size
    max_rows = datasette.max_returned_rows
    if max_rows == page_size:
        max_rows += 1
    wanted = max_rows + 1 if truncate and max_rows else None
    request = {
        "sql": sql,
        "params": plain_parameters(sql, params),
        "rows": wanted,
        "max_bytes": MAX_ENCODED_RESULT_BYTES,
    }
    started = time.monotonic()
    try:
        answer = await pool.run(request, started + min(limit, budget.remaining()))
    except (PoolBusy, WorkerLost):
        # Out of time, waiting for a worker or in one: Datasette then leaves out a count, a facet or a
        # suggestion, or answers the main query's 400 "took too long".
        raise _interrupted(sql, params) from None
    finally:
        budget.spent += time.monotonic() - started
    if not answer.ok:
        if answer.error_kind == "interrupted":
            raise _interrupted(sql, params)
        if answer.error_kind == "too_large":
            raise ResultTooLarge(answer.message)
        error = getattr(sqlite3, answer.error_class, sqlite3.OperationalError)
        raise (error if isinstance(error, type) and issubclass(error, sqlite3.Error) else sqlite3.OperationalError)(
            answer.message
        )
    rows, truncated = answer.rows, False
    if wanted is not None:
        truncated = len(rows) > max_rows
        rows = rows[:max_rows]
    description = [(c, None, None, None, None, None, None) for c in answer.columns]
    return Results(as_rows(answer.columns, rows), truncated, description)


def _outside_visitor_sql(refresh):
    """Datasette's schema bookkeeping before each request (`refresh_schemas`), run as the server's own."""

    @functools.wraps(refresh)
    async def refresh_schemas():
        token = _budget.set(None)
        try:
            return await refresh()
        finally:
            _budget.reset(token)

    refresh_schemas.outside_visitor_sql = True
    return refresh_schemas


def install(datasette) -> None:
    """Send every served database's visitor queries to a pool of its own (idempotent)."""
    if not getattr(datasette.refresh_schemas, "outside_visitor_sql", False):
        datasette.refresh_schemas = _outside_visitor_sql(datasette.refresh_schemas)
    for name, db in datasette.databases.items():
        if not should_harden(name, datasette.databases) or db.is_memory or getattr(db, "visitor_pool", None):
            continue
        uri = f"file:{db.path}?immutable=1" if not db.is_mutable else f"file:{db.path}?mode=ro"
        db.visitor_pool = VisitorPool(uri, POOL_SIZE)
        db.execute = functools.partial(execute_visitor_sql, datasette, db.visitor_pool, db.execute)


# --- the ASGI side ----------------------------------------------------------------------------------


def _refusal(full: str) -> Any:
    if full == "client":
        response = error_response(
            429, "Too many SQL requests from your address at once; retry in a few seconds.", code="too_many_requests"
        )
    else:
        response = error_response(503, "Every SQL worker is busy; retry in a few seconds.", code="unavailable")
    response.headers["Retry-After"] = str(RETRY_AFTER_SECONDS)
    return response


def wrap(app: ASGIApp, datasette) -> ASGIApp:
    """The ASGI application that gives visitor SQL requests their budget, admission and caps."""
    admission = Admission(PER_CLIENT, IN_FLIGHT)

    async def bulkheaded(scope: Scope, receive: Receive, send: Send) -> None:
        if scope.get("type") != "http" or visitor_database(scope.get("path") or "", datasette.databases) is None:
            await app(scope, receive, send)
            return
        install(datasette)
        arrived = time.monotonic()
        async with admission.slot(client_key(scope), ADMISSION_WAIT_SECONDS) as full:
            if full:
                await _refusal(full).asgi_send(send)
                return
            query = (scope.get("query_string") or b"").decode("latin-1")
            carries_sql = any(key == "_where" for key, _ in parse_qsl(query, keep_blank_values=True))
            # The time waiting to be admitted counts: every request ends within one budget of arriving.
            waited = time.monotonic() - arrived
            budget = RequestBudget(datasette.sql_time_limit_ms / 1000, carries_sql, spent=waited)
            token = _budget.set(budget)
            try:
                await until_disconnect(app, scope, receive, capped(send, MAX_SENT_BYTES, RETRY_AFTER_SECONDS))
            finally:
                _budget.reset(token)

    return bulkheaded
