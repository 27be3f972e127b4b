"""Datasette adapter for search: the routes live in kechuang.serve.search.routes."""

from datasette import hookimpl

from kechuang.serve import http as web
from kechuang.serve.search.routes import API_PATH, PAGE_PATH, search_api, search_page


@hookimpl
def register_routes():
    return [(API_PATH, web.guarded(search_api)), (PAGE_PATH, search_page)]
