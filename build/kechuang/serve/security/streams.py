"""Two ASGI helpers for responses whose cost a visitor chooses: a cap on what is sent, and stopping the
work when the visitor has gone.

Used by `kechuang.serve.security.bulkhead` for visitor SQL requests.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

from kechuang.serve.http import error_response
from kechuang.serve.security.guard import ASGIApp, Message, Receive, Scope, Send


def _truncation_note(content_type: bytes, limit: int) -> bytes:
    message = f"the response is larger than {limit // 2**20} MB and was cut here; select fewer rows or columns"
    if content_type.startswith(b"text/html"):
        return f"\n<p><strong>{message}</strong></p>\n".encode()
    return f"\n# {message}\n".encode()


def capped(send: Send, limit: int, retry_after: int = 3) -> Send:
    """`send`, holding the response head until the first body part: an answer over `limit` bytes becomes a
    413; a stream that passes it ends with a note. 429 and 503 get `Retry-After`."""
    state: dict[str, Any] = {"start": None, "sent": 0, "closed": False}

    async def send_capped(message: Message) -> None:
        if state["closed"]:
            return
        if message["type"] == "http.response.start":
            state["start"] = message
            return
        if message["type"] != "http.response.body":
            await send(message)
            return
        body, more = message.get("body", b""), message.get("more_body", False)
        if (start := state["start"]) is not None:
            state["start"] = None
            headers = list(start.get("headers") or [])
            if not more and len(body) > limit:
                state["closed"] = True
                megabytes = limit // 2**20
                await error_response(
                    413, f"The answer is larger than {megabytes} MB; select fewer rows or columns.", code="too_large"
                ).asgi_send(send)
                return
            if start.get("status") in (429, 503) and not any(n.lower() == b"retry-after" for n, _ in headers):
                headers.append((b"retry-after", str(retry_after).encode()))
            state["content_type"] = next((v for n, v in headers if n.lower() == b"content-type"), b"")
            await send({**start, "headers": headers})
        if state["sent"] + len(body) > limit:
            state["closed"] = True
            cut = body[: max(0, limit - state["sent"])] + _truncation_note(state["content_type"], limit)
            await send({"type": "http.response.body", "body": cut, "more_body": False})
            return
        state["sent"] += len(body)
        await send(message)

    return send_capped


async def until_disconnect(app: ASGIApp, scope: Scope, receive: Receive, send: Send) -> None:
    """Run `app`, cancelling it if the client goes away first (its SQL workers are then killed)."""
    first = await receive()
    if first["type"] == "http.disconnect":
        return
    gone = asyncio.Event()
    delivered = False

    async def replay() -> Message:
        nonlocal delivered
        if not delivered:
            delivered = True
            return first
        await gone.wait()
        return {"type": "http.disconnect"}

    async def watch() -> None:
        while (await receive())["type"] != "http.disconnect":
            pass
        gone.set()

    answer = asyncio.ensure_future(app(scope, replay, send))
    watcher = asyncio.ensure_future(watch())
    try:
        await asyncio.wait({answer, watcher}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        watcher.cancel()
        if not answer.done():
            answer.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await answer
