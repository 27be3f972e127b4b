"""Caches that visitors fill stay within their budget, whatever the visitors send.

The API keeps finished responses by request. A visitor controls the key (up to 8 KB of query string,
the request guard's limit) and can make every request distinct; the cache must count what it really
holds, or a flood of distinct requests with long keys and tiny bodies grows the server without bound.
"""

from __future__ import annotations

import tracemalloc

from kechuang.serve.http import ResponseCache
from kechuang.serve.security.guard import MAX_QUERY_BYTES

BODY = b'{"collection":"targets","count":0,"limit":1,"items":[],"next":null}'


def flood(cache: ResponseCache, requests: int) -> None:
    for i in range(requests):
        query = f"fields=id&limit=1&agency={i:08d}".encode().ljust(MAX_QUERY_BYTES, b"a")
        headers = [(b"etag", b'"0123456789abcdef0123456789abcdef"'), (b"cache-control", b"public, max-age=300")]
        cache.put((b"/api/v1/targets", query, b""), (headers, BODY), len(BODY))


def test_distinct_long_keys_cannot_outgrow_the_budget():
    budget = 2 * 2**20
    cache = ResponseCache(max_bytes=budget)
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        flood(cache, 5000)  # 40 MB of keys, 0.3 MB of bodies
        held = tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()
    assert cache.size <= budget
    assert len(cache.entries) <= budget // MAX_QUERY_BYTES
    assert held <= 1.5 * budget, f"the cache holds {held / 2**20:.1f} MB for a {budget / 2**20:.0f} MB budget"


def test_the_budget_still_keeps_ordinary_responses():
    cache = ResponseCache(max_bytes=2 * 2**20)
    for i in range(200):
        cache.put(("/api/v1/targets", f"limit={i}", "application/json"), BODY, len(BODY))
    assert len(cache.entries) == 200
    assert cache.get(("/api/v1/targets", "limit=0", "application/json")) == BODY
