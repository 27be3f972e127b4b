"""Opaque cursors for keyset pagination: where the last page ended, in the order it was sorted.

A cursor is base64url of a short JSON array (sort field, direction, last sort value, last id)
behind a keyed checksum. It is not secret; the checksum only lets us answer a damaged or made-up
cursor with a 400 instead of a wrong page. Keyset paging stays correct while the client pages and
costs the same on page 100 as on page 1.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import math
from dataclasses import dataclass
from typing import Any

from kechuang.serve.http import HttpError

_KEY = b"kechuang-api-v1-cursor"
_MAC_BYTES = 8
MAX_CURSOR_LENGTH = 1024


@dataclass(frozen=True)
class Position:
    """Where a page ended: the sort value and the id of its last record."""

    sort: str
    descending: bool
    value: Any
    id: str


def _mac(payload: bytes) -> bytes:
    return hmac.new(_KEY, payload, hashlib.blake2b).digest()[:_MAC_BYTES]


def encode_cursor(position: Position) -> str:
    payload = json.dumps(
        [position.sort, int(position.descending), position.value, position.id],
        ensure_ascii=False,
        separators=(",", ":"),
    ).encode()
    return base64.urlsafe_b64encode(_mac(payload) + payload).rstrip(b"=").decode("ascii")


def _bindable(value: Any) -> bool:
    """A value SQLite accepts as a parameter: the checksum key is public, so a cursor can be forged with
    an integer beyond 64 bits (OverflowError when bound) or a float that is not finite."""
    if isinstance(value, bool):
        return False
    if isinstance(value, int):
        return -(2**63) <= value < 2**63
    if isinstance(value, float):
        return math.isfinite(value)
    return value is None or isinstance(value, str)


def decode_cursor(token: str, sort: str, descending: bool) -> Position:
    """The position a cursor holds, or HttpError 400 when it is damaged or belongs to another sort."""
    bad = HttpError(400, "This cursor is not valid: use the `next` URL of a previous page as it is.", "cursor")
    if len(token) > MAX_CURSOR_LENGTH or not token.isascii():
        raise bad
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
    except (binascii.Error, ValueError):
        raise bad from None
    mac, payload = raw[:_MAC_BYTES], raw[_MAC_BYTES:]
    if len(mac) != _MAC_BYTES or not hmac.compare_digest(mac, _mac(payload)):
        raise bad
    try:
        field, desc, value, last_id = json.loads(payload)
    except (ValueError, TypeError, RecursionError):
        raise bad from None
    if not isinstance(last_id, str) or not _bindable(value):
        raise bad
    if field != sort or bool(desc) != descending:
        order = ("-" if desc else "") + str(field)
        raise HttpError(400, f"This cursor continues a listing sorted by {order!r}; keep that `sort`.", "cursor")
    return Position(sort, descending, value, last_id)


def after_position(column: str, key: str, position: Position) -> tuple[str, list[Any]]:
    """SQL (on alias `t`) for "comes after `position`" in the order `column` (asc/desc, nulls as SQLite
    sorts them: first ascending, last descending), then `key` ascending."""
    c, k = f't."{column}"', f't."{key}"'
    if column == key:
        return (f"{k} < ?" if position.descending else f"{k} > ?"), [position.id]
    v = position.value
    if not position.descending:
        if v is None:
            return f"(({c} is null and {k} > ?) or {c} is not null)", [position.id]
        return f"({c} > ? or ({c} = ? and {k} > ?))", [v, v, position.id]
    if v is None:
        return f"({c} is null and {k} > ?)", [position.id]
    return f"({c} < ? or ({c} = ? and {k} > ?) or {c} is null)", [v, v, position.id]


def order_by(column: str, key: str, descending: bool) -> str:
    direction = "desc" if descending else "asc"
    if column == key:
        return f't."{key}" {direction}'
    return f't."{column}" {direction}, t."{key}" asc'
