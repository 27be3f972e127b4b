"""Datasette adapter for the public JSON API v1; the API itself lives in `kechuang.serve.api`."""

from datasette import hookimpl

from kechuang.serve import http as web
from kechuang.serve.api import api_fast_path, api_routes


@hookimpl
def register_routes():
    return api_routes()


@hookimpl
def asgi_wrapper(datasette):
    return api_fast_path(datasette)


@hookimpl
def startup(datasette):
    web.configure_access_log()
