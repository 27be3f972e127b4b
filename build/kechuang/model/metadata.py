"""Datasette's metadata for a database: the portal's own metadata plus everything the model says.

`metadata.yml` holds what only a person can say (title, licence, canned queries); titles,
descriptions, label columns, facets, sort orders and hidden tables come from the model.
"""

from __future__ import annotations

import copy
from typing import Any

from kechuang.model import Model
from kechuang.model.meta import META_TABLE
from kechuang.model.schema import TableSchema
from kechuang.model.search import CONTEXT, RECORDS, TERMS

DATABASE_NAME = "kechuang"
HIDDEN_TABLES = (META_TABLE, RECORDS, CONTEXT, TERMS)  # the build's own tables, not data


def bilingual(english: str, chinese: str) -> str:
    return f"{english} · {chinese}" if chinese else english


def exact_sorts(schema: TableSchema) -> list[str]:
    """The columns Datasette 0.65 pages exactly when a table is sorted by them (its `sortable_columns`).

    Datasette orders a first page by the sort column alone and its next pages by the column then the key;
    rows stored in key order with no index usable by a plain sort make both agree (see
    kechuang.compile.tables.in_key_order and kechuang.index.database.create_partial_index). Two sorts
    stay out: descending by the first column of a compound key, SQLite reads the key's index backwards
    and breaks ties by its other columns descending (ascending it is the table's own order); and a whole
    source text, whose value Datasette copies into the next link, beyond any URL limit.
    """
    compound = schema.primary_key[0] if len(schema.primary_key) > 1 else None
    return [c.name for c in schema.columns if c.name != compound and c.compute != "source_text"]


def datasette_metadata(model: Model, portal: dict[str, Any]) -> dict[str, Any]:
    """`portal` (metadata.yml) with every table's and view's Datasette metadata added from `model`."""
    metadata = copy.deepcopy(portal)
    database = metadata.setdefault("databases", {}).setdefault(DATABASE_NAME, {})
    tables = database.setdefault("tables", {})
    for name in HIDDEN_TABLES:
        tables.setdefault(name, {})["hidden"] = True
    for name, schema in model.tables.items():
        table = tables.setdefault(name, {})
        table["title"] = bilingual(schema.title, schema.title_zh)
        table["description"] = bilingual(schema.description, schema.description_zh)
        if schema.label_column:
            table["label_column"] = schema.label_column
        if schema.facets:
            table["facets"] = schema.facets
        if schema.sort:
            table["sort"] = schema.sort
        table["sortable_columns"] = exact_sorts(schema)
        table["columns"] = {c.name: bilingual(c.description, c.description_zh) for c in schema.columns}
    for name, view in model.views.items():
        table = tables.setdefault(name, {})
        table["description"] = bilingual(view.description, view.description_zh)
        if view.facets:
            table["facets"] = list(view.facets)
    return metadata
