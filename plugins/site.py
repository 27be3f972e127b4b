"""Datasette adapter for the citizens' site: routes, chrome variables and the Vary header (logic in kechuang.serve.site)."""

from datasette import hookimpl

from kechuang.serve.site import error_pages, routes


@hookimpl
def register_routes(datasette):
    return routes.routes(datasette)


@hookimpl
def extra_template_vars(request, datasette):
    return routes.chrome(request, datasette)


@hookimpl
def asgi_wrapper(datasette):
    return routes.vary_by_language


@hookimpl
def prepare_jinja2_environment(env, datasette):
    additions = routes.jinja_additions()
    env.globals.update(additions["globals"])
    env.filters.update(additions["filters"])


@hookimpl
def handle_exception(datasette, request, exception):
    # an address that names no page (Datasette: "Database not found") gets the site's 404 page
    async def inner():
        return await error_pages.unknown_path(datasette, request, exception)

    return inner
