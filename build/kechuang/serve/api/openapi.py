"""The OpenAPI 3.1 document of /api/v1, generated from the catalog (and so from the schemas).

Every path, parameter, response body and header is written here from the same objects the
routes use, so the document cannot describe an API other than the one served.
"""

from __future__ import annotations

from typing import Any

from kechuang.model.search import searchable_tables
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
from kechuang.serve.search import routes as search
from kechuang.serve.security.guard import MAX_PATH_BYTES, MAX_QUERY_BYTES

STABILITY = """\
**Stability policy.** v1 is a contract. Ids never change once published. Within v1, fields may be \
added to records and responses, new collections, parameters and filters may appear, and enums may \
gain values; nothing is removed or renamed and no type changes. Write clients that ignore fields \
they do not know. A change that would break this promise is published as /api/v2, with v1 kept \
alongside it. Every response names the data release it was built from (`release`, and the \
`X-Data-Release` header); data changes between releases, the shape does not."""

DESCRIPTION = f"""\
The public API of Kechuang (科创开放数据): the policies, measures, quantitative targets, platforms, \
funds, events and agencies of the science and technology innovation policies of the Wuhan area, \
curated from the source documents, in Chinese and English.

Every collection supports filters (comma-separated lists mean "any of"), `q` for text, `sort` \
(`-` for descending), `limit` (default {DEFAULT_LIMIT}, at most {MAX_LIMIT}), cursor pagination \
through the `next` URL, `fields` to select fields and `format=csv` (or `Accept: text/csv`) for CSV, `format=excel_csv` for \
CSV for Excel (UTF-8 with a byte-order mark) and `format=xlsx` for a workbook, each also at \
`/api/v1/{{collection}}.csv`, `.excel_csv` and `.xlsx`. \
Unknown parameters are refused with 400, so a typo never silently returns everything. Errors are \
JSON: `{{"error": {{"status", "code", "message", "param"}}}}`.

Responses carry an `ETag` (strong; weak when the response is compressed; send it back in `If-None-Match` \
for a 304), \
`Cache-Control: public`, `X-Data-Release` and `Access-Control-Allow-Origin: *`.

{STABILITY}"""

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


def column_schema(column: Column) -> dict[str, Any]:
    """A field's JSON Schema: type, enum, format and its description in English and Chinese."""
    schema: dict[str, Any] = {"type": TYPES[column.type]}
    if column.type == "date":
        schema["format"] = "date"
    description = column.description + (f" · {column.description_zh}" if column.description_zh else "")
    if column.enum:
        # Open: enums may gain values within v1 (the stability policy), so a generated client must accept
        # any string; the values known today are listed, not enforced.
        schema["x-extensible-enum"] = list(column.enum)
        description += " Values so far: " + ", ".join(f"`{v}`" for v in column.enum) + "; more may be added."
    if column.derived:
        description += " (Computed by the build.)"
    schema["description"] = description
    return schema if column.required else nullable(schema)


def record_schema(collection: Collection) -> dict[str, Any]:
    properties = {c.name: column_schema(c) for c in collection.columns}
    properties["url"] = {"type": "string", "description": "Path of this record's item endpoint."}
    return {
        "type": "object",
        "description": f"{collection.schema.description} Every field is present (null when empty) unless "
        "`fields` selects fewer; `url` is always present.",
        "properties": properties,
        "required": ["url"],
    }


def summary_schema(collection: Collection) -> dict[str, Any]:
    properties = {name: column_schema(collection.column_map[name]) for name in collection.summary_columns}
    properties["url"] = {"type": "string", "description": "Path of the record's item endpoint."}
    return {
        "type": "object",
        "description": f"A record of {collection.name}, as other records embed it.",
        "properties": properties,
        "required": list(properties),
    }


def _embed_nullable(collection: Collection, catalog: Catalog, embed: Embed) -> bool:
    local = collection.column_map[embed.route.local_column or ""]
    if embed.kind == "one":
        return not local.required
    via = catalog.schemas[embed.route.table or ""].field(embed.via_column or "")
    return not (local.required and via.required)


def embed_schema(collection: Collection, catalog: Catalog, embed: Embed) -> dict[str, Any]:
    if embed.kind in ("one", "hop"):
        schema = ref(f"{embed.table}.summary")
        return nullable(schema) if _embed_nullable(collection, catalog, embed) else schema
    if embed.kind == "back":
        return {"type": "array", "description": embed.description, "items": ref(f"{embed.table}.record")}
    if embed.kind == "ids":
        key = catalog.collections[embed.table].column_map[catalog.collections[embed.table].key]
        return {"type": "array", "description": embed.description, "items": column_schema(key)}
    assert embed.link is not None
    other = catalog.collections[embed.table]
    properties = dict(summary_schema(other)["properties"])
    properties.update({c.name: column_schema(c) for c in embed.link.extra})
    return {
        "type": "array",
        "description": embed.description,
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


def item_schema(collection: Collection, catalog: Catalog) -> dict[str, Any]:
    record = record_schema(collection)
    properties = dict(record["properties"])
    for embed in collection.embeds:
        properties[embed.key] = embed_schema(collection, catalog, embed)
    related = {
        key: {
            "type": "object",
            "description": f"How many {other.name} have `{f.name}` = this record's id, and the URL listing them.",
            "properties": {"count": {"type": "integer", "minimum": 0}, "url": {"type": "string"}},
            "required": ["count", "url"],
        }
        for key, other, f in related_keys(catalog, collection)
    }
    properties["related"] = {
        "type": "object",
        "description": "Counts of the records in other collections that refer to this one, with links.",
        "properties": related,
        "required": list(related),
    }
    return {
        "type": "object",
        "description": f"{collection.schema.description} With its related records embedded.",
        "properties": properties,
        "required": list(properties),
    }


def page_schema(collection: Collection) -> dict[str, Any]:
    return {
        "type": "object",
        "properties": {
            "collection": {"const": collection.name},
            "count": {"type": "integer", "minimum": 0, "description": "Records matching the filters, on all pages."},
            "limit": {"type": "integer", "minimum": 1, "maximum": MAX_LIMIT},
            "sort": {"type": "string", "description": "The order of the records, as `sort` takes it."},
            "items": {"type": "array", "items": ref(f"{collection.name}.record")},
            "next": {
                "type": ["string", "null"],
                "description": "URL (path and query) of the next page; null on the last page.",
            },
            "release": ref("Release"),
        },
        "required": ["collection", "count", "limit", "sort", "items", "next", "release"],
    }


# Lists are described exploded (`?status=a&status=b`), which every generator sends; a comma-separated
# value (`?status=a,b`) is accepted as well.
SEVERAL = " Several values (any of them): repeat the parameter, or separate the values with commas."


def filter_parameter(f: Filter) -> dict[str, Any]:
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
    elif f.kind == "text":
        schema = {"type": "string", "maxLength": MAX_TEXT_LENGTH}
    elif f.type == "integer":
        schema = {"type": "integer", "minimum": -MAX_SAFE_INTEGER, "maximum": MAX_SAFE_INTEGER}
    elif f.type == "number":
        schema = {"type": "number", "minimum": -MAX_NUMBER, "maximum": MAX_NUMBER}
    else:
        schema = {"type": "string", "format": "date"}
    description = f.description + (SEVERAL if f.kind == "in" else "")
    return {"name": f.name, "in": "query", "required": False, "description": description, "schema": schema, **extra}


def list_parameters(collection: Collection) -> list[dict[str, Any]]:
    sorts = [s for name in collection.sortable for s in (name, f"-{name}")]
    controls = [
        {
            "name": "sort",
            "in": "query",
            "description": "Order by this field, `-` in front for descending; ties are broken by id. Default: id.",
            "schema": {"type": "string", "enum": sorts, "default": collection.key},
        },
        {
            "name": "limit",
            "in": "query",
            "description": f"Records per page, 1 to {MAX_LIMIT}.",
            "schema": {"type": "integer", "minimum": 1, "maximum": MAX_LIMIT, "default": DEFAULT_LIMIT},
        },
        {
            "name": "cursor",
            "in": "query",
            "description": "Where to continue: take it from the `next` URL of the previous page, unchanged, with the "
            "same `sort`. A damaged cursor is refused with 400.",
            "schema": {"type": "string", "minLength": 1, "maxLength": MAX_CURSOR_LENGTH, "pattern": "^[A-Za-z0-9_-]+$"},
        },
        {
            "name": "fields",
            "in": "query",
            "description": "Only these fields, in this order (a repeated name counts once)." + SEVERAL.replace(" (any of them)", ""),
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
            "description": "`csv` for the same page as CSV (also chosen by `Accept: text/csv`), `excel_csv` for "
            "the same CSV with a UTF-8 byte-order mark (what Excel needs to read Chinese), `xlsx` for a workbook. "
            "CSV text cells that start with =, +, -, @, tab or CR get a leading apostrophe so spreadsheets do not "
            "run them; a workbook stores every text cell as text.",
            "schema": {"type": "string", "enum": list(FORMATS)},
        },
    ]
    return [*(filter_parameter(f) for f in collection.filters), *controls]


HEADERS = {
    "ETag": {"description": "Strong validator of this response; send it in If-None-Match.", "required": True},
    "Cache-Control": {
        "description": "public, max-age=… (responses change only with the data release).",
        "required": True,
    },
    "X-Data-Release": {"description": "Version of the data release the response comes from.", "required": True},
    "Access-Control-Allow-Origin": {"description": "Always `*`: any web page may call the API.", "required": True},
}


def _headers(link: bool = False) -> dict[str, Any]:
    out = {name: {**h, "schema": {"type": "string"}} for name, h in HEADERS.items()}
    if link:
        out["Link"] = {"description": 'The next page, as <url>; rel="next".', "schema": {"type": "string"}}
    return out


def error_responses(*statuses: int) -> dict[str, Any]:
    reasons = {
        400: "A parameter is unknown, repeated or invalid; `param` names it.",
        404: "No such record.",
        406: "The Accept header allows none of the media types this endpoint answers with.",
        414: f"The path is longer than {MAX_PATH_BYTES} bytes or the query string longer than {MAX_QUERY_BYTES} "
        "(refused by the portal's request guard before any endpoint).",
        503: "The served database has no search index, or the search took too long.",
    }
    out: dict[str, Any] = {
        "304": {"description": "Not modified: the If-None-Match ETag is current.", "headers": _headers()},
    }
    for status in (*statuses, 414):
        out[str(status)] = {
            "description": reasons[status],
            "content": {JSON_TYPE: {"schema": ref("Error")}},
        }
    return out


CSV_CONTENT = {
    "schema": {
        "type": "string",
        "description": "Header row, then one row a record (UTF-8, CRLF). Text cells that start with =, +, -, @, "
        "tab or CR get a leading apostrophe so spreadsheets do not run them.",
    }
}


XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
XLSX_CONTENT = {
    "schema": {
        "type": "string",
        "contentMediaType": XLSX_TYPE,
        "description": "A workbook of one sheet: a header row, then one row a record; text stored as text, never "
        "as a formula, numbers as numbers, null as an empty cell.",
    }
}
# what each path suffix answers with; the workbook also as application/octet-stream, which generated clients
# read as bytes (they know no workbook media type), when the Accept header asks for that
SUFFIX_CONTENT = {
    "csv": ("CSV", {"text/csv": CSV_CONTENT}),
    "excel_csv": ("CSV for Excel (UTF-8 with a byte-order mark)", {"text/csv": CSV_CONTENT}),
    "xlsx": ("a workbook", {XLSX_TYPE: XLSX_CONTENT, "application/octet-stream": XLSX_CONTENT}),
}


def _ok(description: str, content: dict[str, Any], link: bool = False) -> dict[str, Any]:
    return {"200": {"description": description, "headers": _headers(link), "content": content}}


def collection_paths(collection: Collection, catalog: Catalog, example_id: str | None) -> dict[str, Any]:
    title = collection.schema.title
    listing = {
        "get": {
            "operationId": f"list_{collection.name}",
            "tags": [collection.name],
            "summary": f"List {title.lower()} · {collection.schema.title_zh}",
            "description": collection.schema.description,
            "parameters": list_parameters(collection),
            "responses": {
                **_ok(
                    f"A page of {collection.name}.",
                    {
                        JSON_TYPE: {"schema": ref(f"{collection.name}.page")},
                        "text/csv": CSV_CONTENT,
                        XLSX_TYPE: XLSX_CONTENT,
                    },
                    link=True,
                ),
                **error_responses(400, 406),
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
            "summary": f"One of the {title.lower()}, with related records",
            "description": "The record with every field, the records it refers to embedded, and `related`: how many "
            "records of other collections refer to it, with the URL that lists them.",
            "parameters": [id_param],
            "responses": {
                **_ok("The record.", {JSON_TYPE: {"schema": ref(f"{collection.name}.item")}}),
                **error_responses(400, 404, 406),
            },
        }
    }
    downloads = {
        f"{collection.path}.{suffix}": {
            "get": {
                "operationId": f"list_{collection.name}_{suffix}",
                "tags": [collection.name],
                "summary": f"List {title.lower()} as {what}",
                "description": f"The same page as `{collection.path}` (same filters, sort, cursor and fields), as "
                f"{what}: what `format={suffix}` answers there, as an operation of its own so that generated "
                "clients read it as text or bytes. The `Link` header names the next page.",
                "parameters": [p for p in list_parameters(collection) if p["name"] != "format"],
                "responses": {
                    **_ok(f"A page of {collection.name} as {what}.", content, link=True),
                    **error_responses(400, *((406,) if len(content) > 1 else ())),
                },
            }
        }
        for suffix, (what, content) in SUFFIX_CONTENT.items()
    }
    return {collection.path: listing, **downloads, f"{collection.path}/{{id}}": item}


def common_schemas() -> dict[str, Any]:
    return {
        "Error": {
            "type": "object",
            "description": "Every error has this shape.",
            "properties": {
                "error": {
                    "type": "object",
                    "properties": {
                        "status": {"type": "integer", "description": "The HTTP status."},
                        "code": {"type": "string", "description": "Machine-readable reason, e.g. bad_request."},
                        "message": {"type": "string", "description": "What went wrong, for the person who must act."},
                        "param": {"type": ["string", "null"], "description": "The parameter at fault, if one is."},
                    },
                    "required": ["status", "code", "message", "param"],
                }
            },
            "required": ["error"],
        },
        "Release": {
            "type": "object",
            "description": "The data release a response was built from.",
            "properties": {
                "version": {"type": "string", "description": "Release version (dev builds: dev-<build time>)."},
                "date": {"type": "string", "description": "Release date, YYYY-MM-DD."},
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


def meta_paths() -> dict[str, Any]:
    def simple(op: str, summary: str, description: str, content: dict[str, Any]) -> dict[str, Any]:
        return {
            "get": {
                "operationId": op,
                "tags": ["about"],
                "summary": summary,
                "description": description,
                "responses": {**_ok(summary, content), **error_responses(400, 406)},
            }
        }

    return {
        f"{PREFIX}/": simple(
            "get_index",
            "The collections, with links, and the data release",
            "Start here: every collection with its record count and URL, and the release the data comes from.",
            {JSON_TYPE: {"schema": ref("Index")}},
        ),
        f"{PREFIX}/openapi.json": simple(
            "get_openapi",
            "This OpenAPI document",
            "Generated from the table schemas, like everything else the portal publishes.",
            {JSON_TYPE: {"schema": {"type": "object"}}},
        ),
        f"{PREFIX}/docs": simple(
            "get_docs",
            "The API reference as a web page",
            "This document rendered as HTML, with a runnable example per endpoint.",
            {"text/html": {"schema": {"type": "string"}}},
        ),
    }


def search_paths(catalog: Catalog) -> tuple[dict[str, Any], dict[str, Any]]:
    """GET /api/v1/search (kechuang.serve.search): its path and the schema of its answer."""
    types = [t.name for t in searchable_tables(catalog.schemas)]
    one = "(" + "|".join(types) + ")"

    def integer(name: str, description: str, low: int, high: int, default: int) -> dict[str, Any]:
        schema = {"type": "integer", "minimum": low, "maximum": high, "default": default}
        return {"name": name, "in": "query", "description": description, "schema": schema}

    parameters = [
        {
            "name": "q",
            "in": "query",
            "required": True,
            "description": "The words to search for, in Chinese (simplified or traditional), English or pinyin. "
            "Everything is searched as text: quotes, brackets, *, ^, -, AND/OR/NOT/NEAR have no special meaning.",
            "schema": {"type": "string", "minLength": 1, "maxLength": search.MAX_QUERY_CHARS, "pattern": search.HAS_WORDS},
            "example": "技术经理人",
        },
        {
            "name": "type",
            "in": "query",
            "description": "Only records of these tables, comma-separated, e.g. `targets,measures`: "
            + ", ".join(f"`{t}`" for t in types)
            + ".",
            "schema": {"type": "string", "pattern": f"^{one}(,{one})*$"},
        },
        *(
            {
                "name": name,
                "in": "query",
                "description": f"Only records of these {search.FILTER_HELP[name]} (the `{name}` facet's values), "
                "comma-separated; a value no record has finds nothing.",
                "schema": {"type": "string", "pattern": search.FILTER_PATTERNS[name]},
            }
            for name in search.FILTERS
        ),
        integer("limit", "Results per page.", 1, search.MAX_LIMIT, search.DEFAULT_LIMIT),
        integer("offset", f"Results to skip (at most {search.MAX_OFFSET:,} matches are ranked).", 0, search.MAX_OFFSET, 0),
    ]
    text = {"type": "string"}
    labelled = {
        "type": "object",
        "properties": {"value": text, "count": {"type": "integer", "minimum": 1}, "label_zh": text, "label_en": text},
        "required": ["value", "count", "label_zh", "label_en"],
    }
    facets = {
        "type": "object",
        "description": "Matching records counted by type, place (their own), year and document, each count under the "
        "other facets' filters; values with the most matches first.",
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
            "comparator": {"type": "string", "description": "How the figure binds (targets.comparator)."},
            "figure_zh": {"type": "string", "description": "The figure as written, masked figures with their `*`."},
            "value": {**nullable_number, "description": "The number; null when the figure is masked."},
            "value_max": nullable_number,
            "unit_zh": text,
            "unit_en": text,
            "deadline_year": {"type": "integer"},
            "masked": {"type": "boolean", "description": "The source masks the figure: never guessed."},
            "policy": {
                "type": "object",
                "properties": {"id": text, "title_zh": text, "title_en": text},
                "required": ["id", "title_zh", "title_en"],
            },
            "url": {"type": "string", "description": "The target's record page."},
            "source_url": {"type": "string", "description": "The policy's text at the highlighted sentence."},
        },
        "required": ["id", "name_zh", "name_en", "comparator", "figure_zh", "value", "value_max", "unit_zh", "unit_en",
                     "deadline_year", "masked", "policy", "url", "source_url"],
    }
    answer = {
        "type": ["object", "null"],
        "description": "When the best result is a target of the place the question names (and of the kind of figure it "
        "asks for): that target and the others of the place counting the same thing, in date order; else null.",
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
            "type": {"type": "string", "description": "The table the record is in, e.g. targets."},
            "id": {"type": "string", "description": "Its primary key (comma-joined when it has two columns)."},
            "title_zh": text,
            "title_en": text,
            "snippet_zh": {"type": "string", "description": "HTML: the record's text, escaped, matches in <mark>."},
            "snippet_en": {"type": "string", "description": "HTML: the record's text, escaped, matches in <mark>."},
            "url": {"type": "string", "description": "The record's page."},
            "score": {"type": "number", "exclusiveMinimum": 0, "description": "Higher is a better match."},
        },
        "required": ["type", "id", "title_zh", "title_en", "snippet_zh", "snippet_en", "url", "score"],
    }
    schema = {
        "type": "object",
        "properties": {
            "query": {"type": "string", "description": "q as given."},
            "total": {
                "type": "integer",
                "minimum": 0,
                "maximum": search.MAX_OFFSET,
                "description": f"Matching records, counted up to {search.MAX_OFFSET:,}.",
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
        "summary": "Search every record, in Chinese and English · 中英文检索",
        "description": "Policies, measures (with their full text), targets, indicators, platforms, funds, events, "
        "agencies, glossary terms, headings and jurisdictions, best match first. Chinese words, traditional "
        "characters, English words in any inflection, the pinyin of names, and glossary terms in the other "
        "language all find the same records.",
        "parameters": parameters,
        "responses": {
            **_ok("One page of results.", {JSON_TYPE: {"schema": ref("SearchResults")}}),
            **error_responses(400, 406, 503),
        },
    }
    return {f"{PREFIX}/search": {"get": operation}}, {"SearchResults": schema}


def openapi_document(
    catalog: Catalog, release: dict[str, str], examples: dict[str, str] | None = None
) -> dict[str, Any]:
    """The OpenAPI 3.1 document for `catalog`; `examples` gives an existing id per collection."""
    examples = examples or {}
    schemas = common_schemas()
    paths = meta_paths()
    search_path, search_schemas = search_paths(catalog)
    paths.update(search_path)
    schemas.update(search_schemas)
    for collection in catalog.collections.values():
        schemas[f"{collection.name}.record"] = record_schema(collection)
        schemas[f"{collection.name}.summary"] = summary_schema(collection)
        schemas[f"{collection.name}.item"] = {
            "type": "object",
            "properties": {
                "collection": {"const": collection.name},
                "item": item_schema(collection, catalog),
                "release": ref("Release"),
            },
            "required": ["collection", "item", "release"],
        }
        schemas[f"{collection.name}.page"] = page_schema(collection)
        paths.update(collection_paths(collection, catalog, examples.get(collection.name)))
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Kechuang Open Data API · 科创开放数据接口",
            "version": "1",
            "description": DESCRIPTION,
            "license": {"name": "CC BY 4.0 (data); Apache-2.0 (code)", "identifier": "CC-BY-4.0"},
            "x-data-release": release,
        },
        "servers": [{"url": "/", "description": "This portal"}],
        "tags": [
            {"name": "about", "description": "The index, this document and its web page."},
            {"name": "search", "description": "One search over every record, in Chinese and English."},
            *(
                {"name": c.name, "description": f"{c.schema.title} · {c.schema.title_zh}: {c.schema.description}"}
                for c in catalog.collections.values()
            ),
        ],
        "paths": paths,
        "components": {"schemas": schemas},
    }
