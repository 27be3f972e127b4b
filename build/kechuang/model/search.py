"""What search reads and where the index keeps it: declared in the schemas, shared by index and serve.

A column's `x_search: name|title|quote|body` says what part of a record it feeds: *name* and
*title* (names, titles, aliases; names also get their pinyin), *quote* (the sentence a record comes
from, summaries, notes) or *body* (full text). A table's `x_portal.search` numbers its records among
the others: when a query matches more records than are ranked (see rank.MATCH_CAP), the records
people look for most come first.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from kechuang.model.schema import TableSchema

DATABASE = "kechuang"
ROLES = ("name", "title", "quote", "body")
# The role of names: their forms in each language expand a query (cross-lingual search, terms.py).
TERM_ROLE = "name"

# The tables the index stage writes and search reads (see kechuang.index.search).
RECORDS = "search_records"
INDEX = "search_index"  # shards are search_index_1, search_index_2, … (see SHARD_SIZE)
SHARD_SIZE = 100_000
FTS_COLUMNS = ("title", "title_cjk", "pinyin", "quote", "quote_cjk", "body", "body_cjk")

TERMS = "search_terms"


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


def search_columns(schema: TableSchema) -> dict[str, str]:
    """Column → role for every column of a table that search reads, schema fields then derived columns."""
    roles = {c.name: c.search for c in schema.columns if c.search}
    unknown = {role for role in roles.values() if role not in ROLES}
    if unknown:
        raise ValueError(f"{schema.name}: unknown x_search role(s) {sorted(unknown)}; use one of {ROLES}")
    return roles


def searchable_tables(schemas: dict[str, TableSchema]) -> list[TableSchema]:
    """Tables with searchable columns, in the order their records are numbered (`x_portal.search`, then name)."""
    tables = [s for s in schemas.values() if search_columns(s)]
    return sorted(tables, key=lambda s: (s.portal.search or len(schemas) + 1, s.name))


def shard_name(number: int) -> str:
    return f"{INDEX}_{number}"


def shard_of(rowid: int) -> int:
    return (rowid - 1) // SHARD_SIZE + 1


def shard_names(conn) -> list[str]:
    """The index shards of a database, in order."""
    rows = conn.execute(
        "select name from sqlite_master where type = 'table' and name glob ? and sql like 'create virtual table%'",
        [f"{INDEX}_[0-9]*"],
    ).fetchall()
    return sorted((r[0] for r in rows), key=lambda name: int(name.rsplit("_", 1)[1]))
