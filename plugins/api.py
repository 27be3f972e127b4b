"""Datasette adapter for the public JSON API v1; the API itself lives in `kechuang.serve.api`."""

from datasette import hookimpl

from kechuang.serve import http as web
from kechuang.serve.api.fastpath import fast_path
from kechuang.serve.api.routes import api_routes, finished_responses


@hookimpl
def register_routes():
    return api_routes()


@hookimpl
def asgi_wrapper(datasette):
    return fast_path(datasette, finished_responses)  # replays finished API responses (fastpath.py)


@hookimpl
def startup(datasette):
    web.configure_access_log()
