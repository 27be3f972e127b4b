"""The OpenAPI document in Chinese, for /api/v1/docs?lang=zh (and /api/v1/openapi.json?lang=zh).

The English document (openapi.py) is the contract; this is a translated copy of it. What a schema says in
Chinese comes from the schema (`x_title_zh`, `x_description_zh` of tables and fields); the sentences the API
itself adds around them (filter kinds, paging, formats, the overview, the endpoints that are not tables, the
response bodies, which openapi.py writes again in Chinese) are
written once in the `api_docs` section of site/i18n/zh.yaml, under the same keys as the English in en.yaml,
and worded by the same functions (wording.py). A text with no translation stays in English, so the copy is
always a complete, valid document.
"""

from __future__ import annotations

import copy
from typing import Any

from kechuang.model.search import searchable_tables
from kechuang.serve.api import openapi, wording
from kechuang.serve.api.collections import Catalog, Collection
from kechuang.serve.api.wording import Strings


def _parameters(operation: dict[str, Any], collection: Collection | None, catalog: Catalog, s: Strings) -> None:
    for parameter in operation.get("parameters", []):
        name, text = parameter["name"], None
        if collection is None:  # /api/v1/search
            text = wording.search_parameter(name, s, (t.name for t in searchable_tables(catalog.schemas)))
        elif parameter["in"] == "path":
            text = collection.column_map[collection.key].description_zh
        elif name in collection.filter_map:
            text = wording.filter_description(collection.filter_map[name], collection, catalog, s, "zh")
        else:
            text = wording.control_description(name, s)
        if text:
            parameter["description"] = text


def _operation(operation: dict[str, Any], catalog: Catalog, s: Strings) -> None:
    op_id = operation["operationId"]
    ops, ok = s["operations"], s["ok"]
    collection = None
    if op_id in ops:
        operation.update(ops[op_id])
        done = ok["search"] if op_id == "search" else ops[op_id]["summary"]
    else:
        for collection in catalog.collections.values():
            title, text = collection.schema.title_zh, collection.schema.description_zh
            if op_id == f"list_{collection.name}":
                operation["summary"] = ops["list"]["summary"].format(title=title)
                operation["description"] = text or operation["description"]
                done = ok["page"].format(name=title)
                break
            if op_id == f"get_{collection.name}_item":
                operation.update({k: v.format(title=title) for k, v in ops["item"].items()})
                done = ok["item"]
                break
            suffix = op_id.removeprefix(f"list_{collection.name}_")
            if suffix != op_id and suffix in s["formats"]:
                what, path = s["formats"][suffix], collection.path
                words = ops["download"].items()
                operation.update({k: v.format(title=title, what=what, path=path, suffix=suffix) for k, v in words})
                done = ok["download"].format(name=title, what=what)
                break
        else:
            return
    _parameters(operation, collection, catalog, s)
    for status, response in operation["responses"].items():
        text = done if status == "200" else wording.response(status, s)
        if text:
            response["description"] = text


def _response_parts(operation: dict[str, Any], s: Strings) -> None:
    """The response headers and the file bodies (CSV, workbook) described in Chinese."""
    for response in operation["responses"].values():
        for name, header in response.get("headers", {}).items():
            header["description"] = s["headers"].get(name, header["description"])
        for media_type, body in response.get("content", {}).items():
            if media_type in openapi.FILE_BODIES:
                body["schema"]["description"] = s["schemas"][openapi.FILE_BODIES[media_type]]


def _schemas(spec: dict[str, Any], catalog: Catalog, s: Strings) -> None:
    """The response bodies described in Chinese: the same schemas, written again by openapi.py's own functions
    with the Chinese sentences and each field's Chinese description from its schema."""
    components = spec["components"]["schemas"]
    components.update(openapi.common_schemas(s))
    components.update(openapi.search_paths(catalog, s)[1])
    for collection in catalog.collections.values():
        components.update(openapi.collection_schemas(collection, catalog, s, "zh"))


def localized_document(spec: dict[str, Any], catalog: Catalog, s: Strings) -> dict[str, Any]:
    """A copy of `spec` in Chinese (`s`: the `api_docs` section of the Chinese catalogue)."""
    out = copy.deepcopy(spec)
    out["info"]["description"] = wording.overview(s)
    for tag in out["tags"]:
        collection = catalog.collections.get(tag["name"])
        if collection is not None:
            schema = collection.schema
            tag["description"] = f"{schema.title_zh}：{schema.description_zh}" if schema.description_zh else schema.title_zh
        elif tag["name"] in s["tags"]:
            tag["description"] = s["tags"][tag["name"]]
    for item in out["paths"].values():
        _operation(item["get"], catalog, s)
        _response_parts(item["get"], s)
    _schemas(out, catalog, s)
    return out
