"""The OpenAPI 3.1 document of /api/v1, generated from the catalog (and so from the schemas).

Every path, parameter, response body and header is written here from the same objects the
routes use, so the document cannot describe an API other than the one served. Its sentences about the
API itself (the overview, operations, parameters, error statuses) are the `api_docs` section of
site/i18n/en.yaml, worded by wording.py as localize.py words the Chinese copy from zh.yaml.
"""

from __future__ import annotations

from typing import Any

from kechuang.model.search import searchable_tables
from kechuang.serve.api import wording
from kechuang.serve.api.collections import PREFIX, Catalog, Collection, Column, Embed, Filter
from kechuang.serve.api.pagination import MAX_CURSOR_LENGTH
from kechuang.serve.api.query import (
    DEFAULT_LIMIT,
    FORMATS,
    MAX_LIMIT,
    MAX_NUMBER,
    MAX_SAFE_INTEGER,
    MAX_TEXT_LENGTH,
    MAX_VALUE_LENGTH,
    MAX_VALUES,
)
from kechuang.serve.api.wording import Strings
from kechuang.serve.search import routes as search

TYPES = {"string": "string", "integer": "integer", "number": "number", "boolean": "boolean", "date": "string"}
JSON_TYPE = "application/json"


def ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def nullable(schema: dict[str, Any]) -> dict[str, Any]:
    if "$ref" in schema:
        return {"oneOf": [schema, {"type": "null"}]}
    out = dict(schema)
    out["type"] = [schema["type"], "null"]
    if "enum" in out:
        out["enum"] = [*out["enum"], None]
    return out


def column_schema(column: Column, s: Strings, lang: str = "en") -> dict[str, Any]:
    """A field's JSON Schema: type, enum, format and its description, in English and Chinese for the contract
    (`lang` en), in Chinese alone for its translated copy (zh, where the schema has one)."""
    schema: dict[str, Any] = {"type": TYPES[column.type]}
    if column.type == "date":
        schema["format"] = "date"
    if lang == "en":
        description = column.description + (f" · {column.description_zh}" if column.description_zh else "")
    else:
        description = wording.described(column, lang) or column.description
    if column.enum:
        # Open: enums may gain values within v1 (the stability policy), so a generated client must accept
        # any string; the values known today are listed, not enforced.
        schema["x-extensible-enum"] = list(column.enum)
        description += wording.enum_note(s, column.enum)
    if column.derived:
        description += s["computed"]
    schema["description"] = description
    return schema if column.required else nullable(schema)


def record_schema(collection: Collection, s: Strings, lang: str = "en") -> dict[str, Any]:
    words = s["schemas"]
    properties = {c.name: column_schema(c, s, lang) for c in collection.columns}
    properties["url"] = {"type": "string", "description": words["record_url"]}
    return {
        "type": "object",
        "description": words["record"].format(description=wording.described(collection.schema, lang)),
        "properties": properties,
        "required": ["url"],
    }


def summary_schema(collection: Collection, s: Strings, lang: str = "en") -> dict[str, Any]:
    words = s["schemas"]
    properties = {name: column_schema(collection.column_map[name], s, lang) for name in collection.summary_columns}
    properties["url"] = {"type": "string", "description": words["summary_url"]}
    return {
        "type": "object",
        "description": words["summary"].format(name=wording.collection_name(collection, lang)),
        "properties": properties,
        "required": list(properties),
    }


def _embed_nullable(collection: Collection, catalog: Catalog, embed: Embed) -> bool:
    local = collection.column_map[embed.route.local_column or ""]
    if embed.kind == "one":
        return not local.required
    via = catalog.schemas[embed.route.table or ""].field(embed.via_column or "")
    return not (local.required and via.required)


def embed_schema(collection: Collection, catalog: Catalog, embed: Embed, s: Strings, lang: str = "en") -> dict[str, Any]:
    if embed.kind in ("one", "hop"):
        schema = ref(f"{embed.table}.summary")
        return nullable(schema) if _embed_nullable(collection, catalog, embed) else schema
    description = wording.embed_description(embed, collection, catalog, s, lang)
    if embed.kind == "back":
        return {"type": "array", "description": description, "items": ref(f"{embed.table}.record")}
    if embed.kind == "ids":
        key = catalog.collections[embed.table].column_map[catalog.collections[embed.table].key]
        return {"type": "array", "description": description, "items": column_schema(key, s, lang)}
    assert embed.link is not None
    other = catalog.collections[embed.table]
    properties = dict(summary_schema(other, s, lang)["properties"])
    properties.update({c.name: column_schema(c, s, lang) for c in embed.link.extra})
    return {
        "type": "array",
        "description": description,
        "items": {"type": "object", "properties": properties, "required": list(properties)},
    }


def related_keys(catalog: Catalog, collection: Collection) -> list[tuple[str, Collection, Filter]]:
    """The collections that can list records pointing at `collection`, keyed as items.related_counts does."""
    out = []
    for other in catalog.collections.values():
        refs = [f for f in other.filters if f.kind == "in" and f.references == collection.name]
        for f in refs:
            out.append((other.name if len(refs) == 1 else f"{other.name}_by_{f.name}", other, f))
    return out


def item_schema(collection: Collection, catalog: Catalog, s: Strings, lang: str = "en") -> dict[str, Any]:
    words = s["schemas"]
    record = record_schema(collection, s, lang)
    properties = dict(record["properties"])
    for embed in collection.embeds:
        properties[embed.key] = embed_schema(collection, catalog, embed, s, lang)
    related = {
        key: {
            "type": "object",
            "description": words["related_count"].format(other=wording.collection_name(other, lang), filter=f.name),
            "properties": {"count": {"type": "integer", "minimum": 0}, "url": {"type": "string"}},
            "required": ["count", "url"],
        }
        for key, other, f in related_keys(catalog, collection)
    }
    properties["related"] = {
        "type": "object",
        "description": words["related"],
        "properties": related,
        "required": list(related),
    }
    return {
        "type": "object",
        "description": words["item"].format(description=wording.described(collection.schema, lang)),
        "properties": properties,
        "required": list(properties),
    }


def page_schema(collection: Collection, s: Strings) -> dict[str, Any]:
    words = s["schemas"]
    return {
        "type": "object",
        "properties": {
            "collection": {"const": collection.name},
            "count": {"type": "integer", "minimum": 0, "description": words["page_count"]},
            "limit": {"type": "integer", "minimum": 1, "maximum": MAX_LIMIT},
            "sort": {"type": "string", "description": words["page_sort"]},
            "items": {"type": "array", "items": ref(f"{collection.name}.record")},
            "next": {
                "type": ["string", "null"],
                "description": words["page_next"],
            },
            "release": ref("Release"),
        },
        "required": ["collection", "count", "limit", "sort", "items", "next", "release"],
    }


# Lists are described exploded (`?status=a&status=b`), which every generator sends; a comma-separated
# value (`?status=a,b`) is accepted as well.
def filter_parameter(f: Filter, collection: Collection, catalog: Catalog, s: Strings) -> dict[str, Any]:
    schema: dict[str, Any]
    extra: dict[str, Any] = {}
    if f.kind == "in":
        item: dict[str, Any] = {"type": "string", "minLength": 1, "maxLength": MAX_VALUE_LENGTH}
        if f.enum:
            item = {"type": "string", "enum": list(f.enum)}
        else:
            item["pattern"] = "^[^,]+$"
        schema = {"type": "array", "items": item, "minItems": 1, "maxItems": MAX_VALUES}
        extra = {"style": "form", "explode": True}
    elif f.kind == "bool":
        schema = {"type": "boolean"}
    elif f.kind == "presence":
        schema = {"type": "string", "enum": list(f.enum or ()), "default": "include"}
    elif f.kind in ("text", "search"):
        schema = {"type": "string", "maxLength": MAX_TEXT_LENGTH}
    elif f.type == "integer":
        schema = {"type": "integer", "minimum": -MAX_SAFE_INTEGER, "maximum": MAX_SAFE_INTEGER}
    elif f.type == "number":
        schema = {"type": "number", "minimum": -MAX_NUMBER, "maximum": MAX_NUMBER}
    else:
        schema = {"type": "string", "format": "date"}
    description = wording.filter_description(f, collection, catalog, s, "en")
    return {"name": f.name, "in": "query", "required": False, "description": description, "schema": schema, **extra}


def list_parameters(collection: Collection, catalog: Catalog, s: Strings) -> list[dict[str, Any]]:
    sorts = [s for name in collection.sortable for s in (name, f"-{name}")]
    controls = [
        {
            "name": "sort",
            "in": "query",
            "description": wording.control_description("sort", s),
            "schema": {"type": "string", "enum": sorts, "default": collection.key},
        },
        {
            "name": "limit",
            "in": "query",
            "description": wording.control_description("limit", s),
            "schema": {"type": "integer", "minimum": 1, "maximum": MAX_LIMIT, "default": DEFAULT_LIMIT},
        },
        {
            "name": "cursor",
            "in": "query",
            "description": wording.control_description("cursor", s),
            "schema": {"type": "string", "minLength": 1, "maxLength": MAX_CURSOR_LENGTH, "pattern": "^[A-Za-z0-9_-]+$"},
        },
        {
            "name": "fields",
            "in": "query",
            "description": wording.control_description("fields", s),
            "schema": {
                "type": "array",
                "items": {"type": "string", "enum": [c.name for c in collection.columns]},
                "minItems": 1,
                "maxItems": MAX_VALUES,
            },
            "style": "form",
            "explode": True,
        },
        {
            "name": "format",
            "in": "query",
            "description": wording.control_description("format", s),
            "schema": {"type": "string", "enum": list(FORMATS)},
        },
    ]
    return [*(filter_parameter(f, collection, catalog, s) for f in collection.filters), *controls]


# the response headers every answer carries (worded in the catalogue's `headers`, with Link for a page)
HEADERS = ("ETag", "Cache-Control", "X-Data-Release", "Access-Control-Allow-Origin")


def _headers(s: Strings, link: bool = False) -> dict[str, Any]:
    words = s["headers"]
    out = {name: {"description": words[name], "required": True, "schema": {"type": "string"}} for name in HEADERS}
    if link:
        out["Link"] = {"description": words["Link"], "schema": {"type": "string"}}
    return out


def error_responses(s: Strings, *statuses: int) -> dict[str, Any]:
    out: dict[str, Any] = {"304": {"description": wording.response("304", s), "headers": _headers(s)}}
    for status in (*statuses, 414):
        out[str(status)] = {
            "description": wording.response(str(status), s),
            "content": {JSON_TYPE: {"schema": ref("Error")}},
        }
    return out


XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
# the bodies that are files, by media type: the key of their sentence in the catalogue's `schemas`
FILE_BODIES = {"text/csv": "csv", XLSX_TYPE: "xlsx", "application/octet-stream": "xlsx"}


def file_body(media_type: str, s: Strings) -> dict[str, Any]:
    """A CSV or workbook body: a string (the workbook's bytes named by their media type), described."""
    schema: dict[str, Any] = {"type": "string"}
    if FILE_BODIES[media_type] == "xlsx":
        schema["contentMediaType"] = XLSX_TYPE
    schema["description"] = s["schemas"][FILE_BODIES[media_type]]
    return {"schema": schema}


# what each path suffix answers with; the workbook also as application/octet-stream, which generated clients
# read as bytes (they know no workbook media type), when the Accept header asks for that
# (named in the catalogue's `formats`)
SUFFIX_TYPES = {"csv": ("text/csv",), "excel_csv": ("text/csv",), "xlsx": (XLSX_TYPE, "application/octet-stream")}


def _ok(description: str, content: dict[str, Any], s: Strings, link: bool = False) -> dict[str, Any]:
    return {"200": {"description": description, "headers": _headers(s, link), "content": content}}


def collection_paths(collection: Collection, catalog: Catalog, example_id: str | None, s: Strings) -> dict[str, Any]:
    title = collection.schema.title.lower()
    ops = s["operations"]
    listing = {
        "get": {
            "operationId": f"list_{collection.name}",
            "tags": [collection.name],
            # the English document's summaries name each table in both languages
            "summary": f"{ops['list']['summary'].format(title=title)} · {collection.schema.title_zh}",
            "description": collection.schema.description,
            "parameters": list_parameters(collection, catalog, s),
            "responses": {
                **_ok(
                    s["ok"]["page"].format(name=collection.name),
                    {
                        JSON_TYPE: {"schema": ref(f"{collection.name}.page")},
                        "text/csv": file_body("text/csv", s),
                        XLSX_TYPE: file_body(XLSX_TYPE, s),
                    },
                    s,
                    link=True,
                ),
                **error_responses(s, 400, 406),
            },
        }
    }
    id_schema: dict[str, Any] = {"type": "string", "minLength": 1}
    id_column = collection.column_map[collection.key]
    if id_column.pattern:
        id_schema["pattern"] = id_column.pattern
    id_param: dict[str, Any] = {
        "name": "id",
        "in": "path",
        "required": True,
        "description": id_column.description,
        "schema": id_schema,
    }
    if example_id:
        id_param["example"] = example_id
    item = {
        "get": {
            "operationId": f"get_{collection.name}_item",
            "tags": [collection.name],
            **{k: v.format(title=title) for k, v in ops["item"].items()},
            "parameters": [id_param],
            "responses": {
                **_ok(s["ok"]["item"], {JSON_TYPE: {"schema": ref(f"{collection.name}.item")}}, s),
                **error_responses(s, 400, 404, 406),
            },
        }
    }
    downloads = {
        f"{collection.path}.{suffix}": {
            "get": {
                "operationId": f"list_{collection.name}_{suffix}",
                "tags": [collection.name],
                **{
                    k: v.format(title=title, what=s["formats"][suffix], path=collection.path, suffix=suffix)
                    for k, v in ops["download"].items()
                },
                "parameters": [p for p in list_parameters(collection, catalog, s) if p["name"] != "format"],
                "responses": {
                    **_ok(
                        s["ok"]["download"].format(name=collection.name, what=s["formats"][suffix]),
                        {media: file_body(media, s) for media in types},
                        s,
                        link=True,
                    ),
                    **error_responses(s, 400, *((406,) if len(types) > 1 else ())),
                },
            }
        }
        for suffix, types in SUFFIX_TYPES.items()
    }
    return {collection.path: listing, **downloads, f"{collection.path}/{{id}}": item}


def common_schemas(s: Strings) -> dict[str, Any]:
    words = s["schemas"]
    return {
        "Error": {
            "type": "object",
            "description": words["error"],
            "properties": {
                "error": {
                    "type": "object",
                    "properties": {
                        "status": {"type": "integer", "description": words["error_status"]},
                        "code": {"type": "string", "description": words["error_code"]},
                        "message": {"type": "string", "description": words["error_message"]},
                        "param": {"type": ["string", "null"], "description": words["error_param"]},
                    },
                    "required": ["status", "code", "message", "param"],
                }
            },
            "required": ["error"],
        },
        "Release": {
            "type": "object",
            "description": words["release"],
            "properties": {
                "version": {"type": "string", "description": words["release_version"]},
                "date": {"type": "string", "description": words["release_date"]},
            },
            "required": ["version", "date"],
        },
        "Index": {
            "type": "object",
            "properties": {
                "api": {"const": "v1"},
                "release": ref("Release"),
                "collections": {
                    "type": "array",
                    "items": {
                        "type": "object",
                        "properties": {
                            "name": {"type": "string"},
                            "title": {"type": "string"},
                            "title_zh": {"type": "string"},
                            "description": {"type": "string"},
                            "count": {"type": "integer", "minimum": 0},
                            "url": {"type": "string"},
                        },
                        "required": ["name", "title", "title_zh", "description", "count", "url"],
                    },
                },
                "links": {
                    "type": "object",
                    "properties": {"openapi": {"type": "string"}, "docs": {"type": "string"}},
                    "required": ["openapi", "docs"],
                },
            },
            "required": ["api", "release", "collections", "links"],
        },
    }


def meta_paths(s: Strings) -> dict[str, Any]:
    def simple(op: str, content: dict[str, Any]) -> dict[str, Any]:
        words = s["operations"][op]
        return {
            "get": {
                "operationId": op,
                "tags": ["about"],
                "summary": words["summary"],
                "description": words["description"],
                "responses": {**_ok(words["summary"], content, s), **error_responses(s, 400, 406)},
            }
        }

    return {
        f"{PREFIX}/": simple("get_index", {JSON_TYPE: {"schema": ref("Index")}}),
        f"{PREFIX}/openapi.json": simple("get_openapi", {JSON_TYPE: {"schema": {"type": "object"}}}),
        f"{PREFIX}/docs": simple("get_docs", {"text/html": {"schema": {"type": "string"}}}),
    }


def search_paths(catalog: Catalog, s: Strings) -> tuple[dict[str, Any], dict[str, Any]]:
    """GET /api/v1/search (kechuang.serve.search): its path and the schema of its answer."""
    types = [t.name for t in searchable_tables(catalog.schemas)]
    one = "(" + "|".join(types) + ")"
    words = s["schemas"]

    def described(name: str) -> str:
        return wording.search_parameter(name, s, types)

    def integer(name: str, low: int, high: int, default: int) -> dict[str, Any]:
        schema = {"type": "integer", "minimum": low, "maximum": high, "default": default}
        return {"name": name, "in": "query", "description": described(name), "schema": schema}

    parameters = [
        {
            "name": "q",
            "in": "query",
            "required": True,
            "description": described("q"),
            "schema": {"type": "string", "minLength": 1, "maxLength": search.MAX_QUERY_CHARS, "pattern": search.HAS_WORDS},
            "example": "技术经理人",
        },
        {
            "name": "type",
            "in": "query",
            "description": described("type"),
            "schema": {"type": "string", "pattern": f"^{one}(,{one})*$"},
        },
        *(
            {
                "name": name,
                "in": "query",
                "description": described(name),
                "schema": {"type": "string", "pattern": search.FILTER_PATTERNS[name]},
            }
            for name in search.FILTERS
        ),
        integer("limit", 1, search.MAX_LIMIT, search.DEFAULT_LIMIT),
        integer("offset", 0, search.MAX_OFFSET, 0),
    ]
    text = {"type": "string"}
    labelled = {
        "type": "object",
        "properties": {"value": text, "count": {"type": "integer", "minimum": 1}, "label_zh": text, "label_en": text},
        "required": ["value", "count", "label_zh", "label_en"],
    }
    facets = {
        "type": "object",
        "description": words["search_facets"],
        "properties": {name: {"type": "array", "items": labelled} for name in ("type", *search.FILTERS)},
        "required": ["type", *search.FILTERS],
    }
    nullable_number = {"type": ["number", "null"]}
    answer_target = {
        "type": "object",
        "properties": {
            "id": text,
            "name_zh": text,
            "name_en": text,
            "comparator": {"type": "string", "description": words["answer_comparator"]},
            "figure_zh": {"type": "string", "description": words["answer_figure"]},
            "figure_en": text,  # the figure in English words (search/answer.py), empty when masked
            "value": {**nullable_number, "description": words["answer_value"]},
            "value_max": nullable_number,
            "unit_zh": text,
            "unit_en": text,
            "deadline_year": {"type": "integer"},
            "masked": {"type": "boolean", "description": words["answer_masked"]},
            "policy": {
                "type": "object",
                "properties": {"id": text, "title_zh": text, "title_en": text},
                "required": ["id", "title_zh", "title_en"],
            },
            "url": {"type": "string", "description": words["answer_url"]},
            "page_url": {"type": "string", "description": words["answer_page_url"]},
            "source_url": {"type": "string", "description": words["answer_source_url"]},
        },
        "required": ["id", "name_zh", "name_en", "comparator", "figure_zh", "value", "value_max", "unit_zh", "unit_en",
                     "deadline_year", "masked", "policy", "url", "page_url", "source_url"],
    }
    answer = {
        "type": ["object", "null"],
        "description": words["search_answer"],
        "properties": {
            "place": {
                "type": "object",
                "properties": {"id": text, "name_zh": text, "name_en": text},
                "required": ["id", "name_zh", "name_en"],
            },
            "targets": {"type": "array", "minItems": 1, "items": answer_target},
        },
        "required": ["place", "targets"],
    }
    result = {
        "type": "object",
        "properties": {
            "type": {"type": "string", "description": words["result_type"]},
            "id": {"type": "string", "description": words["result_id"]},
            "title_zh": text,
            "title_en": text,
            "snippet_zh": {"type": "string", "description": words["result_snippet"]},
            "snippet_en": {"type": "string", "description": words["result_snippet"]},
            "url": {"type": "string", "description": words["result_url"]},
            "page_url": {
                "type": "string",
                "description": words["result_page_url"],
            },
            "score": {"type": "number", "exclusiveMinimum": 0, "description": words["result_score"]},
        },
        "required": ["type", "id", "title_zh", "title_en", "snippet_zh", "snippet_en", "url", "page_url", "score"],
    }
    schema = {
        "type": "object",
        "properties": {
            "query": {"type": "string", "description": words["search_query"]},
            "total": {
                "type": "integer",
                "minimum": 0,
                "maximum": search.MAX_OFFSET,
                "description": wording.fill(words["search_total"]),
            },
            "answer": answer,
            "facets": facets,
            "results": {"type": "array", "items": result},
        },
        "required": ["query", "total", "answer", "facets", "results"],
    }
    operation = {
        "operationId": "search",
        "tags": ["search"],
        **s["operations"]["search"],
        "parameters": parameters,
        "responses": {
            **_ok(s["ok"]["search"], {JSON_TYPE: {"schema": ref("SearchResults")}}, s),
            **error_responses(s, 400, 406, 503),
        },
    }
    return {f"{PREFIX}/search": {"get": operation}}, {"SearchResults": schema}


def collection_schemas(collection: Collection, catalog: Catalog, s: Strings, lang: str = "en") -> dict[str, Any]:
    """The component schemas of one collection (record, summary, item, page), described in `lang`."""
    return {
        f"{collection.name}.record": record_schema(collection, s, lang),
        f"{collection.name}.summary": summary_schema(collection, s, lang),
        f"{collection.name}.item": {
            "type": "object",
            "properties": {
                "collection": {"const": collection.name},
                "item": item_schema(collection, catalog, s, lang),
                "release": ref("Release"),
            },
            "required": ["collection", "item", "release"],
        },
        f"{collection.name}.page": page_schema(collection, s),
    }


def openapi_document(
    catalog: Catalog, release: dict[str, str], examples: dict[str, str] | None = None
) -> dict[str, Any]:
    """The OpenAPI 3.1 document for `catalog`; `examples` gives an existing id per collection."""
    examples = examples or {}
    s = wording.api_strings("en")
    schemas = common_schemas(s)
    paths = meta_paths(s)
    search_path, search_schemas = search_paths(catalog, s)
    paths.update(search_path)
    schemas.update(search_schemas)
    for collection in catalog.collections.values():
        schemas.update(collection_schemas(collection, catalog, s))
        paths.update(collection_paths(collection, catalog, examples.get(collection.name), s))
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Kechuang Open Data API · 科创开放数据接口",
            "version": "1",
            "description": wording.overview(s),
            "license": {"name": "CC BY 4.0 (data); Apache-2.0 (code)", "identifier": "CC-BY-4.0"},
            "x-data-release": release,
        },
        "servers": [{"url": "/", "description": "This portal"}],
        "tags": [
            *({"name": name, "description": text} for name, text in s["tags"].items()),
            *(
                {"name": c.name, "description": f"{c.schema.title} · {c.schema.title_zh}: {c.schema.description}"}
                for c in catalog.collections.values()
            ),
        ],
        "paths": paths,
        "components": {"schemas": schemas},
    }
