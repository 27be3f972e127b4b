"""SQL that anyone can run stays harmless.

Attacks go to the served portal, as an outsider would send them; while each runs, an ordinary
visitor keeps asking for a table and must get it. The connection hardening is also tested on its
own, on a writable connection, so it does not lean on the immutable file or on Datasette's checks.
"""

from __future__ import annotations

import hashlib
import math
import shutil
import sqlite3
import threading
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest

from kechuang.serve.security.connection import MAX_RESULT_BYTES, MAX_VALUE_BYTES, harden_connection

pytestmark = pytest.mark.slow

TABLES_OF_NOTE = ("policies", "units", "indicators", "jurisdictions")


def run_sql(base_url: str, sql: str, timeout: float = 60) -> httpx.Response:
    return httpx.get(f"{base_url}/kechuang.json", params={"sql": sql, "_shape": "objects"}, timeout=timeout)


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@dataclass
class Siege:
    """An attack request and the ordinary requests made while it was in flight."""

    attack: httpx.Response | None = None
    bystanders: list[httpx.Response] = field(default_factory=list)
    answered_during_attack: int = 0


def besiege(base_url: str, sql: str, bystander_path: str) -> Siege:
    """Send `sql`; until it is answered, keep requesting `bystander_path` one request after another."""
    siege = Siege()
    done = threading.Event()

    def attack() -> None:
        try:
            siege.attack = run_sql(base_url, sql)
        finally:
            done.set()

    thread = threading.Thread(target=attack)
    thread.start()
    with httpx.Client(base_url=base_url, timeout=60) as client:
        while True:
            response = client.get(bystander_path)
            siege.bystanders.append(response)
            if done.is_set():
                break
            siege.answered_during_attack += 1
    thread.join()
    return siege


def largest_table(portal) -> tuple[str, int]:
    counts = {
        t: run_sql(portal.base_url, f"select count(*) as n from {t}").json()["rows"][0]["n"] for t in TABLES_OF_NOTE
    }
    name = max(counts, key=counts.__getitem__)
    return name, counts[name]


def cartesian_count_sql(table: str, rows: int) -> str:
    """count(*) over enough self-joins of `table` that the product exceeds 10^11 rows."""
    joins = max(2, math.ceil(11 / math.log10(max(rows, 2))))
    return "select count(*) from " + ", ".join(f"{table} t{i}" for i in range(joins))


BYSTANDER = "/kechuang/units.json?_shape=array"
RECURSIVE = "with recursive r(i) as (select 1 union all select i + 1 from r)"

# (name, SQL) that must be stopped by the SQL time limit: each would run for hours.
TIME_BOMBS = [
    ("recursive CTE bomb", f"{RECURSIVE} select count(*) from r"),
    ("recursive string growth", f"{RECURSIVE} select max(length(printf('%.*c', i % 100000, 'x'))) from r"),
    ("randomblob flood counted", f"{RECURSIVE} select sum(length(randomblob(900000))) from r"),
]

# (name, SQL, words expected in the error) that must be refused.
REFUSED = [
    ("insert", "insert into units values ('x', 'x', 'x', 1)", "must be a SELECT"),
    ("update via CTE", "with x as (select 1) update units set factor = 0", "not authorized"),
    ("delete via CTE", "with x as (select 1) delete from units", "not authorized"),
    ("insert via CTE", "with x as (select 1) insert into units select * from units", "not authorized"),
    ("drop table", "drop table units", "must be a SELECT"),
    ("attach", "attach database '/tmp/kechuang-attack.db' as attack", "must be a SELECT"),
    ("load_extension", "select load_extension('/usr/lib/x86_64-linux-gnu/libsqlite3.so.0')", "not authorized"),
    ("fts3_tokenizer pointer leak", "select hex(fts3_tokenizer('simple'))", "not authorized"),
    ("other visitors' statements", "select sql from sqlite_stmt", ""),
    ("pragma write", "pragma query_only = 0", "must be a SELECT"),
    ("pragma function write", "select * from pragma_cache_size(1)", "disallowed PRAGMA"),
    ("huge randomblob", "select randomblob(2000000000)", "too big"),
    ("huge zeroblob", "select length(zeroblob(2000000000))", "too big"),
    ("randomblob rows flood", f"{RECURSIVE} select randomblob(900000) as b from r", "larger than"),
]


@pytest.fixture(scope="module")
def besieged(start_portal, built_db, tmp_path_factory):
    """A portal of its own, so its peak memory reflects these attacks only."""
    db = tmp_path_factory.mktemp("besieged") / "kechuang.db"
    shutil.copy(built_db, db)
    return start_portal(db)


def peak_rss_kb(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    raise AssertionError("no VmHWM in /proc status")


@pytest.mark.parametrize(("name", "sql"), TIME_BOMBS, ids=[c[0] for c in TIME_BOMBS])
def test_time_bombs_are_stopped_while_others_are_served(besieged, name, sql):
    siege = besiege(besieged.base_url, sql, BYSTANDER)
    assert siege.attack is not None
    assert siege.attack.status_code == 400, siege.attack.text[:300]
    assert "too long" in siege.attack.json()["error"]
    assert all(r.status_code == 200 and r.json() for r in siege.bystanders)
    assert siege.answered_during_attack >= 1, "no ordinary request was answered while the attack ran"


def test_cartesian_join_is_stopped_while_pages_are_served(besieged):
    table, rows = largest_table(besieged)
    siege = besiege(besieged.base_url, cartesian_count_sql(table, rows), "/kechuang/policies")
    assert siege.attack is not None and siege.attack.status_code == 400
    assert "too long" in siege.attack.json()["error"]
    assert all(r.status_code == 200 and "<table" in r.text for r in siege.bystanders)
    assert siege.answered_during_attack >= 1


@pytest.mark.parametrize(("name", "sql", "why"), REFUSED, ids=[c[0] for c in REFUSED])
def test_hostile_sql_is_refused_and_changes_nothing(besieged, name, sql, why):
    before_units = run_sql(besieged.base_url, "select * from units order by unit_zh").json()["rows"]
    before_page = besieged.get(BYSTANDER).json()
    before_file = sha256(besieged.db)
    siege = besiege(besieged.base_url, sql, BYSTANDER)
    assert siege.attack is not None
    assert siege.attack.status_code == 400, siege.attack.text[:300]
    body = siege.attack.json()
    assert body["ok"] is False and body.get("rows", []) == []
    assert why in body["error"]
    assert all(r.status_code == 200 and r.json() == before_page for r in siege.bystanders)
    assert run_sql(besieged.base_url, "select * from units order by unit_zh").json()["rows"] == before_units
    assert sha256(besieged.db) == before_file


def test_printf_repeat_bomb_is_defused(besieged):
    """printf('%.*c', 2^31-1, 'x') spins for seconds inside one SQLite instruction, out of the time
    limit's reach; fifty of them in one expression would hold a SQL thread for minutes. The hardened
    printf answers NULL (what SQLite answers, eventually) at once, and normal printf still works."""
    bomb = " || ".join(["printf('%.*c', 2147483647, 'x')"] * 50)
    siege = besiege(besieged.base_url, f"select {bomb} as s, printf('%.2f', 3.14159) as ok", BYSTANDER)
    assert siege.attack is not None and siege.attack.status_code == 200, siege.attack.text[:300]
    assert siege.attack.json()["rows"] == [{"s": None, "ok": "3.14"}]
    assert all(r.status_code == 200 for r in siege.bystanders)


def test_pragma_settings_are_unchanged_after_attempts(besieged):
    settings = "select * from pragma_page_size, pragma_max_page_count, pragma_schema_version"
    before = run_sql(besieged.base_url, settings).json()["rows"]
    for sql in ["pragma page_size = 512", "select * from pragma_max_page_count(10)", "pragma schema_version = 1"]:
        assert run_sql(besieged.base_url, sql).status_code == 400
    assert run_sql(besieged.base_url, settings).json()["rows"] == before


def test_huge_limit_returns_at_most_max_returned_rows(besieged):
    settings = besieged.get("/-/settings.json").json()
    table, rows = largest_table(besieged)
    joins = max(2, math.ceil(math.log(settings["max_returned_rows"] * 10, max(rows, 2))))
    sql = "select t0.rowid from " + ", ".join(f"{table} t{i}" for i in range(joins)) + " limit 9223372036854775807"
    response = run_sql(besieged.base_url, sql)
    assert response.status_code == 200, response.text[:300]
    assert len(response.json()["rows"]) == settings["max_returned_rows"]
    assert response.json()["truncated"] is True
    assert besieged.get("/kechuang/units.json?_size=1000000").status_code == 400


def test_floods_do_not_balloon_server_memory(besieged):
    """Every flood above ran against this server; its peak memory must stay far below a gigabyte.

    Without the per-value and per-result caps, one `randomblob` rows flood alone returns 1,000
    rows of 900 KB: a peak of about a gigabyte before JSON encoding.
    """
    for _ in range(3):
        assert run_sql(besieged.base_url, f"{RECURSIVE} select randomblob(900000) as b from r").status_code == 400
    assert peak_rss_kb(besieged.process.pid) < 600 * 1024


# --- the connection hardening on its own -------------------------------------------------------


@pytest.fixture
def hardened(built_db, tmp_path) -> sqlite3.Connection:
    """A WRITABLE copy of the database, hardened: only the hardening stands between SQL and the file."""
    path = tmp_path / "writable.db"
    shutil.copy(built_db, path)
    conn = sqlite3.connect(path)
    harden_connection(conn)
    yield conn
    conn.close()


@pytest.mark.parametrize(
    "sql",
    [
        "insert into units values ('x', 'x', 'x', 1)",
        "update units set factor = 0",
        "delete from units",
        "drop table units",
        "create table attack (x)",
        "create temp table attack (x)",
        "create index attack on units (factor)",
        "alter table units add column attack",
        "attach database ':memory:' as attack",
        "detach database main",
        "pragma query_only = 0",
        "pragma writable_schema = 1",
        "update sqlite_master set sql = 'create table units (x)' where name = 'units'",
        "pragma journal_mode = delete",
        "pragma cache_size = 1",
        "select * from pragma_cache_size(1)",
        "select load_extension('libsqlite3.so.0')",
        "select fts3_tokenizer('simple')",
        "select sql from sqlite_stmt",
        "reindex",
        "analyze",
        "vacuum",
        "begin",
        "savepoint s",
        "create virtual table attack using fts5(x)",
    ],
)
def test_hardened_connection_refuses(hardened, sql):
    with pytest.raises(sqlite3.DatabaseError):
        hardened.execute(sql).fetchall()


def test_hardened_connection_still_reads_and_describes(hardened):
    assert hardened.execute("select count(*) from units").fetchone()[0] > 0
    assert hardened.execute("pragma table_info(units)").fetchall()
    assert hardened.execute("select * from pragma_foreign_key_list('targets')").fetchall()
    assert hardened.execute("pragma schema_version").fetchone()[0] > 0
    row = hardened.execute("select unit_zh, factor from units limit 1").fetchone()
    assert row.keys() == ["unit_zh", "factor"]


def test_hardened_connection_caps_values_and_results(hardened):
    assert hardened.execute(f"select length(randomblob({MAX_VALUE_BYTES}))").fetchone()[0] == MAX_VALUE_BYTES
    with pytest.raises(sqlite3.DataError):
        hardened.execute(f"select randomblob({MAX_VALUE_BYTES + 1})").fetchall()
    rows_needed = MAX_RESULT_BYTES // MAX_VALUE_BYTES + 2
    with pytest.raises(sqlite3.OperationalError, match="larger than"):
        hardened.execute(f"{RECURSIVE} select randomblob({MAX_VALUE_BYTES}) from r limit {rows_needed}").fetchall()
    # the budget is per query: the next query starts afresh
    assert len(hardened.execute(f"{RECURSIVE} select randomblob(1000) from r limit 100").fetchall()) == 100


def test_database_file_is_unchanged_by_the_whole_siege(besieged, built_db):
    assert sha256(besieged.db) == sha256(built_db)
    assert besieged.get("/-/databases.json").json()[0]["is_mutable"] is False
