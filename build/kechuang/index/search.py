"""Build the search index over every searchable record (records.py), in both languages.

Tables written by `kechuang build`:
- `search_records`: one row per record with its original texts (for titles and snippets), its Datasette row
  (`url`, the data view) and its page of the site (`page_url`, where a result lands: pages.py).
- `search_context`: where each record sits (place, years, documents, base unit: context.py), under the
  same rowid, for ranking and facets.
- `search_index_1`, `search_index_2`, …: contentless FTS5 over pre-normalised tokens (see
  `normalize.py`), nine columns: title/figure/quote/body words, their Han bigrams and the pinyin of
  names. The `ascii` tokenizer only splits on spaces and ASCII punctuation, which the normaliser never
  emits, so SQLite needs no custom tokenizer. Each shard holds SHARD_SIZE consecutive records: bm25
  counts a term's documents over the whole table it runs on, so a common word would cost a scan of
  everything; a query reads shards in order and stops once it has enough matches (rank.MATCH_CAP).
  The real data fits in one shard.
- `search_terms`: names and glossary terms for cross-lingual expansion (terms.py).
"""

from __future__ import annotations

import gc
from collections import deque
from collections.abc import Iterable, Iterator
from typing import Any

from sqlite_utils import Database

from kechuang.index.context import table_contexts
from kechuang.index.records import read_records
from kechuang.index.terms import create_terms_table, term_rows
from kechuang.model.meta import compiled_schemas
from kechuang.model.search import (
    COLUMN_OF_ROLE,
    CONTEXT,
    CONTEXT_COLUMNS,
    FTS_COLUMNS,
    RECORDS,
    TERM_ROLE,
    TERMS,
    TEXT_COLUMNS,
    SearchRecord,
    search_columns,
    searchable_tables,
    shard_name,
    shard_names,
    shard_of,
)
from kechuang.text.normalize import analyse, pinyin_tokens


def index_tokens(record: SearchRecord) -> tuple[str, ...]:
    """The FTS5 columns of a record (FTS_COLUMNS order): words and bigrams of title, figure, quote and
    body, and the pinyin of its names (a column of its own, so it does not make titles look longer to bm25)."""
    return _tokens(record.parts, record.names_zh)


def _tokens(parts: dict[str, list[str]], names_zh: list[str]) -> tuple[str, ...]:
    words: dict[str, list[str]] = {column: [] for column in TEXT_COLUMNS}
    grams: dict[str, list[str]] = {column: [] for column in TEXT_COLUMNS}
    for part, texts in parts.items():
        column = COLUMN_OF_ROLE[part.rsplit("_", 1)[0]]
        for text in texts:
            tokens = analyse(text)
            words[column].append(tokens.words)
            grams[column].append(tokens.grams)
    columns = {"pinyin": " ".join(pinyin_tokens(name) for name in names_zh)}
    for column in TEXT_COLUMNS:
        columns[column], columns[f"{column}_cjk"] = " ".join(words[column]), " ".join(grams[column])
    return tuple(columns[c] for c in FTS_COLUMNS)


def stored_row(record: SearchRecord) -> dict[str, str]:
    """The original texts a result shows. Names that are not the title (aliases) lead the quote; a
    figure leads the body (as it did before it had a column of its own: snippets show it there)."""
    row = {"type": record.type, "id": record.id, "url": record.url, "page_url": record.page_url or record.url}
    row["title_zh"], row["title_en"] = record.title_zh, record.title_en
    for language in ("zh", "en"):
        title = record.title_zh if language == "zh" else record.title_en
        extra_names = [t for t in record.parts.get(f"name_{language}", []) if t != title]
        extra_names += [t for t in record.parts.get(f"title_{language}", []) if t != title]
        quote = record.stored("quote", language)
        row[f"quote_{language}"] = "\n".join(t for t in [" | ".join(extra_names), quote] if t)
        body = [record.stored("figure", language), record.stored("body", language)]
        row[f"body_{language}"] = "\n".join(t for t in body if t)
    return row


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
    for name in [*shard_names(db.conn), RECORDS, CONTEXT]:
        db.execute(f"drop table if exists [{name}]")
    db.execute(
        f"""create table [{RECORDS}] (
            rowid integer primary key, type text not null, id text not null, url text not null, page_url text,
            title_zh text, title_en text, quote_zh text, quote_en text, body_zh text, body_en text)"""
    )
    columns = ", ".join(f"{c} text" for c in CONTEXT_COLUMNS)
    db.execute(f"create table [{CONTEXT}] (rowid integer primary key, type text not null, {columns})")
    db.execute(f"create index [{RECORDS}_type] on [{RECORDS}](type, id)")
    create_shard(db, 1)
    create_terms_table(db)


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


STORED_COLUMNS = ("type", "id", "url", "page_url", "title_zh", "title_en", "quote_zh", "quote_en", "body_zh", "body_en")


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
    context_sql = f"insert into [{CONTEXT}] values (?, ?{', ?' * len(CONTEXT_COLUMNS)})"
    empty = dict.fromkeys(CONTEXT_COLUMNS, "")
    rowid = start
    written: set[int] = set()
    for batch, tokens in batches:
        stored = []
        for record in batch:
            row = stored_row(record)
            stored.append((rowid, *(row[c] for c in STORED_COLUMNS)))
            rowid += 1
        db.conn.executemany(stored_sql, stored)
        contexts = [
            (row[0], row[1], *(r.context.stored() if r.context else empty).values())
            for row, r in zip(stored, batch, strict=True)
        ]
        db.conn.executemany(context_sql, contexts)
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


def build_index(db: Database) -> int:
    """(Re)build the search tables from the compiled tables; returns the number of records indexed."""
    schemas = compiled_schemas(db)
    tables = searchable_tables(schemas)
    term_tables = {s.name for s in tables if TERM_ROLE in search_columns(s).values()}
    with db.conn:
        create_tables(db)
        records: list[SearchRecord] = []
        for schema in tables:
            contexts = table_contexts(db, schemas, schema)
            for record in read_records(db, schema, schemas):
                record.context = contexts.get(record.id)
                records.append(record)
        count = insert_records(db, records, start=1)
        terms: list[dict[str, Any]] = []
        for rowid, record in enumerate(records, start=1):  # the rowids insert_records gave
            if record.type in term_tables:
                terms.extend(term_rows(rowid, record))
        if terms:
            db[TERMS].insert_all(terms)
        optimize_index(db)
    return count
