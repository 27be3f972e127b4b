"""Ids are published contracts: an id in the last release must still be there, or be listed as withdrawn.

Users bookmark `/kechuang/targets/<id>`, cite ids in articles and join on them in their own
data, so removing or renaming one breaks them silently. Every table whose primary key is one
column (an id) is compared with the newest release in dist/releases/; an id that is gone is an
error unless `datasets/withdrawn.csv` lists it with the release that took it out and why.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

from kechuang.model.schema import TableSchema
from kechuang.model.versions import DATABASE_FILE, latest_version
from kechuang.project import Project
from kechuang.validate.problems import Problem
from kechuang.validate.tables import read_raw_rows

WITHDRAWN_TABLE = "withdrawn"


def published_ids(db: Path, table: str, key: str) -> set[str]:
    """The ids a released database holds for `table`; empty when that release had no such table or key."""
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        columns = {row[1] for row in conn.execute(f"pragma table_info([{table}])")}
        if key not in columns:
            return set()
        return {str(row[0]) for row in conn.execute(f"select [{key}] from [{table}]") if row[0] is not None}
    finally:
        conn.close()


def current_ids(project: Project, table: str, key: str) -> set[str]:
    path = project.table_path(table)
    if not path.exists():
        return set()
    return {raw.get(key, "") for _line, raw in read_raw_rows(path)}


def check_withdrawn_list(
    project: Project, schemas: dict[str, TableSchema], ids: dict[str, set[str]]
) -> tuple[list[Problem], set[tuple[str, str]]]:
    """Problems in withdrawn.csv itself, and the (table, id) pairs it lists."""
    path = project.table_path(WITHDRAWN_TABLE)
    if WITHDRAWN_TABLE not in schemas or not path.exists():
        return [], set()
    shown = project.display(path)
    problems: list[Problem] = []
    listed: set[tuple[str, str]] = set()
    for line, raw in read_raw_rows(path):
        table, id_ = raw.get("table", ""), raw.get("id", "")
        listed.add((table, id_))
        if table and table not in schemas:
            problems.append(Problem(shown, line, "table", f'"{table}" is not a table (no schemas/{table}.yaml)'))
        elif table in ids and id_ in ids[table]:
            table_file = project.display(project.table_path(table))
            problems.append(Problem(shown, line, "id", f'"{id_}" is listed as withdrawn but is still in {table_file}'))
    return problems, listed


def check_stability(project: Project, schemas: dict[str, TableSchema]) -> list[Problem]:
    """Every id of the newest release that is gone from the datasets without being listed as withdrawn."""
    keyed = {name: s.primary_key[0] for name, s in schemas.items() if len(s.primary_key) == 1}
    version = latest_version(project.releases)
    withdrawn = project.table_path(WITHDRAWN_TABLE)
    listed_any = WITHDRAWN_TABLE in schemas and withdrawn.exists() and any(True for _ in read_raw_rows(withdrawn))
    if version is None and not listed_any:
        return []  # nothing published and nothing listed: no id to check
    ids = {name: current_ids(project, name, key) for name, key in keyed.items()}
    problems, listed = check_withdrawn_list(project, schemas, ids)
    if version is None:
        return problems
    db = project.releases / str(version) / DATABASE_FILE
    withdrawn_file = project.display(project.table_path(WITHDRAWN_TABLE))
    for name, key in keyed.items():
        if name == WITHDRAWN_TABLE:
            continue
        shown = project.display(project.table_path(name))
        for id_ in sorted(published_ids(db, name, key) - ids[name]):
            if (name, id_) in listed:
                continue
            problems.append(
                Problem(
                    shown,
                    0,
                    key,
                    f'"{id_}" was published in release {version} and is gone; ids are published contracts: '
                    f"restore the row, or list it in {withdrawn_file} with the release that withdraws it and why",
                )
            )
    return problems
