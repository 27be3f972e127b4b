"""The curated data cannot shrink by accident: per-document counts are frozen in `data_counts.yaml`.

The counts are read from the real database that `kechuang build` makes from `datasets/`. An edit that
drops a row or breaks a link fails here; an edit that adds rows updates the YAML on purpose (the message
says which numbers moved).
"""

from __future__ import annotations

import shutil
import sqlite3
from pathlib import Path

import pytest
import yaml

COUNTS_FILE = Path(__file__).with_name("data_counts.yaml")

# What is counted per document; `:policy` is the policy id.
PER_POLICY: dict[str, str] = {
    "headings": "select count(*) from headings where policy_id = :policy",
    "measures": "select count(*) from measures where policy_id = :policy",
    "targets_stated": "select count(*) from targets where policy_id = :policy and status = 'stated'",
    "targets_redacted": "select count(*) from targets where policy_id = :policy and status = 'redacted'",
    "targets_linked_to_indicators": "select count(*) from targets where policy_id = :policy and indicator_id is not null",
    # a target that restates another in the same document is the same commitment, counted once
    "commitments": "select count(*) from targets where policy_id = :policy and restates_target_id is null",
    "targets_possibly_same": "select count(*) from targets where policy_id = :policy and possibly_same_as_id is not null",
    **{
        key: f"""select {count} from {table} x
            join measures m on m.id = x.measure_id where m.policy_id = :policy"""
        # per link table: distinct records linked, and links (keyed by the table's name)
        for distinct_key, table, column in [
            ("platforms_mentioned", "platform_mentions", "platform_id"),
            ("funds_mentioned", "fund_mentions", "fund_id"),
            ("events_mentioned", "event_mentions", "event_id"),
            ("agencies_linked", "measure_agencies", "agency_id"),
        ]
        for key, count in [(distinct_key, f"count(distinct x.{column})"), (table, "count(*)")]
    },
}

# Tables that belong to no single document.
SHARED_TABLES = (
    "policies",
    "jurisdictions",
    "units",
    "indicators",
    "glossary",
    "agencies",
    "platforms",
    "funds",
    "events",
    "themes",
)


def measured_counts(conn: sqlite3.Connection) -> dict:
    """The counts this module freezes, as the database says them, in the YAML file's shape."""
    policies = [row[0] for row in conn.execute("select id from policies order by id")]
    return {
        "per_policy": {
            policy: {name: conn.execute(sql, {"policy": policy}).fetchone()[0] for name, sql in PER_POLICY.items()}
            for policy in policies
        },
        "tables": {table: conn.execute(f"select count(*) from [{table}]").fetchone()[0] for table in SHARED_TABLES},
        "targets_per_indicator": dict(
            conn.execute(
                "select indicator_id, count(*) from targets where indicator_id is not null "
                "group by indicator_id order by indicator_id"
            ).fetchall()
        ),
    }


def load_frozen() -> dict:
    """The frozen counts; empty when the file is missing (the fixture below then fails loudly)."""
    return yaml.safe_load(COUNTS_FILE.read_text(encoding="utf-8")) if COUNTS_FILE.exists() else {}


@pytest.fixture(scope="module")
def frozen() -> dict:
    assert COUNTS_FILE.exists(), f"{COUNTS_FILE.name} is missing"
    return load_frozen()


@pytest.fixture(scope="module")
def measured(built_db: Path) -> dict:
    conn = sqlite3.connect(built_db)
    try:
        return measured_counts(conn)
    finally:
        conn.close()


def _moved(frozen: dict, measured: dict) -> str:
    keys = sorted(set(frozen) | set(measured))
    return ", ".join(f"{k}: {frozen.get(k)} -> {measured.get(k)}" for k in keys if frozen.get(k) != measured.get(k))


def test_the_counts_file_covers_every_policy(frozen, measured):
    assert sorted(frozen["per_policy"]) == sorted(measured["per_policy"])


@pytest.mark.parametrize("policy", sorted(load_frozen().get("per_policy", {})))
def test_per_document_counts_are_frozen(policy, frozen, measured):
    want, got = frozen["per_policy"][policy], measured["per_policy"].get(policy, {})
    assert got == want, (
        f"{policy} moved ({_moved(want, got)}); if rows were added on purpose, update {COUNTS_FILE.name}"
    )


def test_shared_table_counts_are_frozen(frozen, measured):
    assert measured["tables"] == frozen["tables"], _moved(frozen["tables"], measured["tables"])


def test_targets_per_indicator_are_frozen(frozen, measured):
    want, got = frozen["targets_per_indicator"], measured["targets_per_indicator"]
    assert got == want, f"indicator links moved: {_moved(want, got)}"


@pytest.mark.parametrize(
    ("breakage", "moves"),
    [
        ("delete from measure_agencies where rowid = (select min(rowid) from measure_agencies)", "measure_agencies"),
        ("delete from targets where id = (select min(id) from targets where status = 'redacted')", "targets_redacted"),
        ("update targets set indicator_id = null where indicator_id = 'technology-contract-turnover'", "links"),
        ("delete from event_mentions where rowid = (select max(rowid) from event_mentions)", "event_mentions"),
    ],
)
def test_a_dropped_row_or_broken_link_moves_the_counts(built_db, tmp_path, frozen, breakage, moves):
    """The frozen counts are sensitive enough: each kind of silent loss changes them."""
    broken = tmp_path / "broken.db"
    shutil.copy(built_db, broken)
    conn = sqlite3.connect(broken)
    try:
        conn.execute("pragma foreign_keys = off")
        conn.execute(breakage)
        conn.commit()
        counts = measured_counts(conn)
    finally:
        conn.close()
    assert counts != frozen
    if moves == "links":
        assert counts["targets_per_indicator"] != frozen["targets_per_indicator"]
    else:
        assert any(counts["per_policy"][p][moves] != frozen["per_policy"][p][moves] for p in frozen["per_policy"])
