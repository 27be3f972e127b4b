"""The OpenAPI document in Chinese, for /api/v1/docs?lang=zh (and /api/v1/openapi.json?lang=zh).

The English document (openapi.py) is the contract; this is a translated copy of it. What a schema says in
Chinese comes from the schema (`x_title_zh`, `x_description_zh` of tables and fields); the sentences the API
itself adds around them (filter kinds, paging, formats, the overview, the endpoints that are not tables) are
written once in the `api_docs` section of site/i18n/zh.yaml, under the same keys as the English in en.yaml,
and worded by the same functions (wording.py). A text with no translation stays in English, so the copy is
always a complete, valid document.
"""

from __future__ import annotations

import copy
from typing import Any

from kechuang.model.search import searchable_tables
from kechuang.serve.api import wording
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
    ops = s["operations"]
    collection = None
    if op_id in ops:
        operation.update(ops[op_id])
    else:
        for collection in catalog.collections.values():
            title, text = collection.schema.title_zh, collection.schema.description_zh
            if op_id == f"list_{collection.name}":
                operation["summary"] = ops["list"]["summary"].format(title=title)
                operation["description"] = text or operation["description"]
                break
            if op_id == f"get_{collection.name}_item":
                operation.update({k: v.format(title=title) for k, v in ops["item"].items()})
                break
            suffix = op_id.removeprefix(f"list_{collection.name}_")
            if suffix != op_id and suffix in s["formats"]:
                what, path = s["formats"][suffix], collection.path
                words = ops["download"].items()
                operation.update({k: v.format(title=title, what=what, path=path, suffix=suffix) for k, v in words})
                break
        else:
            return
    _parameters(operation, collection, catalog, s)
    for status, response in operation["responses"].items():
        text = None if status.startswith("2") else wording.response(status, s)
        if text:
            response["description"] = text


def _record_fields(spec: dict[str, Any], catalog: Catalog, s: Strings) -> None:
    """Each record's fields described by their schema's Chinese, and the values of an open enum listed."""
    components = spec["components"]["schemas"]
    for collection in catalog.collections.values():
        for shape in ("record", "summary"):
            properties = components.get(f"{collection.name}.{shape}", {}).get("properties", {})
            for name, prop in properties.items():
                column = collection.column_map.get(name)
                target = prop["oneOf"][0] if "oneOf" in prop and "description" not in prop else prop
                if column is None or not column.description_zh or "description" not in target:
                    continue
                text = column.description_zh
                if column.enum:
                    text += wording.enum_note(s, column.enum)
                target["description"] = text


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
    _record_fields(out, catalog, s)
    return out
