"""Datasette adapter for the public JSON API v1; the API itself lives in `kechuang.api`."""

from datasette import hookimpl
from kechuang.api import api_routes


@hookimpl
def register_routes():
    return api_routes()
