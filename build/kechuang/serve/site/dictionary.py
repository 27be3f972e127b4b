"""The data dictionary, generated from the model the served database was built with.

Nothing here is written by hand: a column added to a schema appears in the dictionary in both languages.
"""

from __future__ import annotations

from dataclasses import dataclass

from kechuang.model.schema import TableSchema
from kechuang.model.views import View


@dataclass(frozen=True)
class DictionaryField:
    name: str
    type: str
    required: bool
    built: bool
    description: str
    enum: tuple[str, ...]
    references: str | None  # "table.column" for a foreign key


@dataclass(frozen=True)
class DictionaryTable:
    name: str
    title: str
    description: str
    primary_key: tuple[str, ...]
    fields: tuple[DictionaryField, ...]


@dataclass(frozen=True)
class DictionaryView:
    name: str
    description: str


def dictionary_tables(schemas: dict[str, TableSchema], lang: str) -> list[DictionaryTable]:
    """Every table with every column (curated and built) described in `lang`."""
    tables = []
    for name, schema in schemas.items():
        fields = []
        for f in schema.columns:
            fk = schema.foreign_key_for(f.name)
            fields.append(
                DictionaryField(
                    name=f.name,
                    type=f.type,
                    required=f.required,
                    built=f.derived,
                    description=(f.description_zh or f.description) if lang == "zh" else f.description,
                    enum=f.enum or (),
                    references=f"{fk.table}.{fk.columns[0]}" if fk else None,
                )
            )
        tables.append(
            DictionaryTable(
                name=name,
                title=(schema.title_zh or schema.title) if lang == "zh" else schema.title,
                description=(schema.description_zh or schema.description) if lang == "zh" else schema.description,
                primary_key=schema.primary_key,
                fields=tuple(fields),
            )
        )
    return tables


def dictionary_views(views: dict[str, View], lang: str) -> list[DictionaryView]:
    """The convenience views, described in `lang`."""
    return [
        DictionaryView(name, (view.description_zh or view.description) if lang == "zh" else view.description)
        for name, view in views.items()
    ]
