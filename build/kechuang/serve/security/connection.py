"""Harden every SQLite connection the portal reads from.

The database file is opened immutable and Datasette already accepts only SELECT statements and
stops queries after `sql_time_limit_ms`. This is the layer below: whatever SQL reaches SQLite,
the connection itself refuses to change anything, to attach files, to load extensions, to expose
pointers or other users' statements, and to build values or results large enough to exhaust the
server's memory inside the time limit.
"""

from __future__ import annotations

import re
import sqlite3
import threading
import weakref
from collections.abc import Callable, Iterable

INTERNAL_DATABASES = frozenset({"_internal"})

# Largest single value (string, blob or row) a query may build. The largest value stored today
# is far below this (a whole source text is about 20 KB); `randomblob(1e9)` is far above it.
MAX_VALUE_BYTES = 1_000_000
# Longest SQL statement accepted by SQLite (requests are capped well below this anyway).
MAX_SQL_BYTES = 100_000
# Total text/blob bytes one cursor may fetch. Datasette returns at most max_returned_rows rows,
# but 1,000 rows of 1 MB each would still be a gigabyte in memory before any JSON is written.
MAX_RESULT_BYTES = 32_000_000

# PRAGMAs that only describe the schema; their argument is a table or index name.
DESCRIBING_PRAGMAS = frozenset(
    {"table_info", "table_xinfo", "index_info", "index_xinfo", "index_list", "foreign_key_list"}
)
# PRAGMAs that may be read (never given a value): they report settings and do not change them.
READABLE_PRAGMAS = frozenset(
    {
        "database_list",
        "function_list",
        "module_list",
        "pragma_list",
        "collation_list",
        "compile_options",
        "page_count",
        "max_page_count",
        "page_size",
        "schema_version",
        "data_version",
        "user_version",
        "application_id",
        "encoding",
        "freelist_count",
        "table_list",
        "foreign_keys",
        "query_only",
    }
)
# SQL functions nobody may call: extension loading, and fts3_tokenizer, which returns a pointer
# (an address leak) and with two arguments installs one (arbitrary code execution).
DENIED_FUNCTIONS = frozenset({"load_extension", "fts3_tokenizer"})
# Tables nobody may read: sqlite_stmt lists the statements cached on the connection, which are
# other visitors' queries, since connections are shared between requests.
DENIED_TABLES = frozenset({"sqlite_stmt"})

_WRITES = frozenset(
    getattr(sqlite3, name)
    for name in (
        "SQLITE_INSERT",
        "SQLITE_UPDATE",
        "SQLITE_DELETE",
        "SQLITE_CREATE_INDEX",
        "SQLITE_CREATE_TABLE",
        "SQLITE_CREATE_TEMP_INDEX",
        "SQLITE_CREATE_TEMP_TABLE",
        "SQLITE_CREATE_TEMP_TRIGGER",
        "SQLITE_CREATE_TEMP_VIEW",
        "SQLITE_CREATE_TRIGGER",
        "SQLITE_CREATE_VIEW",
        "SQLITE_CREATE_VTABLE",
        "SQLITE_DROP_INDEX",
        "SQLITE_DROP_TABLE",
        "SQLITE_DROP_TEMP_INDEX",
        "SQLITE_DROP_TEMP_TABLE",
        "SQLITE_DROP_TEMP_TRIGGER",
        "SQLITE_DROP_TEMP_VIEW",
        "SQLITE_DROP_TRIGGER",
        "SQLITE_DROP_VIEW",
        "SQLITE_DROP_VTABLE",
        "SQLITE_ALTER_TABLE",
        "SQLITE_REINDEX",
        "SQLITE_ANALYZE",
        "SQLITE_ATTACH",
        "SQLITE_DETACH",
        "SQLITE_TRANSACTION",
        "SQLITE_SAVEPOINT",
    )
)


# SQLite asks to "update" the schema table whenever it sets up an eponymous virtual table
# (pragma_table_info(), dbstat, …); nothing is written, and a real write to it is impossible without
# PRAGMA writable_schema, which is denied.
_SCHEMA_TABLES = frozenset({"sqlite_master", "sqlite_schema", "sqlite_temp_master", "sqlite_temp_schema"})


def authorize(action: int, arg1: str | None, arg2: str | None, database: str | None, source: str | None) -> int:
    """SQLite authorizer: read-only, no attach, no state-changing PRAGMA, no dangerous function."""
    if action == sqlite3.SQLITE_UPDATE and (arg1 or "").lower() in _SCHEMA_TABLES:
        return sqlite3.SQLITE_OK
    if action in _WRITES:
        return sqlite3.SQLITE_DENY
    if action == sqlite3.SQLITE_PRAGMA:
        name = (arg1 or "").lower()
        if name in DESCRIBING_PRAGMAS or (name in READABLE_PRAGMAS and arg2 is None):
            return sqlite3.SQLITE_OK
        return sqlite3.SQLITE_DENY
    if action == sqlite3.SQLITE_FUNCTION:
        return sqlite3.SQLITE_DENY if (arg2 or "").lower() in DENIED_FUNCTIONS else sqlite3.SQLITE_OK
    if action == sqlite3.SQLITE_READ:
        table = (arg1 or "").lower()
        if table in DENIED_TABLES:
            return sqlite3.SQLITE_DENY
        if table.startswith("pragma_"):
            name = table.removeprefix("pragma_")
            return sqlite3.SQLITE_OK if name in DESCRIBING_PRAGMAS | READABLE_PRAGMAS else sqlite3.SQLITE_DENY
    return sqlite3.SQLITE_OK


# printf('%.*c', N, 'x') repeats a character N times inside one SQLite instruction, where the time
# limit cannot stop it: two billion repeats take seconds even after the length limit is hit.
_REPEATED_CHARACTER = re.compile(r"%[-+ 0#!,]*(?:\d+|\*)?\.(\d+|\*)(?:ll?)?c")
_plain = threading.local()


def _as_number(value: object) -> float:
    if isinstance(value, (int, float)):
        return value
    try:
        return float(value) if isinstance(value, str) else 0.0
    except ValueError:
        return 0.0


def bounded_printf(*args: object) -> object:
    """SQLite's printf()/format(), except that a repeat count beyond the value limit gives NULL at once.

    NULL is what SQLite itself returns for an over-long result; it just takes seconds to get there.
    Everything else is computed by SQLite's own printf on a private in-memory connection.
    """
    if args and isinstance(args[0], str):
        for precision in _REPEATED_CHARACTER.findall(args[0]):
            counts = [_as_number(a) for a in args[1:]] if precision == "*" else [float(precision)]
            if any(abs(count) > MAX_VALUE_BYTES for count in counts):
                return None
    if not hasattr(_plain, "conn"):
        _plain.conn = sqlite3.connect(":memory:")
        _plain.conn.setlimit(sqlite3.SQLITE_LIMIT_LENGTH, MAX_VALUE_BYTES)
    placeholders = ", ".join("?" * len(args))
    return _plain.conn.execute(f"select printf({placeholders})", args).fetchone()[0]


class ResultTooLarge(sqlite3.OperationalError):
    """A query fetched more bytes than one response may hold."""


def budgeted_row_factory(limit: int = MAX_RESULT_BYTES) -> Callable[[sqlite3.Cursor, tuple], sqlite3.Row]:
    """A row factory that builds `sqlite3.Row`s and fails a cursor once it has fetched `limit` bytes.

    Raising `sqlite3.OperationalError` from here makes Datasette answer 400 with the message, as
    for any other SQL error.
    """
    spent: weakref.WeakKeyDictionary[sqlite3.Cursor, int] = weakref.WeakKeyDictionary()

    def factory(cursor: sqlite3.Cursor, values: tuple) -> sqlite3.Row:
        size = sum(len(v) for v in values if isinstance(v, (str, bytes)))
        if size > 4096 or cursor in spent:
            total = spent.get(cursor, 0) + size
            spent[cursor] = total
            if total > limit:
                raise ResultTooLarge(
                    f"query result is larger than {limit // 1_000_000} MB; select fewer rows or columns"
                )
        return sqlite3.Row(cursor, values)

    return factory


def should_harden(database: str, served: Iterable[str]) -> bool:
    """Every database visitors can query is hardened.

    Left alone: Datasette's `_internal` catalogue (it must write; visitors cannot query it) and
    throwaway connections for names that are not served (e.g. the in-memory connection
    Datasette opens to probe FTS support for /-/versions).
    """
    return database in served and database not in INTERNAL_DATABASES


def harden_connection(conn: sqlite3.Connection) -> None:
    """Make a connection safe for anonymous SQL: read-only, nothing attached, bounded results."""
    if hasattr(conn, "enable_load_extension"):
        conn.enable_load_extension(False)
    conn.execute("PRAGMA query_only = 1")
    conn.setlimit(sqlite3.SQLITE_LIMIT_ATTACHED, 0)
    conn.setlimit(sqlite3.SQLITE_LIMIT_LENGTH, MAX_VALUE_BYTES)
    conn.setlimit(sqlite3.SQLITE_LIMIT_SQL_LENGTH, MAX_SQL_BYTES)
    for name in ("printf", "format"):
        conn.create_function(name, -1, bounded_printf, deterministic=True)
    conn.set_authorizer(authorize)
    conn.row_factory = budgeted_row_factory()


def prepare_connection(conn: sqlite3.Connection, database: str, served: Iterable[str]) -> None:
    """Datasette's prepare_connection hook: harden the connection when it serves visitors."""
    if should_harden(database, served):
        harden_connection(conn)
