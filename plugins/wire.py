"""Datasette adapter for the HTTP conventions of every path (preflights, ETags, framing, compression): the
logic lives in `kechuang.serve.wire`."""

from datasette import hookimpl

from kechuang.serve.wire import compression, http_conventions


@hookimpl(specname="asgi_wrapper", tryfirst=True)
def conventions_around_datasette(datasette):
    # tryfirst: the innermost wrapper, right around Datasette, inside the request guard (plugins/security.py)
    # so its security headers and refusals apply to the preflights and 304s answered here.
    return http_conventions(datasette)


@hookimpl(specname="asgi_wrapper", trylast=True)
def compression_outside(datasette):
    # trylast: outside the API's replay and the site's wrappers, so their responses are compressed too (the
    # request guard is trylast as well; in either order every response gets its headers, then compression).
    return compression
