"""The sentences of the OpenAPI document in one language: the `api_docs` section of site/i18n/<lang>.yaml.

openapi.py words the English document from en.yaml and localize.py its Chinese copy from zh.yaml, with the
functions here, so each sentence is written once per language and both get the same values put into them
(limits, sizes, the tables' own descriptions in that language).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, Protocol

from kechuang import assets
from kechuang.serve.api.collections import Catalog, Collection, Embed, Filter, filter_name
from kechuang.serve.api.query import DEFAULT_LIMIT, MAX_LIMIT
from kechuang.serve.search import routes as search
from kechuang.serve.security.guard import MAX_PATH_BYTES, MAX_QUERY_BYTES
from kechuang.serve.site import i18n

Strings = dict[str, Any]

# the numbers the sentences name, as every language shows them
CONSTANTS = {
    "default_limit": DEFAULT_LIMIT,
    "max_limit": MAX_LIMIT,
    "max_offset": f"{search.MAX_OFFSET:,}",
    "max_path_bytes": MAX_PATH_BYTES,
    "max_query_bytes": MAX_QUERY_BYTES,
}


class Described(Protocol):
    description: str
    description_zh: str


def api_strings(lang: str) -> Strings:
    """The `api_docs` section of the catalogue of `lang`, read by the site's own loader."""
    return i18n.load_catalogue(assets.I18N, lang)["api_docs"]


def fill(text: str, **values: Any) -> str:
    """`text` with its placeholders filled: the API's limits and sizes, and `values`."""
    return text.format(**CONSTANTS, **values)


def described(thing: Described, lang: str) -> str:
    """A column's or field's description (from its schema) in `lang`."""
    return thing.description_zh if lang == "zh" else thing.description


def collection_name(collection: Collection, lang: str) -> str:
    """How a sentence names a collection: its name (`targets`) in English, its title (目标) in Chinese."""
    return collection.schema.title_zh if lang == "zh" else collection.name


def embed_description(embed: Embed, collection: Collection, catalog: Catalog, s: Strings, lang: str) -> str:
    """What a list embedded in an item of `collection` holds (the related records of a "back", "ids" or "many"
    embed: through a link of the record itself, or of the record it points at)."""
    words, other = s["schemas"], catalog.schemas[embed.table]
    title = other.title_zh if lang == "zh" else other.title
    if embed.kind == "back":
        return words["embed_back"].format(title=title, description=described(other, lang))
    if embed.kind == "ids":
        column = embed.route.join_column or ""
        name = other.title_zh if lang == "zh" else other.name
        return words["embed_ids"].format(other=name, column=column, description=described(other.field(column), lang))
    assert embed.link is not None
    if embed.route.local_column == collection.key:
        return words["embed_link"].format(title=title, link=embed.link.table)
    via = filter_name(embed.route.local_column or "")
    return words["embed_many"].format(title=title, via=via, link=embed.link.table)


def listed(s: Strings, values: Iterable[str]) -> str:
    """`a`, `b`, `c` with the language's separator."""
    return s["separator"].join(f"`{v}`" for v in values)


def overview(s: Strings) -> str:
    """The document's introduction: what the API is and does, then the stability policy."""
    return fill(s["overview_text"]) + "\n\n" + s["stability"]


def enum_note(s: Strings, values: Iterable[str]) -> str:
    """The sentence after an open enum's description: the values known so far."""
    return s["enum_values"].format(values=listed(s, values))


def filter_description(f: Filter, collection: Collection, catalog: Catalog, s: Strings, lang: str) -> str | None:
    """A filter's description: its kind's sentence, with the filtered field's description in `lang`; None for a
    kind the catalogue does not word."""
    p = s["parameters"]
    own = f.route.table is None
    if own:
        column = collection.column_map.get(f.column)
        description = described(column, lang) if column else ""
    else:
        schema = catalog.schemas[f.route.table or ""]
        description = described(schema.field(f.column), lang) if f.column in schema.field_names else ""
    through_link = not own and catalog.schemas[f.route.table or ""].portal.collection is None
    via = filter_name(f.route.local_column or "")
    values = {
        "column": f.column,
        "table": f.references or "",
        "description": description,
        "link": f.route.table,
        "via": via,
    }
    if f.kind == "in":
        if own:
            key = "in_ids" if f.references else "in_values"
        elif through_link:
            key = ("link" if f.route.local_column == collection.key else "hop_link") if f.references else "link_extra"
        else:
            key = "hop"
        return p[key].format(**values) + p["several"]
    if f.kind == "text":
        return p["text"].format(columns=listed(s, f.columns))
    if f.kind in ("bool", "eq", "min", "max", "presence", "search"):
        return p[f.kind].format(**values)
    return None


def control_description(name: str, s: Strings) -> str | None:
    """The description of a listing's own parameter (sort, limit, cursor, fields, format)."""
    text = s["parameters"].get(name)
    return fill(text) if isinstance(text, str) else None


def search_parameter(name: str, s: Strings, types: Iterable[str]) -> str:
    """The description of a parameter of /api/v1/search; `types`: the tables it searches."""
    texts = s["search_parameters"]
    return fill(texts.get(name) or texts["filter"], name=name, types=listed(s, types))


def response(status: str, s: Strings) -> str | None:
    """What an error status means, or None for one the catalogue does not word."""
    text = s["responses"].get(status)
    return fill(text) if text else None
