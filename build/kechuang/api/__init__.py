"""The public JSON API v1 (/api/v1): collections, items, OpenAPI document and docs, from the schemas."""

from .routes import api_routes

__all__ = ["api_routes"]
