"""What search reads and where the index keeps it: declared in the schemas, shared by index and serve.

A column's `x_search: name|title|figure|quote|body` says what part of a record it feeds: *name* and
*title* (names, titles, aliases; names also get their pinyin), *figure* (the figure a record states,
as written: 3000亿元), *quote* (the sentence a record comes from, summaries, notes) or *body* (full
text, a target's notes). Each part has its own columns in the index, which ranking weighs in that
order (names and titles alike). A table's `x_portal.search` numbers its records among the others:
when a query matches more records than are ranked (see rank.MATCH_CAP), the records people look for
most come first.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from kechuang.model.schema import TableSchema

DATABASE = "kechuang"
ROLES = ("name", "title", "figure", "quote", "body")
# The role of names: their forms in each language expand a query (cross-lingual search, terms.py).
TERM_ROLE = "name"

# The tables the index stage writes and search reads (see kechuang.index.search).
RECORDS = "search_records"
INDEX = "search_index"  # shards are search_index_1, search_index_2, … (see SHARD_SIZE)
SHARD_SIZE = 100_000
# Where each role's words go: names and titles share one column; each column has its Han bigrams beside it.
COLUMN_OF_ROLE = {"name": "title", "title": "title", "figure": "figure", "quote": "quote", "body": "body"}
TEXT_COLUMNS = tuple(dict.fromkeys(COLUMN_OF_ROLE.values()))
FTS_COLUMNS = ("title", "title_cjk", "pinyin", "figure", "figure_cjk", "quote", "quote_cjk", "body", "body_cjk")

TERMS = "search_terms"

# Where a record sits, for ranking and facets (kechuang.index.context): the place, years and documents
# it inherits from its policy (or states itself) and the base unit of its figure, in CONTEXT under the
# record's rowid (a narrow table of its own: ranking reads it for every match, which on a large corpus
# is thousands of rows). Policies name their place; places may have a parent; units convert to a base unit.
CONTEXT = "search_context"
POLICIES = "policies"
PLACES = "jurisdictions"
UNITS = "units"
CONTEXT_COLUMNS = ("places", "years", "documents", "base_unit")
GLOSSARY = "glossary"  # its entries explain terms: below the records that use a term, unless the query is the term
ANSWERS = "targets"  # the records a question for a figure is answered by (search's `answer`)
# Records a curator's note may name by id, rendered as links to their pages; an id two tables share goes to
# the first listed (a platform before the glossary term of the same name, which is not listed at all).
REFERABLE_IN_NOTES = ("agencies", "targets", "indicators", "platforms", "funds", "events", "measures")

# How questions are asked, in both languages: words that say what is asked (a figure, in a base unit
# of the units table: `base_unit` in schemas/units.yaml) and words that only carry the question. Read
# from a query, never searched as words. Places come from the places table, years from the records,
# unit words (亿元, 家, percent, yuan) from the units table; these are the words no table holds.
ASK_WORDS: dict[str, tuple[str, ...]] = {
    "": ("多少", "几", "多大", "多", "目标", "how", "many", "much", "target", "goal", "number"),
    "count": ("几家", "几个", "几项", "多少家", "多少个"),
    "persons": ("多少人", "多少名", "people"),
    "CNY": ("钱", "多少钱", "money"),
}
# Words that name a kind of figure and are also searched (a target's name holds them: 比重, growth, size).
METRIC_WORDS: dict[str, tuple[str, ...]] = {
    "CNY": ("规模", "金额", "资金", "size", "fund", "funding", "amount", "invest", "investment"),
    "percent": ("比重", "比例", "占比", "增速", "增幅", "增长", "share", "proportion", "rate", "growth", "percentage"),
    "rank": ("排名", "排位", "位次", "rank", "ranking"),
    "m2": ("面积", "area"),
}
FILLER_WORDS = frozenset(
    {
        "要", "达到", "有", "是", "将", "会", "到", "年", "吗", "呢", "什么", "哪些", "哪个", "哪",
        "怎么", "怎样", "如何", "大", "意思", "含义",
        "what", "which", "who", "when", "where", "why", "will", "would", "shall", "should", "can", "could", "do",
        "does", "did", "have", "has", "had", "want", "wants", "there", "mean", "means", "reach", "going",
    }
)


@dataclass
class RecordContext:
    """Where a record sits: its place and the places above it (own first), years, documents, base unit."""

    places: list[str] = field(default_factory=list)
    years: list[int] = field(default_factory=list)
    documents: list[str] = field(default_factory=list)
    base_unit: str = ""

    def stored(self) -> dict[str, str]:
        """The context as RECORDS columns: space-separated lists (ids are slugs, without spaces)."""
        return {
            "places": " ".join(self.places),
            "years": " ".join(str(y) for y in self.years),
            "documents": " ".join(self.documents),
            "base_unit": self.base_unit,
        }


@dataclass
class SearchRecord:
    """One searchable record: what the index stores and what a result shows."""

    type: str
    id: str
    url: str  # its Datasette row: the data view
    title_zh: str = ""
    title_en: str = ""
    parts: dict[str, list[str]] = field(default_factory=dict)  # role → field texts
    names_zh: list[str] = field(default_factory=list)  # name-role Chinese texts, for pinyin
    context: RecordContext | None = None
    page_url: str = ""  # its page of the site, where a result lands (empty: no page, the row serves)

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
