"""A small pool of worker processes for visitor SQL: its own capacity, and a deadline that always holds.

Datasette runs every query on three threads shared by the whole portal, and stops a query only
between SQLite steps; one step can last minutes, and three such queries hold every thread. Here a
visitor query runs in one of `size` processes (`kechuang.serve.security.sqlworker`). The server only
waits on a pipe, without a thread, so the API, search and pages keep Datasette's threads. At the
deadline the worker stops the query itself; if it has not answered a moment later (a single long
step), or the visitor has gone, the process is killed and a new one started.
"""

from __future__ import annotations

import asyncio
import contextlib
import pickle
import sys
import time
from dataclasses import dataclass
from typing import Any

from kechuang.serve.security.sqlworker import _FRAME

# How long a worker may take to answer after its deadline before it is killed: enough for the
# progress handler (checked every 1,000 steps) and for sending the rows back.
GRACE_SECONDS = 0.25


class PoolBusy(Exception):
    """No worker became free before the deadline."""


class ResultTooLarge(Exception):
    """A query's rows, as they would be encoded, exceed the result budget.

    Not an `sqlite3` error on purpose: Datasette's CSV export would then send an empty 200; raised as
    it is, every format answers 400 (`kechuang.serve.security.errors`)."""


class WorkerLost(Exception):
    """The worker overran its deadline, was killed, or died (memory limit)."""


@dataclass
class Answer:
    """What a worker answered: columns and rows, or an error kind and message."""

    ok: bool
    columns: list[str]
    rows: list[tuple]
    error_kind: str = ""
    message: str = ""
    error_class: str = "OperationalError"


class Worker:
    """One worker process and the pipe to it."""

    def __init__(self, process: asyncio.subprocess.Process) -> None:
        self.process = process

    @classmethod
    async def start(cls, uri: str) -> Worker:
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "kechuang.serve.security.sqlworker",
            uri,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            limit=2**20,
        )
        return cls(process)

    async def ask(self, request: dict[str, Any]) -> tuple:
        assert self.process.stdin is not None and self.process.stdout is not None
        data = pickle.dumps(request, protocol=pickle.HIGHEST_PROTOCOL)
        self.process.stdin.write(_FRAME.pack(len(data)) + data)
        await self.process.stdin.drain()
        head = await self.process.stdout.readexactly(_FRAME.size)
        return pickle.loads(await self.process.stdout.readexactly(_FRAME.unpack(head)[0]))

    def kill(self) -> None:
        """Kill the process now; it is reaped in the background."""
        with contextlib.suppress(ProcessLookupError):
            self.process.kill()
        task = asyncio.get_running_loop().create_task(self.process.wait())
        _reaping.add(task)
        task.add_done_callback(_reaping.discard)


_reaping: set[asyncio.Task] = set()


class VisitorPool:
    """`size` workers on one database, started when first needed and replaced when killed."""

    def __init__(self, uri: str, size: int) -> None:
        self.uri = uri
        self.size = size
        self.started = 0
        self.killed = 0
        self._idle: list[Worker] = []
        self._waiters: list[asyncio.Future[Worker]] = []

    def _start(self) -> None:
        """Start a worker in the background; it goes to the first waiter, or is kept idle."""
        self.started += 1
        task = asyncio.get_running_loop().create_task(Worker.start(self.uri))
        _reaping.add(task)
        task.add_done_callback(self._replaced)

    async def _acquire(self, deadline: float) -> Worker:
        if self._idle:
            return self._idle.pop()
        if self.started < self.size:
            self._start()  # waited for below, within the deadline: a busy machine may take seconds
        waiter: asyncio.Future[Worker] = asyncio.get_running_loop().create_future()
        self._waiters.append(waiter)
        try:
            return await asyncio.wait_for(asyncio.shield(waiter), max(0.0, deadline - time.monotonic()))
        except (TimeoutError, asyncio.CancelledError) as e:
            if waiter.done() and not waiter.cancelled() and waiter.exception() is None:
                self._release(waiter.result())  # handed over just as we gave up: pass it on
            else:
                waiter.cancel()
            if isinstance(e, asyncio.TimeoutError):
                raise PoolBusy from None
            raise
        finally:
            with contextlib.suppress(ValueError):
                self._waiters.remove(waiter)

    def _release(self, worker: Worker) -> None:
        while self._waiters:
            waiter = self._waiters.pop(0)
            if not waiter.done():
                waiter.set_result(worker)
                return
        self._idle.append(worker)

    def _discard(self, worker: Worker) -> None:
        """Kill `worker` and start its replacement now, so no request waits for a process to boot."""
        worker.kill()
        self.killed += 1
        self.started -= 1
        self._start()

    def _replaced(self, task: asyncio.Task) -> None:
        _reaping.discard(task)
        if task.cancelled() or task.exception() is not None:
            self.started -= 1  # the next request tries again
            return
        self._release(task.result())

    async def run(self, request: dict[str, Any], deadline: float) -> Answer:
        """Run one query before `deadline` (time.monotonic()); PoolBusy or WorkerLost when it cannot."""
        worker = await self._acquire(deadline)
        healthy = False
        try:
            request = {**request, "seconds": max(0.0, deadline - time.monotonic())}
            reply = await asyncio.wait_for(worker.ask(request), request["seconds"] + GRACE_SECONDS)
            healthy = True
        except (TimeoutError, asyncio.IncompleteReadError, BrokenPipeError, ConnectionResetError):
            raise WorkerLost from None
        finally:
            if healthy:
                self._release(worker)
            else:
                self._discard(worker)
        if reply[0] == "ok":
            return Answer(True, reply[1], reply[2])
        return Answer(False, [], [], *reply[1:])

    async def aclose(self) -> None:
        """Kill the idle workers and wait until every killed process is reaped."""
        for worker in self._idle:
            worker.kill()
        self._idle.clear()
        while _reaping:
            await asyncio.gather(*_reaping, return_exceptions=True)
