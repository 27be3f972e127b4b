"""The served release: `/-/release.json` (version, date, build time) and Datasette's metadata.

Datasette's titles, descriptions, facets and canned queries come from the served database's
`_meta` (the model and metadata.yml it was built with), never from the checkout.

Operators and load balancers check it after a release switch; it follows the portal's HTTP
conventions (ETag from the release, Cache-Control, CORS, X-Data-Release) from `kechuang.serve.http`.
"""

from datasette import hookimpl

from kechuang.serve.http import data_release, json_response
from kechuang.serve.state import served_datasette_metadata


async def release_json(datasette, request):
    release = await data_release(datasette)
    return json_response(request, release, release)


@hookimpl
def register_routes():
    return [(r"^/-/release\.json$", release_json)]


@hookimpl
def get_metadata(datasette, key, database, table):
    return served_datasette_metadata(datasette)
