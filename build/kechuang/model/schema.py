"""The table schemas: Frictionless Table Schemas plus our `x_` keys, the single source of truth for the model.

Besides the standard keys a schema declares, as data:
- `x_title_zh`, `x_description_zh`: the Chinese of every description (fields too);
- `x_label_column`, `x_sort`: how a row is named and how its table is sorted;
- `x_filter`, `x_search`, `x_verbatim`, `x_glossary`: which fields are filtered (and faceted) on, which
  part of a search record a field feeds, which are verbatim quotes, which must use the glossary;
- `x_inverse`: on a foreign key, the key (`name`) under which the record it points at lists, in the API,
  the ids of the records that point at it, and the filter (`filter`) that includes, excludes or keeps only
  the records that point somewhere (targets: `restated_by`, `restatements=exclude` for first statements);
- `x_derived`: the columns the build computes (with `x_compute`, the computation, and `x_from`, its inputs);
- `x_portal`: the table's roles in the portal (API collection, search order, home page, mention lists);
- `x_built`: for a table the build computes from the curated ones (no CSV in datasets/), the computation.
"""

from __future__ import annotations

import copy
import functools
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

SLUG_PATTERN = "^[a-z0-9]+(-[a-z0-9]+)*$"
SQL_TYPES = {"string": str, "integer": int, "number": float, "boolean": int, "date": str}


@dataclass(frozen=True)
class Inverse:
    """`x_inverse` of a foreign key: the list of ids on the item it points at, and the filter on whether it is set."""

    name: str  # key of the list, on the API item of the record pointed at, e.g. restated_by
    filter: str | None = None  # filter of the records holding the key: include (all), exclude (unset), only (set)


@dataclass(frozen=True)
class Field:
    """One column of a table, as its schema declares it."""

    name: str
    type: str
    description: str
    description_zh: str
    required: bool = False
    unique: bool = False
    enum: tuple[str, ...] | None = None
    pattern: str | None = None
    minimum: float | None = None
    maximum: float | None = None
    filter: bool = False
    verbatim: bool = False
    search: str | None = None  # x_search: the part of a search record the field feeds (name, title, figure, quote, body)
    glossary: bool = False  # x_glossary: its English must use the glossary's English for its Chinese terms
    compute: str | None = None  # x_compute: for a derived column, the computation that fills it
    inputs: tuple[str, ...] = ()  # x_from: the curated fields of the same row it is computed from
    inverse: Inverse | None = None  # x_inverse: how the API shows this foreign key from the record it points at

    @property
    def derived(self) -> bool:
        return self.compute is not None

    @property
    def is_english(self) -> bool:
        return self.name.endswith("_en")


@dataclass(frozen=True)
class ForeignKey:
    fields: tuple[str, ...]
    table: str
    columns: tuple[str, ...]


@dataclass(frozen=True)
class Mentions:
    """A table whose records are mentioned in measures through a link table (platforms, funds, events)."""

    table: str  # the link table, e.g. platform_mentions
    key: str  # its column that points here, e.g. platform_id
    anchor: str  # the prefix of a mention's anchor in a policy's reader, e.g. pm


@dataclass(frozen=True)
class Portal:
    """What a table is in the portal (`x_portal`); absent keys mean the table has no such role."""

    collection: int | None = None  # position among the /api/v1 collections
    search: int | None = None  # rank of its records among search results of equal score (lower first)
    home: int | None = None  # position of its count on the home page
    page: str | None = None  # the page listing it (the home page links its count there)
    mentions: Mentions | None = None
    embed_in: str | None = None  # a foreign key whose target's API item lists these records in full
    # where a record lands (search results): a path with {column} places, e.g. /policies/{policy_id}#m-{id};
    # unset, a table whose `page` is /<table> has /<table>/{id}
    record_page: str | None = None


@dataclass(frozen=True)
class TableSchema:
    """A table's schema: its fields, keys and the descriptions the portal shows."""

    name: str
    title: str
    title_zh: str
    description: str
    description_zh: str
    fields: tuple[Field, ...]
    primary_key: tuple[str, ...]
    foreign_keys: tuple[ForeignKey, ...]
    label_column: str | None
    descriptor: dict[str, Any] = field(repr=False, compare=False)
    derived: tuple[Field, ...] = ()
    portal: Portal = Portal()
    sort: str | None = None
    built: str | None = None  # x_built: the computation that fills a table the build derives (no CSV)

    @property
    def curated(self) -> bool:
        """True for a table curated by hand in datasets/, False for one the build computes."""
        return self.built is None

    @functools.cached_property
    def columns(self) -> tuple[Field, ...]:
        """Every column of the compiled table: the curated fields, then the derived ones."""
        return (*self.fields, *self.derived)

    @functools.cached_property
    def column_names(self) -> list[str]:
        return [c.name for c in self.columns]

    @functools.cached_property
    def facets(self) -> list[str]:
        """The columns a table page offers as facets: those the portal filters on."""
        return [f.name for f in self.fields if f.filter]

    @functools.cached_property
    def bilingual_pairs(self) -> list[tuple[str, str]]:
        """(Chinese, English) column pairs: every `<stem>_zh` column with a `<stem>_en` twin."""
        names = set(self.column_names)
        return [(c, c[:-3] + "_en") for c in self.column_names if c.endswith("_zh") and c[:-3] + "_en" in names]

    def field(self, name: str) -> Field:
        for f in self.fields:
            if f.name == name:
                return f
        raise KeyError(f"{self.name} has no field {name}")

    @functools.cached_property
    def field_names(self) -> list[str]:
        return [f.name for f in self.fields]

    def foreign_key_for(self, column: str) -> ForeignKey | None:
        for fk in self.foreign_keys:
            if fk.fields == (column,):
                return fk
        return None


def _parse_field(raw: dict[str, Any]) -> Field:
    c = raw.get("constraints", {})
    return Field(
        name=raw["name"],
        type=raw.get("type", "string"),
        description=raw.get("description", ""),
        description_zh=raw.get("x_description_zh", ""),
        required=bool(c.get("required", False)),
        unique=bool(c.get("unique", False)),
        enum=tuple(c["enum"]) if "enum" in c else None,
        pattern=c.get("pattern"),
        minimum=c.get("minimum"),
        maximum=c.get("maximum"),
        filter=bool(raw.get("x_filter", False)),
        verbatim=bool(raw.get("x_verbatim", False)),
        search=raw.get("x_search"),
        glossary=bool(raw.get("x_glossary", False)),
        compute=raw.get("x_compute"),
        inputs=tuple(raw.get("x_from", ())),
        inverse=Inverse(**raw["x_inverse"]) if "x_inverse" in raw else None,
    )


def _parse_portal(raw: dict[str, Any]) -> Portal:
    mentions = raw.get("mentions")
    return Portal(
        collection=raw.get("collection"),
        search=raw.get("search"),
        home=raw.get("home"),
        page=raw.get("page"),
        mentions=Mentions(**mentions) if mentions else None,
        embed_in=raw.get("embed_in"),
        record_page=raw.get("record_page"),
    )


def named(descriptor: dict[str, Any]) -> dict[str, str]:
    """The name and the bilingual title and description every table and view declares."""
    return {
        "name": descriptor["name"],
        "title": descriptor.get("title", descriptor["name"]),
        "title_zh": descriptor.get("x_title_zh", ""),
        "description": descriptor.get("description", ""),
        "description_zh": descriptor.get("x_description_zh", ""),
    }


def parse_schema(descriptor: dict[str, Any]) -> TableSchema:
    fks = tuple(
        ForeignKey(
            fields=tuple(fk["fields"]),
            table=fk["reference"]["resource"] or descriptor["name"],  # "" is Frictionless for "this table"
            columns=tuple(fk["reference"]["fields"]),
        )
        for fk in descriptor.get("foreignKeys", [])
    )
    return TableSchema(
        **named(descriptor),
        fields=tuple(_parse_field(f) for f in descriptor["fields"]),
        primary_key=tuple(descriptor.get("primaryKey", [])),
        foreign_keys=fks,
        label_column=descriptor.get("x_label_column"),
        descriptor=descriptor,
        derived=tuple(_parse_field(f) for f in descriptor.get("x_derived", [])),
        portal=_parse_portal(descriptor.get("x_portal", {})),
        sort=descriptor.get("x_sort"),
        built=descriptor.get("x_built"),
    )


def frictionless_descriptor(schema: TableSchema) -> dict[str, Any]:
    """The schema as a standard Table Schema: our `x_` keys and the table-level `name` removed."""

    def clean(d: dict[str, Any]) -> dict[str, Any]:
        return {k: v for k, v in d.items() if not k.startswith("x_") and k != "name"}

    out = clean(copy.deepcopy(schema.descriptor))  # never alter the cached descriptor
    out["fields"] = [{k: v for k, v in f.items() if not k.startswith("x_")} for f in schema.descriptor["fields"]]
    for fk in out.get("foreignKeys", []):
        if fk["reference"]["resource"] == schema.name:
            fk["reference"] = {**fk["reference"], "resource": ""}
    return out


def _dependency_order(schemas: dict[str, TableSchema]) -> list[str]:
    """Tables ordered so that every table comes after the tables it refers to."""
    order: list[str] = []
    seen: set[str] = set()

    def visit(name: str, trail: tuple[str, ...] = ()) -> None:
        if name in seen or name in trail:
            return
        for fk in schemas[name].foreign_keys:
            if fk.table != name and fk.table in schemas:
                visit(fk.table, (*trail, name))
        seen.add(name)
        order.append(name)

    for name in sorted(schemas):
        visit(name)
    return order


@functools.cache
def _load_cached(schemas_dir: str, stamp: tuple[tuple[str, float], ...]) -> dict[str, TableSchema]:
    loaded: dict[str, TableSchema] = {}
    for path in sorted(Path(schemas_dir).glob("*.yaml")):
        descriptor = yaml.safe_load(path.read_text(encoding="utf-8"))
        schema = parse_schema(descriptor)
        if schema.name != path.stem:
            raise ValueError(f"{path}: schema name {schema.name!r} does not match its file name")
        loaded[schema.name] = schema
    return {name: loaded[name] for name in _dependency_order(loaded)}


def ordered_by(schemas: dict[str, TableSchema], role: str) -> list[TableSchema]:
    """The tables that have a portal role (`collection`, `search`, `home`), in the order it gives them."""
    having = [s for s in schemas.values() if getattr(s.portal, role) is not None]
    return sorted(having, key=lambda s: (getattr(s.portal, role), s.name))


def load_schemas(schemas_dir: Path) -> dict[str, TableSchema]:
    """Every table schema in `schemas_dir`, keyed by table name, in dependency order."""
    stamp = tuple((p.name, p.stat().st_mtime) for p in sorted(Path(schemas_dir).glob("*.yaml")))
    return _load_cached(str(Path(schemas_dir).resolve()), stamp)
