"""Load the Frictionless table schemas: the single source of truth for the data model."""

from __future__ import annotations

import copy
import functools
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

SLUG_PATTERN = "^[a-z0-9]+(-[a-z0-9]+)*$"


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
    search: str | None = None  # x_search: the part of a search record the field feeds (name, title, quote, body)

    @property
    def is_english(self) -> bool:
        return self.name.endswith("_en")


@dataclass(frozen=True)
class ForeignKey:
    fields: tuple[str, ...]
    table: str
    columns: tuple[str, ...]


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
    )


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
        name=descriptor["name"],
        title=descriptor.get("title", descriptor["name"]),
        title_zh=descriptor.get("x_title_zh", ""),
        description=descriptor.get("description", ""),
        description_zh=descriptor.get("x_description_zh", ""),
        fields=tuple(_parse_field(f) for f in descriptor["fields"]),
        primary_key=tuple(descriptor.get("primaryKey", [])),
        foreign_keys=fks,
        label_column=descriptor.get("x_label_column"),
        descriptor=descriptor,
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


def load_schemas(schemas_dir: Path) -> dict[str, TableSchema]:
    """Every table schema in `schemas_dir`, keyed by table name, in dependency order."""
    stamp = tuple((p.name, p.stat().st_mtime) for p in sorted(Path(schemas_dir).glob("*.yaml")))
    return _load_cached(str(Path(schemas_dir).resolve()), stamp)
