"""The portal page of every search record: where a search result lands (its Datasette row stays the data view).

The schemas say it (`x_portal`): `record_page` is a path with `{column}` places, e.g. a measure's
`/policies/{policy_id}#m-{id}` (its paragraph in the reader), a heading's section, a place's targets;
otherwise a table whose `page` is `/<table>` (policies, targets, indicators, agencies, platforms, funds,
events, glossary) has `/<table>/{id}`; a theme's page is the indicators listing filtered to it. A table with
neither has no page: its results link to its row.
"""

from __future__ import annotations

import string
from urllib.parse import quote

from sqlite_utils import Database

from kechuang.model.schema import TableSchema


def page_pattern(schema: TableSchema) -> str | None:
    """The table's record page with `{column}` places, or None when its records have no page of their own."""
    if schema.portal.record_page:
        return schema.portal.record_page
    if schema.portal.page == f"/{schema.name}" and len(schema.primary_key) == 1:
        return f"/{schema.name}/{{{schema.primary_key[0]}}}"
    return None


def page_urls(db: Database, schema: TableSchema) -> dict[str, str]:
    """Record id (primary key values comma-joined, as search stores it) → its page; empty for a table without pages."""
    pattern = page_pattern(schema)
    if pattern is None:
        return {}
    places = [name for _text, name, _spec, _conv in string.Formatter().parse(pattern) if name]
    unknown = sorted(set(places) - set(db[schema.name].columns_dict))
    if unknown:
        raise ValueError(f"{schema.name}: x_portal.record_page names columns {unknown} the table does not have")
    key = list(schema.primary_key)
    columns = list(dict.fromkeys([*key, *places]))
    select = ", ".join(f"[{c}]" for c in columns)
    pages = {}
    for row in db.execute(f"select {select} from [{schema.name}]").fetchall():
        values = dict(zip(columns, row, strict=True))
        record = ",".join(str(values[c]) for c in key)
        pages[record] = pattern.format(**{name: quote(str(values[name]), safe="") for name in places})
    return pages
