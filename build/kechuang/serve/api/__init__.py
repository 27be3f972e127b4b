"""The public JSON API v1 (/api/v1): collections, items, OpenAPI document and docs, from the schemas."""

from __future__ import annotations

from typing import Any

from kechuang.serve.api.fastpath import fast_path
from kechuang.serve.api.routes import api_routes, finished_responses


def api_fast_path(datasette) -> Any:
    """The ASGI wrapper that replays finished API responses (see fastpath.py)."""
    return fast_path(datasette, finished_responses)


__all__ = ["api_fast_path", "api_routes"]
