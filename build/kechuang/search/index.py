"""Build the search index: one FTS5 table over every searchable record, in both languages.

Which columns feed a record is declared in the schemas (`x_search: name|title|quote|body` on a field,
`search=` on a derived column), so a new searchable column is one line of YAML. The database carries
its own schemas in `_meta`, so the index is built from what was compiled, nothing else.

Tables written:
- `search_records`: one row per record with its original texts (for titles and snippets) and URL.
- `search_index_1`, `search_index_2`, …: contentless FTS5 over pre-normalised tokens (see
  `normalize.py`), seven columns: title/quote/body words, title/quote/body Han bigrams and the pinyin of
  names. The `ascii`
  tokenizer only splits on spaces and ASCII punctuation, which the normaliser never emits, so SQLite
  needs no custom tokenizer. Each shard holds SHARD_SIZE consecutive records: bm25 counts a term's
  documents over the whole table it runs on, so a common word would cost a scan of everything; a
  query reads shards in order and stops once it has enough matches (rank.MATCH_CAP). The real data
  fits in one shard.
- `search_terms`: the names and glossary terms with their other-language forms and pinyin, which
  query parsing uses for cross-lingual expansion.
"""

from __future__ import annotations

import gc
import json
from collections import deque
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from datasette.utils import tilde_encode
from sqlite_utils import Database

from ..derived import DERIVED_COLUMNS
from ..schemas import TableSchema, parse_schema
from .normalize import RUN, analyse, fold, is_cjk, pinyin_tokens, pinyin_words, stem

DATABASE = "kechuang"
RECORDS = "search_records"
INDEX = "search_index"  # shards are search_index_1, search_index_2, … (see SHARD_SIZE)
SHARD_SIZE = 100_000
TERMS = "search_terms"
ROLES = ("name", "title", "quote", "body")
FTS_COLUMNS = ("title", "title_cjk", "pinyin", "quote", "quote_cjk", "body", "body_cjk")
# Records are numbered in this order: when a query matches more rows than are ranked (see
# rank.RANK_CAP), the records people look for most come first.
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
# Tables whose names are terms: their forms in each language expand a query (cross-lingual search).
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


COLUMN_OF_ROLE = {"name": "title", "title": "title", "quote": "quote", "body": "body"}


def index_tokens(record: SearchRecord) -> tuple[str, ...]:
    """The FTS5 columns of a record (FTS_COLUMNS order): words and bigrams of title, quote and body, and
    the pinyin of its names (a column of its own, so it does not make titles look longer to bm25)."""
    return _tokens(record.parts, record.names_zh)


def _tokens(parts: dict[str, list[str]], names_zh: list[str]) -> tuple[str, ...]:
    words: dict[str, list[str]] = {"title": [], "quote": [], "body": []}
    grams: dict[str, list[str]] = {"title": [], "quote": [], "body": []}
    for part, texts in parts.items():
        column = COLUMN_OF_ROLE[part.rsplit("_", 1)[0]]
        for text in texts:
            tokens = analyse(text)
            words[column].append(tokens.words)
            grams[column].append(tokens.grams)
    return (
        " ".join(words["title"]),
        " ".join(grams["title"]),
        " ".join(pinyin_tokens(name) for name in names_zh),
        " ".join(words["quote"]),
        " ".join(grams["quote"]),
        " ".join(words["body"]),
        " ".join(grams["body"]),
    )


def stored_row(record: SearchRecord) -> dict[str, str]:
    """The original texts a result shows. Names that are not the title (aliases) lead the quote."""
    row = {"type": record.type, "id": record.id, "url": record.url}
    row["title_zh"], row["title_en"] = record.title_zh, record.title_en
    for language in ("zh", "en"):
        title = record.title_zh if language == "zh" else record.title_en
        extra_names = [t for t in record.parts.get(f"name_{language}", []) if t != title]
        extra_names += [t for t in record.parts.get(f"title_{language}", []) if t != title]
        quote = record.stored("quote", language)
        row[f"quote_{language}"] = "\n".join(t for t in [" | ".join(extra_names), quote] if t)
        row[f"body_{language}"] = record.stored("body", language)
    return row


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


# FTS5 keeps this much new index data in memory before writing a segment (default 1 MB): a shard
# built in one go is then written once instead of being merged again and again (half the insert cost).
PENDING_BYTES = 64 * 1024 * 1024


def create_shard(db: Database, number: int) -> None:
    name = shard_name(number)
    if db[name].exists():
        return
    columns = ", ".join(FTS_COLUMNS)
    db.execute(f"create virtual table [{name}] using fts5({columns}, content='', tokenize='ascii', detail='full')")
    db.execute(f"insert into [{name}]([{name}], rank) values ('hashsize', ?)", [PENDING_BYTES])


def create_tables(db: Database) -> None:
    """Empty search tables, replacing any earlier ones."""
    for name in [*shard_names(db.conn), RECORDS, TERMS]:
        db.execute(f"drop table if exists [{name}]")
    db.execute(
        f"""create table [{RECORDS}] (
            rowid integer primary key, type text not null, id text not null, url text not null,
            title_zh text, title_en text, quote_zh text, quote_en text, body_zh text, body_en text)"""
    )
    db.execute(f"create index [{RECORDS}_type] on [{RECORDS}](type, id)")
    create_shard(db, 1)
    db.execute(
        f"""create table [{TERMS}] (
            record integer not null, lang text not null, form text not null, key text not null,
            tokens text not null)"""
    )
    db.execute(f"create index [{TERMS}_key] on [{TERMS}](lang, key)")


def optimize_shard(db: Database, number: int) -> None:
    name = shard_name(number)
    db.execute(f"insert into [{name}]([{name}]) values ('optimize')")


def optimize_index(db: Database) -> None:
    """Merge each shard's segments into one, which makes queries faster on an immutable database."""
    for name in shard_names(db.conn):
        optimize_shard(db, int(name.rsplit("_", 1)[1]))


def _index_texts(texts: list[tuple[dict[str, list[str]], list[str]]]) -> list[tuple[str, ...]]:
    """Index tokens of (parts, Chinese names) pairs: what a worker process receives, cheap to pickle."""
    return [_tokens(parts, names) for parts, names in texts]


def _batches(records: Iterable[SearchRecord], size: int) -> Iterator[list[SearchRecord]]:
    batch: list[SearchRecord] = []
    for record in records:
        batch.append(record)
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch


def _normalised(records: Iterable[SearchRecord], workers: int) -> Iterator[tuple[list[SearchRecord], list]]:
    """(batch, index tokens) pairs in order; with workers > 1 the normalising runs in other processes."""
    if workers <= 1:
        for batch in _batches(records, 1000):
            yield batch, [index_tokens(r) for r in batch]
        return
    import multiprocessing

    pool = multiprocessing.get_context("fork").Pool(workers)
    pending: deque = deque()
    try:
        for batch in _batches(records, 1000):
            texts = [(r.parts, r.names_zh) for r in batch]
            pending.append((batch, pool.apply_async(_index_texts, (texts,))))
            if len(pending) > 2 * workers:
                done, result = pending.popleft()
                yield done, result.get()
        while pending:
            done, result = pending.popleft()
            yield done, result.get()
        pool.close()
    finally:
        pool.terminate()
        pool.join()


STORED_COLUMNS = ("type", "id", "url", "title_zh", "title_en", "quote_zh", "quote_en", "body_zh", "body_en")


def insert_records(db: Database, records: Iterable[SearchRecord], start: int = 1, workers: int = 1) -> int:
    """Store and index records numbered from `start`; returns how many.

    Normalising is the costly part: with workers > 1 it runs in that many processes while this one
    writes, which is how a large corpus reaches its throughput; the real data needs one. The garbage
    collector is paused meanwhile: a bulk load makes objects that all live to the end.
    """
    collecting = gc.isenabled()
    gc.disable()
    try:
        return _write(db, _normalised(records, workers), start)
    finally:
        if collecting:
            gc.enable()


def _write(db: Database, batches: Iterable[tuple[list[SearchRecord], list]], start: int) -> int:
    stored_sql = f"insert into [{RECORDS}] (rowid, {', '.join(STORED_COLUMNS)}) values (?{', ?' * len(STORED_COLUMNS)})"
    index_columns = f"(rowid, {', '.join(FTS_COLUMNS)}) values (?{', ?' * len(FTS_COLUMNS)})"
    rowid = start
    written: set[int] = set()
    for batch, tokens in batches:
        stored = []
        for record in batch:
            row = stored_row(record)
            stored.append((rowid, *(row[c] for c in STORED_COLUMNS)))
            rowid += 1
        db.conn.executemany(stored_sql, stored)
        by_shard: dict[int, list[tuple]] = {}
        for row, words in zip(stored, tokens, strict=True):
            by_shard.setdefault(shard_of(row[0]), []).append((row[0], *words))
        for number, rows in by_shard.items():
            if number not in written:
                for done in written:  # a shard is complete: write it out, so one shard at a time is in memory
                    optimize_shard(db, done)
                written = {number}
                create_shard(db, number)
            db.conn.executemany(f"insert into [{shard_name(number)}] {index_columns}", rows)
    return rowid - start


def term_forms(record: SearchRecord) -> list[str]:
    """Every name of a record in either language; `|` separates aliases."""
    forms: list[str] = []
    for language in ("zh", "en"):
        for text in record.parts.get(f"{TERM_ROLE}_{language}", []):
            forms.extend(p.strip() for p in text.split("|") if p.strip())
    return list(dict.fromkeys(forms))


def term_rows(rowid: int, record: SearchRecord) -> Iterator[dict[str, Any]]:
    """Rows of `search_terms` for one record's names: Chinese form, English form, pinyin of Chinese words.

    `record` is the rowid of the record the name belongs to, so a query that names it can favour it.

    zh key: the form's Han characters run together (what a query run must contain);
    en key: its English stems without stopwords (what a query's stems must contain in a row);
    tokens: what the expansion searches for (Han runs, or every stem so the phrase matches).
    """
    from .normalize import ENGLISH_STOPWORDS

    for form in term_forms(record):
        folded = fold(form)
        runs = [m.groups() for m in RUN.finditer(folded)]
        han = [h for h, _o in runs if h]
        if is_cjk(folded) or han:
            key = "".join(han)
            if len(key) >= 2:
                yield {"record": rowid, "lang": "zh", "form": form, "key": key, "tokens": " ".join(han)}
            for pinyin, word in pinyin_words(form):
                yield {"record": rowid, "lang": "py", "form": word, "key": pinyin, "tokens": word}
        else:
            words = [o for _h, o in runs if o]
            stems = [stem(w) for w in words]
            key = " ".join(s for w, s in zip(words, stems, strict=True) if w not in ENGLISH_STOPWORDS)
            if key:
                yield {"record": rowid, "lang": "en", "form": form, "key": key, "tokens": " ".join(stems)}


def build_index(db: Database) -> int:
    """(Re)build the search tables from the compiled tables; returns the number of records indexed."""
    schemas = compiled_schemas(db)
    tables = searchable_tables(schemas)
    term_tables = {s.name for s in tables if TERM_ROLE in search_columns(s).values()}
    with db.conn:
        create_tables(db)
        records: list[SearchRecord] = []
        for schema in tables:
            records.extend(read_records(db, schema, schemas))
        count = insert_records(db, records, start=1)
        terms: list[dict[str, Any]] = []
        for rowid, record in enumerate(records, start=1):  # the rowids insert_records gave
            if record.type in term_tables:
                terms.extend(term_rows(rowid, record))
        if terms:
            db[TERMS].insert_all(terms)
        optimize_index(db)
    return count
