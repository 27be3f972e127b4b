"""Visitor SQL cannot exhaust the portal: one request per attack class, each answered with a 4xx at the
end of its budget, while a citizen asking the API, search or a page at the same time is answered first.

In process (the portal's Datasette, real SQLite, real worker processes); the pool, the admission and
the response cap are also tested on their own where a whole request cannot reach them.
"""

from __future__ import annotations

import asyncio
import itertools
import threading
import time
from dataclasses import dataclass, field

import httpx
import pytest

from kechuang.serve.security import bulkhead, streams
from kechuang.serve.security.sqlpool import VisitorPool

RECURSIVE = "with recursive r(i) as (select 1 union all select i + 1 from r)"
# One SQLite step each that lasts far longer than the time limit (tens of seconds to minutes).
LONG = "printf('%.900000c', 'a')"
PATTERN = "printf('%.40000c', 'a')"
SINGLE_STEP = {
    "like": f"select {LONG} like '%' || {PATTERN} || 'b%'",
    "instr": f"select instr({LONG}, printf('%.450000c', 'a') || 'b')",
}
_varied = itertools.count()


def bystander_paths():
    """A citizen's requests: an uncached API item list, search, a page; varied so no cache answers."""
    for i in itertools.count(1):
        n = next(_varied)
        yield f"/api/v1/targets?limit={1 + n % 100}&deadline_year_min={2000 + n // 100 % 30}"
        yield f"/api/v1/search?q=%E5%88%9B%E6%96%B0&limit={1 + i % 20}"
        yield "/targets"


@dataclass
class Siege:
    attack: httpx.Response | None = None
    attack_finished: float = 0.0
    bystanders: list[tuple[httpx.Response, float]] = field(default_factory=list)


def besiege(portal, path: str, params: dict[str, str] | None = None) -> Siege:
    """Send the attack; until it is answered, keep asking the bystander requests one after another."""
    siege = Siege()
    done = threading.Event()

    def attack() -> None:
        try:
            siege.attack = portal.get(path, params=params, timeout=60)
        finally:
            siege.attack_finished = time.monotonic()
            done.set()

    thread = threading.Thread(target=attack)
    thread.start()
    for bystander in bystander_paths():
        siege.bystanders.append((portal.get(bystander, timeout=60), time.monotonic()))
        if done.is_set():
            break
    thread.join()
    return siege


def assert_bystanders_served_first(siege: Siege) -> None:
    assert siege.bystanders
    for response, _ in siege.bystanders:
        assert response.status_code == 200, (response.request.url, response.text[:200])
    assert siege.bystanders[0][1] < siege.attack_finished, "no citizen was answered while the attack ran"


@pytest.mark.slow
@pytest.mark.parametrize("name", ["like", "instr"])
def test_single_step_functions_end_at_the_deadline(portal, name):
    """One SQLite step the progress handler cannot stop: the worker process is killed at the deadline."""
    siege = besiege(portal, "/kechuang.json", {"sql": SINGLE_STEP[name]})
    assert siege.attack is not None
    assert siege.attack.status_code == 400, siege.attack.text[:300]
    assert "too long" in siege.attack.json()["error"]
    assert_bystanders_served_first(siege)


@pytest.mark.slow
def test_table_page_with_where_has_one_budget_and_no_suggestions(portal):
    """`_where` on a table page: main query, count and facets share one budget; no facet suggestions."""
    slow = f"instr({LONG}, printf('%.100000c', 'a') || 'b') = 0"
    siege = besiege(portal, "/kechuang/targets.json", {"_where": slow, "_facet": "status", "_size": "1"})
    assert siege.attack is not None and siege.attack.status_code in (200, 400), siege.attack.text[:300]
    if siege.attack.status_code == 200:
        assert siege.attack.json()["suggested_facets"] == []
    assert_bystanders_served_first(siege)


def test_suggestions_still_offered_without_visitor_sql(portal):
    assert portal.get("/kechuang/measures.json").json()["suggested_facets"]


@pytest.mark.slow
def test_large_json_result_is_refused(portal):
    """A few hundred bytes of SQL asking for hundreds of megabytes of JSON (CJK escapes to 6 bytes)."""
    sql = f"{RECURSIVE} select printf('%.100000c', '中') as s from r limit 1000"
    siege = besiege(portal, "/kechuang.json", {"sql": sql})
    assert siege.attack is not None and siege.attack.status_code == 400, siege.attack.text[:300]
    assert "larger than" in siege.attack.json()["error"]
    assert_bystanders_served_first(siege)


def test_large_csv_export_is_refused(portal):
    sql = f"{RECURSIVE} select printf('%.100000c', 'x') as s from r limit 1000"
    response = portal.get("/kechuang.csv", params={"sql": sql})
    assert response.status_code == 400
    assert "larger than" in response.text


@pytest.mark.slow
def test_csv_export_out_of_time_is_a_400(portal):
    response = portal.get("/kechuang.csv", params={"sql": SINGLE_STEP["like"]})
    assert response.status_code == 400


def test_large_html_result_is_refused(portal):
    columns = ", ".join(f"printf('%.2000c', 'x') as c{i}" for i in range(40))
    response = portal.get("/kechuang", params={"sql": f"{RECURSIVE} select {columns} from r limit 1000"})
    assert response.status_code == 400
    assert "larger than" in response.text


@pytest.mark.slow
def test_sorting_large_values_stops_at_the_temp_file_limit(portal):
    sql = f"{RECURSIVE} select length(b) from (select randomblob(900000) as b from r limit 5000) order by b"
    response = portal.get("/kechuang.json", params={"sql": sql}, timeout=60)
    assert response.status_code == 400, response.text[:300]


@pytest.mark.slow
def test_a_client_running_too_many_sql_requests_gets_429(portal):
    sql = SINGLE_STEP["like"]
    answers: list[httpx.Response] = []

    def attack(i: int) -> None:
        answers.append(portal.get("/kechuang.json", params={"sql": f"{sql} or {i}"}, timeout=60))

    threads = [threading.Thread(target=attack, args=(i,)) for i in range(bulkhead.PER_CLIENT + 1)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    refused = [r for r in answers if r.status_code == 429]
    assert len(refused) == 1, [r.status_code for r in answers]
    assert refused[0].headers["retry-after"] == str(bulkhead.RETRY_AFTER_SECONDS)
    assert refused[0].json()["error"]["code"] == "too_many_requests"
    assert sorted(r.status_code for r in answers) == [400] * bulkhead.PER_CLIENT + [429]


@pytest.mark.parametrize(
    ("path", "status"),
    [
        ("/kechuang/targets.json?a__in=" + "[" * 2000, 400),
        ("/kechuang/targets_detail.json?_next=99999999999999999999999", 400),
        ("/kechuang/targets.json?_where=1=1;drop", 400),
        ("/kechuang.json?sql=select+1;drop+table+units", 400),
        ("/-/threads", 404),
        ("/-/threads.json", 404),
    ],
)
def test_hostile_input_is_never_a_500(portal, path, status):
    response = portal.get(path)
    assert response.status_code == status, response.text[:300]
    assert "content-security-policy" in response.headers


def test_forged_api_cursor_is_a_400(portal):
    import base64
    import json

    from kechuang.serve.api.pagination import _mac

    for value in (10**30, -(10**30)):
        payload = json.dumps(["deadline_year", 0, value, "x"]).encode()
        cursor = base64.urlsafe_b64encode(_mac(payload) + payload).rstrip(b"=").decode()
        response = portal.get(f"/api/v1/targets?sort=deadline_year&cursor={cursor}")
        assert response.status_code == 400, response.text[:300]


def test_writes_and_attach_are_still_refused(portal):
    for sql in ("with x as (select 1) delete from units", "select load_extension('x')", "attach ':memory:' as a"):
        assert portal.get("/kechuang.json", params={"sql": sql}).status_code == 400


# --- the parts on their own -------------------------------------------------------------------------


@pytest.mark.slow
def test_pool_kills_the_worker_when_the_request_is_cancelled(built_db):
    """A visitor who goes away cancels the request; the worker still running the query is killed."""

    async def scenario() -> VisitorPool:
        pool = VisitorPool(f"file:{built_db}?immutable=1", size=1)
        request = {"sql": SINGLE_STEP["like"], "params": None, "rows": 10, "max_bytes": 2**20}
        first = await pool.run({**request, "sql": "select 1"}, time.monotonic() + 10)  # started and warm
        assert first.ok and first.rows == [(1,)]
        task = asyncio.ensure_future(pool.run(request, time.monotonic() + 30))
        await asyncio.sleep(0.5)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        answer = await pool.run({**request, "sql": "select 2"}, time.monotonic() + 10)
        assert answer.ok and answer.rows == [(2,)]
        await pool.aclose()
        return pool

    pool = asyncio.run(scenario())
    assert pool.killed == 1


def test_until_disconnect_cancels_the_application():
    cancelled = asyncio.Event()

    async def app(scope, receive, send):
        try:
            await asyncio.Event().wait()
        finally:
            cancelled.set()

    messages = iter([{"type": "http.request", "body": b"", "more_body": False}, {"type": "http.disconnect"}])

    async def receive():
        return next(messages)

    async def send(message):
        raise AssertionError("nothing is sent to a client that left")

    asyncio.run(streams.until_disconnect(app, {"type": "http"}, receive, send))
    assert cancelled.is_set()


def sent_through_cap(messages: list[dict], limit: int) -> list[dict]:
    out: list[dict] = []

    async def send(message):
        out.append(message)

    async def scenario():
        capped = streams.capped(send, limit)
        for message in messages:
            await capped(message)

    asyncio.run(scenario())
    return out


def test_an_answer_over_the_cap_becomes_a_413():
    start = {"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"application/json")]}
    out = sent_through_cap([start, {"type": "http.response.body", "body": b"x" * 101}], limit=100)
    assert out[0]["status"] == 413
    assert b'"too_large"' in b"".join(m.get("body", b"") for m in out)


def test_a_stream_over_the_cap_ends_with_a_note():
    start = {"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"text/csv")]}
    parts = [{"type": "http.response.body", "body": b"a,b\n" * 10, "more_body": True} for _ in range(5)]
    out = sent_through_cap([start, *parts], limit=100)
    body = b"".join(m.get("body", b"") for m in out)
    assert out[0]["status"] == 200 and out[-1]["more_body"] is False
    assert body.startswith(b"a,b\n" * 25) and b"was cut here" in body


def test_visitor_routes():
    databases = {"kechuang": object(), "_internal": object()}
    assert bulkhead.visitor_database("/kechuang", databases) == "kechuang"
    assert bulkhead.visitor_database("/kechuang.json", databases) == "kechuang"
    assert bulkhead.visitor_database("/kechuang/targets.csv", databases) == "kechuang"
    assert bulkhead.visitor_database("/kechuang.db", databases) is None
    assert bulkhead.visitor_database("/api/v1/targets", databases) is None
    assert bulkhead.visitor_database("/_internal", databases) is None
    assert bulkhead.visitor_database("/", databases) is None
