"""How many visitor SQL requests run at once: a few per client, a few more per server process.

Used by `kechuang.serve.security.bulkhead`; a request over either limit waits briefly for a place and
is then refused (429 for its client, 503 for the process).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator

from kechuang.serve.security.guard import Scope


def client_key(scope: Scope) -> str:
    """Who is asking: the peer address, or, on a Unix socket behind nginx, the address nginx forwarded."""
    client = scope.get("client")
    if client and client[0]:
        return str(client[0])
    for name, value in scope.get("headers") or []:
        if name == b"x-forwarded-for":
            return value.decode("latin-1").rsplit(",", 1)[-1].strip()
    return ""


class Admission:
    """At most `per_client` requests per client and `total` in all; others wait, then are refused."""

    def __init__(self, per_client: int, total: int) -> None:
        self.per_client = per_client
        self.total = total
        self.running: dict[str, int] = {}
        self._changed: asyncio.Condition | None = None

    def _room(self, client: str) -> str | None:
        if self.running.get(client, 0) >= self.per_client:
            return "client"
        if sum(self.running.values()) >= self.total:
            return "total"
        return None

    @contextlib.asynccontextmanager
    async def slot(self, client: str, wait: float) -> AsyncIterator[str | None]:
        """Yields None once admitted, or why not ("client", "total") after waiting `wait` seconds."""
        if self._changed is None:
            self._changed = asyncio.Condition()
        deadline = time.monotonic() + wait
        async with self._changed:
            while (full := self._room(client)) and (left := deadline - time.monotonic()) > 0:
                with contextlib.suppress(asyncio.TimeoutError):
                    await asyncio.wait_for(self._changed.wait(), left)
            if full:
                yield full
                return
            self.running[client] = self.running.get(client, 0) + 1
        try:
            yield None
        finally:
            async with self._changed:
                self.running[client] -= 1
                if not self.running[client]:
                    del self.running[client]
                self._changed.notify_all()
