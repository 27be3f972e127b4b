"""The process that runs visitor SQL, so that a query the time limit cannot stop can be killed.

SQLite checks its progress handler and `sqlite3_interrupt()` only between virtual-machine steps, and
one step (a `LIKE` with a long pattern, `instr`, `replace`) can run for minutes. A query run here
stops at its deadline in the ordinary case (the progress handler), and in the worst case the server
kills this process (`kechuang.serve.security.sqlpool`). The process is limited on its own: a lower
CPU priority than the server, an address-space limit, a size limit on the temporary files SQLite
sorts in, and a budget on the bytes of the result as it will be encoded.

Protocol on stdin/stdout: frames of a 4-byte big-endian length and a pickle. A request is a dict
(`sql`, `params`, `rows`: how many rows at most, `seconds`, `max_bytes`); the answer a tuple,
`("ok", columns, rows, truncated)` or `("error", kind, message[, sqlite3 error class])` with kind
`interrupted`, `too_large` or `sql`.
"""

from __future__ import annotations

import contextlib
import ctypes
import json
import os
import pickle
import resource
import signal
import sqlite3
import struct
import sys
import time
from typing import Any, BinaryIO

from kechuang.serve.security.connection import harden_connection

# Address space of one worker: Python and SQLite need about 60 MB; the rest bounds what one query
# may hold (SQLite's own heap is capped lower, so it fails with an SQL error before Python does).
ADDRESS_SPACE_BYTES = 512 * 2**20
SQLITE_HEAP_BYTES = 200 * 2**20
# Largest file the worker may write: SQLite's temporary sort and index files (sorting large blobs
# otherwise writes hundreds of megabytes before the time limit stops it).
TEMP_FILE_BYTES = 64 * 2**20
# Lower priority than the server, so visitor SQL takes only the CPU that pages and the API leave.
NICENESS = 10
# Bytes an encoded cell costs beyond its value: the markup of a table cell, a JSON key.
CELL_OVERHEAD = 32
_FRAME = struct.Struct(">I")
_PR_SET_PDEATHSIG = 1


def read_frame(stream: BinaryIO) -> Any:
    head = stream.read(_FRAME.size)
    if len(head) < _FRAME.size:
        raise EOFError
    return pickle.loads(stream.read(_FRAME.unpack(head)[0]))


def write_frame(stream: BinaryIO, message: Any) -> None:
    data = pickle.dumps(message, protocol=pickle.HIGHEST_PROTOCOL)
    stream.write(_FRAME.pack(len(data)) + data)
    stream.flush()


def die_with_parent() -> None:
    """Linux: be killed when the server dies, even in the middle of one long SQLite step."""
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)


def limit_process() -> None:
    """Lower priority, bounded memory and temporary files; a too-large write fails instead of killing."""
    die_with_parent()
    os.nice(NICENESS)
    resource.setrlimit(resource.RLIMIT_AS, (ADDRESS_SPACE_BYTES, ADDRESS_SPACE_BYTES))
    resource.setrlimit(resource.RLIMIT_FSIZE, (TEMP_FILE_BYTES, TEMP_FILE_BYTES))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def open_database(uri: str) -> sqlite3.Connection:
    conn = sqlite3.connect(uri, uri=True, check_same_thread=False)
    conn.execute(f"PRAGMA hard_heap_limit = {SQLITE_HEAP_BYTES}")
    conn.execute("PRAGMA temp_store = FILE")
    harden_connection(conn)
    conn.row_factory = None
    return conn


def encoded_size(value: object) -> int:
    """An upper bound on the bytes `value` takes in the JSON, CSV or HTML Datasette writes for it."""
    if isinstance(value, str):
        return len(value) if value.isascii() and value.isalnum() else len(json.dumps(value))
    if isinstance(value, bytes):
        return 2 * len(value)
    return 24


class TooLarge(Exception):
    pass


def run(conn: sqlite3.Connection, request: dict[str, Any]) -> tuple:
    deadline = time.monotonic() + request["seconds"]
    conn.set_progress_handler(lambda: time.monotonic() >= deadline, 1000)
    try:
        cursor = conn.execute(request["sql"], request["params"] or {})
        columns = [d[0] for d in cursor.description or ()]
        overhead = sum(len(c) + CELL_OVERHEAD for c in columns)
        budget, wanted, rows = request["max_bytes"], request["rows"], []
        for row in cursor:
            budget -= overhead + sum(encoded_size(v) for v in row)
            if budget < 0:
                raise TooLarge
            rows.append(row)
            if wanted is not None and len(rows) >= wanted:
                break
        return ("ok", columns, rows, False)
    except TooLarge:
        megabytes = request["max_bytes"] // 2**20
        return ("error", "too_large", f"query result is larger than {megabytes} MB; select fewer rows or columns")
    except (sqlite3.Error, sqlite3.Warning, OverflowError, ValueError, MemoryError) as e:
        if str(e) == "interrupted":
            return ("error", "interrupted", "interrupted")
        # sqlite3's own error classes travel (Datasette treats some apart); the rest are the visitor's
        # SQL too (two statements, an integer beyond 64 bits), so they are OperationalErrors.
        kind = type(e).__name__ if isinstance(e, sqlite3.Error) else "OperationalError"
        return ("error", "sql", str(e) or type(e).__name__, kind)
    finally:
        conn.set_progress_handler(None, 1000)


def main(uri: str) -> None:
    limit_process()
    conn = open_database(uri)
    stdin, stdout = sys.stdin.buffer, sys.stdout.buffer
    while True:
        try:
            request = read_frame(stdin)
        except EOFError:
            return
        write_frame(stdout, run(conn, request))


if __name__ == "__main__":
    main(sys.argv[1])
