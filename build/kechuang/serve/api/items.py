"""One record with the records it relates to, so a developer needs one request, not five.

What is embedded follows from the schemas (see `collections.Embed`): the records a foreign key
points at, one hop further along an x_filter foreign key (a target's jurisdiction through its
policy), the records joined through a link table with the link's own columns (an agency's
measures with its role), and, under `related`, how many records of every collection point at
this one, with the URL that lists them.
"""

from __future__ import annotations

import sqlite3
from typing import Any
from urllib.parse import quote

from kechuang.serve.api.collections import Catalog, Collection, Embed, json_value
from kechuang.serve.api.query import parse_list_query


def summary(collection: Collection, row: dict[str, Any]) -> dict[str, Any]:
    """A record as other records embed it: id, label in both languages, URL."""
    out = {name: json_value(collection.column_map[name], row.get(name)) for name in collection.summary_columns}
    out["url"] = collection.item_path(row[collection.key])
    return out


def _select_summary(conn: sqlite3.Connection, collection: Collection, key: Any) -> dict[str, Any] | None:
    if key is None:
        return None
    columns = collection.summary_columns
    sql = f'select {", ".join(f"{chr(34)}{c}{chr(34)}" for c in columns)} from "{collection.name}" where "{collection.key}" = ?'
    row = conn.execute(sql, [key]).fetchone()
    return summary(collection, dict(zip(columns, row, strict=True))) if row else None


def _embedded(conn: sqlite3.Connection, catalog: Catalog, embed: Embed, row: dict[str, Any]) -> Any:
    route = embed.route
    local = row.get(route.local_column or "")
    if embed.kind == "one":
        return _select_summary(conn, catalog.collections[embed.table], local)
    if embed.kind == "ids":
        table = catalog.collections[embed.table]
        sql = f'select "{table.key}" from "{embed.table}" where "{route.join_column}" = ? order by "{table.key}"'
        return [found[0] for found in conn.execute(sql, [local]).fetchall()]
    if embed.kind == "back":
        return _records_pointing_here(conn, catalog.collections[embed.table], route.join_column or "", local)
    if embed.kind == "hop":
        found = conn.execute(
            f'select "{embed.via_column}" from "{route.table}" where "{route.join_column}" = ?', [local]
        ).fetchone()
        return _select_summary(conn, catalog.collections[embed.table], found[0] if found else None)
    link = embed.link
    assert link is not None
    other = catalog.collections[link.other_table]
    columns = other.summary_columns
    extra = [c.name for c in link.extra]
    link_schema = catalog.schemas[link.table]
    # A link's `position` orders the records listed for its first key (agencies within a measure).
    ordered = "position" in link_schema.field_names and link_schema.primary_key[0] == link.own_column
    order = 'l."position"' if ordered else f'o."{other.key}"'

    select = ", ".join([*(f'o."{c}"' for c in columns), *(f'l."{c}"' for c in extra)])
    sql = (
        f'select {select} from "{link.table}" as l join "{other.name}" as o on o."{other.key}" = l."{link.other_column}"'
        f' where l."{link.own_column}" = ? order by {order}'
    )
    out = []
    for values in conn.execute(sql, [local]).fetchall():
        record = dict(zip([*columns, *extra], values, strict=True))
        entry = summary(other, record)
        entry.update({c.name: json_value(c, record[c.name]) for c in link.extra})
        out.append(entry)
    return out


def _records_pointing_here(conn: sqlite3.Connection, other: Collection, column: str, local: Any) -> list[dict]:
    """Whole records of `other` whose `column` is `local`, in the table's order (x_sort, then key)."""
    names = [c.name for c in other.columns]
    order = [c for c in (other.schema.sort, other.key) if c]
    sql = (
        f'select {", ".join(f"{chr(34)}{n}{chr(34)}" for n in names)} from "{other.name}" where "{column}" = ? '
        f'order by {", ".join(f"{chr(34)}{c}{chr(34)}" for c in order)}'
    )
    out = []
    for values in conn.execute(sql, [local]).fetchall():
        row = dict(zip(names, values, strict=True))
        record = {c.name: json_value(c, row[c.name]) for c in other.columns}
        record["url"] = other.item_path(row[other.key])
        out.append(record)
    return out


def related_counts(conn: sqlite3.Connection, catalog: Catalog, collection: Collection, record_id: str) -> dict:
    """For every collection with a filter on this record's id: how many records, and the URL listing them."""
    out: dict[str, dict[str, Any]] = {}
    for other in catalog.collections.values():
        refs = [f for f in other.filters if f.kind == "in" and f.references == collection.name]
        for f in refs:
            sql, params = parse_list_query(other, {f.name: record_id}).count_sql()
            key = other.name if len(refs) == 1 else f"{other.name}_by_{f.name}"
            out[key] = {
                "count": conn.execute(sql, params).fetchone()[0],
                "url": f"{other.path}?{f.name}={quote(record_id, safe='')}",
            }
    return out


def fetch_item(conn: sqlite3.Connection, catalog: Catalog, collection: Collection, record_id: str) -> dict | None:
    """The record with id `record_id` and everything embedded in it, or None when there is none."""
    names = [c.name for c in collection.columns]
    select = ", ".join(f'"{n}"' for n in names)
    found = conn.execute(f'select {select} from "{collection.name}" where "{collection.key}" = ?', [record_id])
    values = found.fetchone()
    if values is None:
        return None
    row = dict(zip(names, values, strict=True))
    item: dict[str, Any] = {c.name: json_value(c, row[c.name]) for c in collection.columns}
    item["url"] = collection.item_path(record_id)
    for embed in collection.embeds:
        item[embed.key] = _embedded(conn, catalog, embed, row)
    item["related"] = related_counts(conn, catalog, collection, record_id)
    return item
