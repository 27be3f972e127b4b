"""Read the compiled tables as search records: which columns feed a record is declared in the schemas.

A field's `x_search: name|title|quote|body` (and `search=` on a derived column) says what part of a
record it feeds: *name* and *title* (names, titles, aliases; names also get their pinyin), *quote*
(the sentence a record comes from, summaries, notes) or *body* (full text). The database carries its
own schemas in `_meta`, so records are read from what was compiled, nothing else.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from datasette.utils import tilde_encode
from sqlite_utils import Database

from ..derived import DERIVED_COLUMNS
from ..schemas import TableSchema, parse_schema

DATABASE = "kechuang"
ROLES = ("name", "title", "quote", "body")
# Records are numbered in this order: when a query matches more records than are ranked (see
# rank.MATCH_CAP), the records people look for most come first.
TYPE_ORDER = (
    "policies",
    "indicators",
    "targets",
    "platforms",
    "funds",
    "events",
    "agencies",
    "glossary",
    "jurisdictions",
    "headings",
    "measures",
)
# The role of names: their forms in each language expand a query (cross-lingual search, terms.py).
TERM_ROLE = "name"


@dataclass
class SearchRecord:
    """One searchable record: what the index stores and what a result shows."""

    type: str
    id: str
    url: str
    title_zh: str = ""
    title_en: str = ""
    parts: dict[str, list[str]] = field(default_factory=dict)  # role → field texts
    names_zh: list[str] = field(default_factory=list)  # name-role Chinese texts, for pinyin

    def stored(self, role: str, language: str) -> str:
        return "\n".join(self.parts.get(f"{role}_{language}", []))


def language_of(column: str) -> str:
    return "en" if column.endswith("_en") else "zh"


def english_twin(column: str) -> str | None:
    return column[:-3] + "_en" if column.endswith("_zh") else None


def compiled_schemas(db: Database) -> dict[str, TableSchema]:
    """The schemas the database was compiled from (stored in `_meta` by the compiler)."""
    row = db.execute("select value from _meta where key = 'schemas'").fetchone()
    return {name: parse_schema(descriptor) for name, descriptor in json.loads(row[0]).items()} if row else {}


def search_columns(schema: TableSchema) -> dict[str, str]:
    """Column → role for every column of a table that search reads, schema fields then derived columns."""
    roles = {f.name: f.search for f in schema.fields if f.search}
    roles |= {c.name: c.search for c in DERIVED_COLUMNS if c.table == schema.name and c.search}
    unknown = {role for role in roles.values() if role not in ROLES}
    if unknown:
        raise ValueError(f"{schema.name}: unknown x_search role(s) {sorted(unknown)}; use one of {ROLES}")
    return roles


def row_url(table: str, pk_values: list[Any]) -> str:
    """The record's Datasette row page, with the primary key tilde-encoded as Datasette does."""
    return f"/{DATABASE}/{table}/" + ",".join(tilde_encode(str(v)) for v in pk_values)


def searchable_tables(schemas: dict[str, TableSchema]) -> list[TableSchema]:
    tables = [s for s in schemas.values() if search_columns(s)]
    order = {name: i for i, name in enumerate(TYPE_ORDER)}
    return sorted(tables, key=lambda s: (order.get(s.name, len(order)), s.name))


def referenced_names(db: Database, schemas: dict[str, TableSchema], schema: TableSchema) -> dict[str, dict]:
    """For each searchable foreign-key column: referenced key → (Chinese label, English label).

    A foreign key with `x_search` stands for the record it points to, by its names: a policy's
    `jurisdiction_id` makes 黄石市 and Huangshi part of the policy's title.
    """
    names: dict[str, dict] = {}
    for column in search_columns(schema):
        fk = schema.foreign_key_for(column)
        target = schemas.get(fk.table) if fk else None
        if not (fk and target and target.label_column):
            continue
        label, label_en = target.label_column, english_twin(target.label_column)
        english = f"[{label_en}]" if label_en in target.field_names else "''"
        sql = f"select [{fk.columns[0]}], [{label}], {english} from [{target.name}]"
        names[column] = {key: (zh, en) for key, zh, en in db.execute(sql).fetchall()}
    return names


def read_records(db: Database, schema: TableSchema, schemas: dict[str, TableSchema] | None = None) -> Iterator[SearchRecord]:
    """Every row of a table as a search record; the label column and its English twin are the title."""
    roles = search_columns(schema)
    label = schema.label_column
    label_en = english_twin(label) if label else None
    references = referenced_names(db, schemas or {}, schema)
    present = set(db[schema.name].columns_dict)
    wanted = [c for c in dict.fromkeys([*schema.primary_key, *roles, *(c for c in (label, label_en) if c)]) if c]
    missing = [c for c in wanted if c not in present]
    if missing:
        raise ValueError(f"{schema.name}: search columns {missing} are not in the database")
    select = ", ".join(f"[{c}]" for c in wanted)
    order = ", ".join(f"[{c}]" for c in schema.primary_key)
    for row in db.query(f"select {select} from [{schema.name}] order by {order}"):
        pk = [row[c] for c in schema.primary_key]
        record = SearchRecord(
            type=schema.name,
            id=",".join(str(v) for v in pk),
            url=row_url(schema.name, pk),
            title_zh=str(row[label] or "") if label else "",
            title_en=str(row[label_en] or "") if label_en else "",
        )
        for column, role in roles.items():
            value = row[column]
            if value in (None, ""):
                continue
            if column in references:
                texts = dict(zip(("zh", "en"), references[column].get(value, ("", "")), strict=True))
            else:
                texts = {language_of(column): str(value)}
            for language, text in texts.items():
                if not text:
                    continue
                record.parts.setdefault(f"{role}_{language}", []).append(text)
                if role == TERM_ROLE and language == "zh":
                    record.names_zh.append(text)
        yield record
