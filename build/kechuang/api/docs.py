def render_docs(spec, catalog):
    return "<html></html>"
