"""Which tables the API publishes as collections, and what each one offers, derived from the schemas.

Nothing here names a column: fields, filters, sort keys, text-search columns and embedded
records all follow from the Frictionless schemas (types, enums, foreign keys, `x_filter`,
`x_label_column`) and from the derived columns the build adds. A schema change therefore
changes the API, its OpenAPI document and its docs together.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from typing import Any

from kechuang.model import Model
from kechuang.model.schema import TableSchema, ordered_by
from kechuang.model.search import search_columns

PREFIX = "/api/v1"

NUMERIC = ("integer", "number")
RESERVED_KEYS = ("url", "related")  # keys the API adds to records; no column may take them
CONTROL_PARAMS = ("q", "sort", "limit", "cursor", "fields", "format")  # no filter may take these names
SEARCH_PARAM = "search"  # the bilingual search as a filter, on the collections search indexes


@dataclass(frozen=True)
class Column:
    """One field of a published record: a schema field or a column the build derives."""

    name: str
    type: str
    description: str
    description_zh: str
    enum: tuple[str, ...] | None = None
    required: bool = False
    derived: bool = False
    minimum: float | None = None
    maximum: float | None = None
    pattern: str | None = None


@dataclass(frozen=True)
class Route:
    """Where a filter's column lives: on the record itself, or in a table reached from it.

    `table` is None for the record's own columns; otherwise the filter holds when some row of
    `table` whose `join_column` equals the record's `local_column` satisfies it.
    """

    table: str | None = None
    join_column: str | None = None
    local_column: str | None = None


@dataclass(frozen=True)
class Filter:
    """One query parameter that narrows a collection. Its description is its kind's sentence in each language
    (`api_docs.parameters` in site/i18n), worded by wording.py."""

    name: str
    # "in" (comma list), "eq", "min", "max", "bool", "text", "presence" (include, exclude, only), "search" (the
    # bilingual search of /api/v1/search, for the tables it indexes)
    kind: str
    column: str
    type: str
    route: Route = Route()
    enum: tuple[str, ...] | None = None
    references: str | None = None  # table whose ids the values are
    columns: tuple[str, ...] = ()  # for "text": the columns searched


@dataclass(frozen=True)
class Link:
    """A link table joining two tables, e.g. measure_agencies between measures and agencies."""

    table: str
    own_column: str  # points at the table the link is seen from
    other_column: str  # points at the other side
    other_table: str
    extra: tuple[Column, ...]  # the link's own columns (role, position, quotes)
    filterable: tuple[str, ...]  # columns marked x_filter


@dataclass(frozen=True)
class Embed:
    """A related record or list carried inside an item response."""

    key: str
    # "one" (via a foreign key), "hop" (via a foreign key of a foreign key), "many" (via a link), "back" (the
    # whole records of a table whose `x_portal.embed_in` foreign key points here, e.g. an indicator's steps),
    # "ids" (the ids of the records whose foreign key with `x_inverse` points here, e.g. a target's restated_by)
    kind: str
    table: str
    route: Route
    link: Link | None = None
    description: str = ""
    via_column: str | None = None  # for "hop": the column of the intermediate record


@dataclass(frozen=True)
class Collection:
    """A table published at /api/v1/{name}."""

    name: str
    schema: TableSchema
    columns: tuple[Column, ...]
    filters: tuple[Filter, ...]
    sortable: tuple[str, ...]
    text_columns: tuple[str, ...]
    summary_columns: tuple[str, ...]
    embeds: tuple[Embed, ...] = ()
    column_map: dict[str, Column] = field(default_factory=dict, compare=False, repr=False)
    filter_map: dict[str, Filter] = field(default_factory=dict, compare=False, repr=False)

    @property
    def key(self) -> str:
        return self.schema.primary_key[0]

    @property
    def path(self) -> str:
        return f"{PREFIX}/{self.name}"

    def item_path(self, record_id: str) -> str:
        from urllib.parse import quote

        return f"{PREFIX}/{self.name}/{quote(str(record_id), safe='')}"


@dataclass(frozen=True)
class Catalog:
    """Every collection, and the schemas they were derived from."""

    schemas: dict[str, TableSchema]
    collections: dict[str, Collection]


def is_quantity(column: Column) -> bool:
    """Derived numbers (value_base, amount_cny) are facts worth filtering; derived offsets are not."""
    return not column.derived or column.type == "number"


def filter_name(column: str) -> str:
    """`policy_id` → `policy`: foreign keys are filtered by the name of what they point at."""
    return column[: -len("_id")] if column.endswith("_id") else column


def _columns(schema: TableSchema) -> tuple[Column, ...]:
    own = [
        Column(
            f.name,
            f.type,
            f.description,
            f.description_zh,
            f.enum,
            f.required,
            False,
            f.minimum,
            f.maximum,
            f.pattern,
        )
        for f in schema.fields
    ]
    built = [Column(c.name, c.type, c.description, c.description_zh, derived=True) for c in schema.derived]
    return tuple(own + built)


def _links(schemas: dict[str, TableSchema]) -> list[Link]:
    """Tables whose primary key is two foreign keys: the many-to-many joins between collections."""
    links = []
    for schema in schemas.values():
        if schema.portal.collection is not None or len(schema.primary_key) != 2:
            continue
        fks = [schema.foreign_key_for(c) for c in schema.primary_key]
        if not all(fks):
            continue
        extra = tuple(c for c in _columns(schema) if c.name not in schema.primary_key and not c.derived)
        filterable = tuple(f.name for f in schema.fields if f.filter)
        for own, other in ((fks[0], fks[1]), (fks[1], fks[0])):
            links.append(Link(schema.name, own.fields[0], other.fields[0], other.table, extra, filterable))
    return links


def _value_filters(columns: tuple[Column, ...], schema: TableSchema, route: Route = Route()) -> list[Filter]:
    """Filters on a table's own columns: foreign keys and enums (lists), flags, exact numbers, ranges."""
    out: list[Filter] = []
    flagged = {f.name for f in schema.fields if f.filter}
    for c in columns:
        fk = schema.foreign_key_for(c.name)
        if (c.name in schema.primary_key and len(schema.primary_key) == 1) or not is_quantity(c):
            continue
        if fk or c.enum or (c.type == "string" and c.name in flagged):
            out.append(
                Filter(
                    filter_name(c.name) if fk else c.name,
                    "in",
                    c.name,
                    c.type,
                    route,
                    enum=c.enum,
                    references=fk.table if fk else None,
                )
            )
        elif c.type == "boolean" and c.name in flagged:
            out.append(Filter(c.name, "bool", c.name, c.type, route))
        if c.type in NUMERIC and c.name in flagged:
            out.append(Filter(c.name, "eq", c.name, c.type, route))
        if c.type in (*NUMERIC, "date"):
            out.append(Filter(f"{c.name}_min", "min", c.name, c.type, route))
            out.append(Filter(f"{c.name}_max", "max", c.name, c.type, route))
    return out


def _link_filter(link: Link, route: Route) -> Filter:
    return Filter(
        filter_name(link.other_column),
        "in",
        link.other_column,
        "string",
        route,
        references=link.other_table,
    )


def _link_extra_filters(link: Link, route: Route, only_flagged: bool) -> list[Filter]:
    """A link's own enum columns (role) filter through the same link row as its other key."""
    return [
        Filter(
            c.name,
            "in",
            c.name,
            c.type,
            route,
            enum=c.enum,
        )
        for c in link.extra
        if c.enum and (c.name in link.filterable or not only_flagged)
    ]


def _through_links(
    name: str, schema: TableSchema, schemas: dict[str, TableSchema], links: list[Link]
) -> tuple[list[Filter], list[Embed]]:
    """Link tables of this collection: measures?agency=…&role=lead, agencies?measure=…, and the linked lists."""
    filters: list[Filter] = []
    embeds: list[Embed] = []
    for link in (lk for lk in links if schemas[lk.table].foreign_key_for(lk.own_column).table == name):
        route = Route(link.table, link.own_column, schema.primary_key[0])
        filters += [_link_filter(link, route), *_link_extra_filters(link, route, only_flagged=False)]
        title = schemas[link.other_table].title
        embeds.append(
            Embed(link.other_table, "many", link.other_table, route, link, f"{title} linked through {link.table}.")
        )
    return filters, embeds


def _through_foreign_keys(
    name: str, schema: TableSchema, schemas: dict[str, TableSchema], links: list[Link]
) -> tuple[list[Filter], list[Embed]]:
    """One hop along each foreign key to a collection: the record it points at, that record's x_filter
    foreign keys (targets?jurisdiction= through the policy) and its links whose other key is x_filter
    (targets?agency=…&role= through the measure)."""
    filters: list[Filter] = []
    embeds: list[Embed] = []
    for fk in schema.foreign_keys:
        local = fk.fields[0]
        if fk.table not in schemas or schemas[fk.table].portal.collection is None:
            continue
        route = Route(fk.table, fk.columns[0], local)
        description = f"The record `{local}` points at, or null. {schema.field(local).description}"
        embeds.append(Embed(filter_name(local), "one", fk.table, route, None, description))
        if fk.table == name:
            continue  # a parent of the same kind adds no new way to filter
        target = schemas[fk.table]
        for tf in target.fields:
            tfk = target.foreign_key_for(tf.name)
            if not (tf.filter and tfk) or tf.name in schema.field_names or schemas.get(tfk.table, target).portal.collection is None:
                continue
            filters.append(
                Filter(
                    filter_name(tf.name),
                    "in",
                    tf.name,
                    tf.type,
                    route,
                    references=tfk.table,
                )
            )
            description = f"The {filter_name(tf.name)} of the record's {filter_name(local)}."
            embeds.append(Embed(filter_name(tf.name), "hop", tfk.table, route, None, description, tf.name))
        for link in (lk for lk in links if schemas[lk.table].foreign_key_for(lk.own_column).table == fk.table):
            if link.other_column not in link.filterable:
                continue
            link_route = Route(link.table, link.own_column, local)
            filters += [
                _link_filter(link, link_route),
                *_link_extra_filters(link, link_route, only_flagged=True),
            ]
            title = schemas[link.other_table].title
            description = f"{title} linked to the record's {filter_name(local)} through {link.table}."
            embeds.append(Embed(link.other_table, "many", link.other_table, link_route, link, description))
    return filters, embeds


def _embedded_back(name: str, schemas: dict[str, TableSchema]) -> list[Embed]:
    """Collections that ask (`x_portal.embed_in`) to be listed whole in the items their foreign key points at."""
    out = []
    for other in schemas.values():
        column = other.portal.embed_in
        fk = other.foreign_key_for(column) if column else None
        if fk is None or fk.table != name or other.portal.collection is None:
            continue
        route = Route(other.name, column, fk.columns[0])
        out.append(Embed(other.name, "back", other.name, route, None, f"{other.title}: {other.description}"))
    return out


PRESENCE = ("include", "exclude", "only")


def _inverses(name: str, schemas: dict[str, TableSchema]) -> tuple[list[Filter], list[Embed]]:
    """Foreign keys with `x_inverse`: the filter on whether this table's key is set (restatements=exclude), and
    the ids of the records pointing here (restated_by)."""
    schema = schemas[name]
    filters = [
        Filter(
            f.inverse.filter,
            "presence",
            f.name,
            f.type,
            enum=PRESENCE,
        )
        for f in schema.fields
        if f.inverse and f.inverse.filter
    ]
    embeds = []
    for other in schemas.values():
        for f in other.fields:
            fk = other.foreign_key_for(f.name) if f.inverse else None
            if f.inverse is None or fk is None or fk.table != name or other.portal.collection is None:
                continue
            route = Route(other.name, f.name, fk.columns[0])
            description = f"Ids of the {other.name} whose `{f.name}` is this record, in id order. {f.description}"
            embeds.append(Embed(f.inverse.name, "ids", other.name, route, None, description))
    return filters, embeds


def _collection(name: str, schemas: dict[str, TableSchema], links: list[Link]) -> Collection:
    schema = schemas[name]
    columns = _columns(schema)
    link_filters, link_embeds = _through_links(name, schema, schemas, links)
    hop_filters, hop_embeds = _through_foreign_keys(name, schema, schemas, links)
    hop_embeds += _embedded_back(name, schemas)
    inverse_filters, inverse_embeds = _inverses(name, schemas)
    hop_embeds += inverse_embeds
    filters: dict[str, Filter] = {}
    for f in (*_value_filters(columns, schema), *inverse_filters, *link_filters, *hop_filters):
        filters.setdefault(f.name, f)  # the record's own column wins over one reached through another table
    embeds = [*link_embeds, *hop_embeds]

    text_columns = tuple(
        c.name for c in columns if not c.derived and c.type == "string" and c.name.endswith(("_zh", "_en"))
    )
    text = Filter("q", "text", "", "string", columns=text_columns)
    search = Filter(SEARCH_PARAM, "search", "", "string")
    all_filters = (text, *((search,) if search_columns(schema) else ()), *filters.values())

    flagged = {f.name for f in schema.fields if f.filter}
    summary = _summary_columns(schema)
    sortable = tuple(
        c.name
        for c in columns
        if is_quantity(c)
        and (
            c.name in schema.primary_key
            or c.name in summary
            or c.enum
            or c.name in flagged
            or schema.foreign_key_for(c.name)
            or c.type in (*NUMERIC, "date", "boolean")
        )
    )
    embed_keys = [e.key for e in embeds]
    reserved = {*embed_keys, *RESERVED_KEYS}
    clashes = {k for k in embed_keys if embed_keys.count(k) > 1} | (reserved & {c.name for c in columns})
    clashes |= set(filters) & {*CONTROL_PARAMS, SEARCH_PARAM}
    if clashes:
        raise ValueError(f"{name}: names clash with the API's own: {sorted(clashes)}")
    return Collection(
        name=name,
        schema=schema,
        columns=columns,
        filters=all_filters,
        sortable=sortable,
        text_columns=text_columns,
        summary_columns=summary,
        embeds=tuple(embeds),
        column_map={c.name: c for c in columns},
        filter_map={f.name: f for f in all_filters},
    )


def _summary_columns(schema: TableSchema) -> tuple[str, ...]:
    """What identifies a record to a reader: its id and its label in both languages."""
    out = [schema.primary_key[0]]
    label = schema.label_column
    if label:
        out.append(label)
        for a, b in (("_zh", "_en"), ("_en", "_zh")):
            if label.endswith(a) and label[: -len(a)] + b in schema.field_names:
                out.append(label[: -len(a)] + b)
    return tuple(dict.fromkeys(out))


def build_catalog(schemas: dict[str, TableSchema]) -> Catalog:
    """The collections the API publishes (tables with `x_portal.collection`, in its order), from `schemas`."""
    links = _links(schemas)
    names = [s.name for s in ordered_by(schemas, "collection")]
    collections = {name: _collection(name, schemas, links) for name in names}
    return Catalog(schemas=schemas, collections=collections)


@functools.lru_cache(maxsize=8)
def catalog_of(model: Model) -> Catalog:
    """The catalog of a model, built once per model (a served database's model lives as long as it is served)."""
    return build_catalog(model.tables)


def json_value(column: Column, value: Any) -> Any:
    """A stored value as the API publishes it: flags as booleans, whole numbers without `.0`."""
    if value is None:
        return None
    if column.type == "boolean":
        return bool(value)
    if column.type == "number" and isinstance(value, float) and value.is_integer() and abs(value) < 2**53:
        return int(value)
    return value
