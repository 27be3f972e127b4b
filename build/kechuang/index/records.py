"""Read the compiled tables as search records; which columns feed a record is declared in the model."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from datasette.utils import tilde_encode
from sqlite_utils import Database

from kechuang.index.pages import page_urls
from kechuang.model.schema import TableSchema
from kechuang.model.search import DATABASE, TERM_ROLE, SearchRecord, english_twin, language_of, search_columns


def row_url(table: str, pk_values: list[Any]) -> str:
    """The record's Datasette row page, with the primary key tilde-encoded as Datasette does."""
    return f"/{DATABASE}/{table}/" + ",".join(tilde_encode(str(v)) for v in pk_values)



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
    pages = page_urls(db, schema)
    present = set(db[schema.name].columns_dict)
    wanted = [c for c in dict.fromkeys([*schema.primary_key, *roles, *(c for c in (label, label_en) if c)]) if c]
    missing = [c for c in wanted if c not in present]
    if missing:
        raise ValueError(f"{schema.name}: search columns {missing} are not in the database")
    select = ", ".join(f"[{c}]" for c in wanted)
    order = ", ".join(f"[{c}]" for c in schema.primary_key)
    for row in db.query(f"select {select} from [{schema.name}] order by {order}"):
        pk = [row[c] for c in schema.primary_key]
        key = ",".join(str(v) for v in pk)
        record = SearchRecord(
            type=schema.name,
            id=key,
            url=row_url(schema.name, pk),
            page_url=pages.get(key, ""),
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
