"""The public JSON API v1 (/api/v1): collections, items, OpenAPI document and docs, from the model.

`routes` answers the requests, `fastpath` replays finished responses; the plugin wires both.
"""
