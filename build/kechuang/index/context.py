"""Where each searchable record sits: place, years, documents and base unit, read through the foreign keys.

A target's sentence rarely repeats its place ("技术合同成交额达到86亿元" is Wuchang's because its policy is),
so search ranks by what a record inherits: a column pointing to the places table gives its own place, a
column pointing to the policies table its document (and that policy's place and year when it has none),
and any table pointing both to it and to a policy (directly or through a record that has one, such as
platform mentions through measures) adds the documents that mention it. Places carry their parents,
so a Wuchang record also sits in Wuhan. Nothing here names a table but the three roles declared in
kechuang.model.search (policies, places, units); the columns are found from the schemas' foreign keys.
"""

from __future__ import annotations

from collections import defaultdict

from sqlite_utils import Database

from kechuang.model.schema import TableSchema
from kechuang.model.search import PLACES, POLICIES, UNITS, RecordContext


def _column_to(schema: TableSchema, table: str) -> str | None:
    """The first single-column foreign key of `schema` that points to `table`."""
    return next((fk.fields[0] for fk in schema.foreign_keys if fk.table == table and len(fk.fields) == 1), None)


def year_column(schema: TableSchema) -> str | None:
    """The year a record is about: its first integer column named `*_year` (deadline, horizon)."""
    return next((f.name for f in schema.fields if f.type == "integer" and f.name.endswith("_year")), None)


def _lineages(db: Database, schemas: dict[str, TableSchema]) -> dict[str, list[str]]:
    """Place → the place and those above it, nearest first."""
    places = schemas.get(PLACES)
    if not places or not db[PLACES].exists():
        return {}
    key = places.primary_key[0]
    parent = _column_to(places, PLACES)
    parents = dict(db.execute(f"select [{key}], {f'[{parent}]' if parent else 'null'} from [{PLACES}]").fetchall())
    lineages: dict[str, list[str]] = {}
    for place in parents:
        chain, seen = [place], {place}
        while (up := parents.get(chain[-1])) and up not in seen:
            chain.append(up)
            seen.add(up)
        lineages[place] = chain
    return lineages


def _policies(db: Database, schemas: dict[str, TableSchema]) -> dict[str, tuple[str | None, int | None]]:
    """Policy → (its place, its year)."""
    policies = schemas.get(POLICIES)
    if not policies:
        return {}
    place, year = _column_to(policies, PLACES), year_column(policies)
    select = ", ".join(f"[{c}]" if c else "null" for c in (policies.primary_key[0], place, year))
    return {row[0]: (row[1], row[2]) for row in db.execute(f"select {select} from [{POLICIES}]")}


def _base_units(db: Database, schemas: dict[str, TableSchema]) -> dict[str, str]:
    units = schemas.get(UNITS)
    if not units or "base_unit" not in units.field_names:
        return {}
    return dict(db.execute(f"select [{units.primary_key[0]}], base_unit from [{UNITS}]").fetchall())


def _mentioning_documents(db: Database, schemas: dict[str, TableSchema], table: str) -> dict[str, set[str]]:
    """Record id → the policies of the rows that point to it from another table (links, targets of an indicator)."""
    documents: dict[str, set[str]] = defaultdict(set)
    for link in schemas.values():
        if link.name in (table, POLICIES) or not db[link.name].exists():
            continue
        to_record = _column_to(link, table)
        if not to_record:
            continue
        if policy := _column_to(link, POLICIES):
            sql = f"select [{to_record}], [{policy}] from [{link.name}]"
        else:
            via = next(
                (
                    (fk.fields[0], schemas[fk.table])
                    for fk in link.foreign_keys
                    if len(fk.fields) == 1 and fk.table in schemas and fk.table != table and _column_to(schemas[fk.table], POLICIES)
                ),
                None,
            )
            if not via:
                continue
            column, middle = via
            sql = (
                f"select l.[{to_record}], m.[{_column_to(middle, POLICIES)}] from [{link.name}] l "
                f"join [{middle.name}] m on m.[{middle.primary_key[0]}] = l.[{column}]"
            )
        for record, document in db.execute(sql).fetchall():
            if record is not None and document:
                documents[str(record)].add(document)
    return documents


def table_contexts(db: Database, schemas: dict[str, TableSchema], schema: TableSchema) -> dict[str, RecordContext]:
    """Record id (as search records write it) → its context."""
    lineages, policies, units = _lineages(db, schemas), _policies(db, schemas), _base_units(db, schemas)
    place_column = schema.primary_key[0] if schema.name == PLACES else _column_to(schema, PLACES)
    policy_column = schema.primary_key[0] if schema.name == POLICIES else _column_to(schema, POLICIES)
    year, unit = year_column(schema), _column_to(schema, UNITS)
    mentioned = _mentioning_documents(db, schemas, schema.name) if len(schema.primary_key) == 1 else {}
    wanted = [c for c in dict.fromkeys([*schema.primary_key, place_column, policy_column, year, unit]) if c]
    contexts: dict[str, RecordContext] = {}
    for row in db.query(f"select {', '.join(f'[{c}]' for c in wanted)} from [{schema.name}]"):
        record_id = ",".join(str(row[c]) for c in schema.primary_key)
        document = row[policy_column] if policy_column else None
        policy_place, policy_year = policies.get(document, (None, None)) if document else (None, None)
        place = (row[place_column] if place_column else None) or policy_place
        own_year = row[year] if year else None
        documents = sorted({*([document] if document else []), *mentioned.get(record_id, ())})
        years = [y for y in [own_year or policy_year] if y]
        if not years and documents and schema.name != PLACES:
            years = sorted({y for d in documents if (y := policies.get(d, (None, None))[1])})
        contexts[record_id] = RecordContext(
            places=lineages.get(place, [place]) if place else [],
            years=[int(y) for y in years],
            documents=documents,
            base_unit=units.get(row[unit], "") if unit else "",
        )
    return contexts
