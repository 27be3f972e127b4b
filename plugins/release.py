"""`/-/release.json`: which data release this process serves (version, date, build time).

Operators and load balancers check it after a release switch; it follows the portal's HTTP
conventions (ETag from the release, Cache-Control, CORS, X-Data-Release) from `kechuang.serve.http`.
"""

from datasette import hookimpl

from kechuang.serve.http import data_release, json_response


async def release_json(datasette, request):
    release = await data_release(datasette)
    return json_response(request, release, release)


@hookimpl
def register_routes():
    return [(r"^/-/release\.json$", release_json)]
