"""`kechuang build`: the database has the schema's tables, keys, indexes, derived columns and views."""

from __future__ import annotations

import csv
import hashlib
import subprocess
import sys
from pathlib import Path

import pytest
import sqlite_utils

from conftest import ROOT
from kechuang.index.database import index_columns
from kechuang.model.schema import SQL_TYPES, load_schemas
from kechuang.model.views import load_views
from kechuang.pipeline import build_database
from kechuang.project import Project
from kechuang.validate.problems import ValidationFailed


@pytest.fixture(scope="module")
def db(built_db: Path) -> sqlite_utils.Database:
    return sqlite_utils.Database(built_db)


@pytest.fixture(scope="module")
def schemas(project: Project):
    return load_schemas(project.schemas)


def csv_rows(path: Path) -> int:
    with path.open(encoding="utf-8", newline="") as f:
        return sum(1 for _ in csv.DictReader(f))


def test_every_table_has_its_schema_columns_and_rows(db, schemas, project):
    for name, schema in schemas.items():
        columns = [c.name for c in db[name].columns]
        assert columns[: len(schema.fields)] == schema.field_names, name
        if schema.curated:  # a built table (x_built) has no CSV: its rows come from the others
            assert db[name].count == csv_rows(project.table_path(name)), name


def test_primary_and_foreign_keys_follow_the_schemas(db, schemas):
    for name, schema in schemas.items():
        assert db[name].pks == list(schema.primary_key), name
        declared = {(fk.fields[0], fk.table, fk.columns[0]) for fk in schema.foreign_keys}
        built = {(fk.column, fk.other_table, fk.other_column) for fk in db[name].foreign_keys}
        assert built == declared, name
    assert db.execute("pragma foreign_key_check").fetchall() == []


def test_every_foreign_key_and_filter_column_is_indexed(db, schemas):
    for name, schema in schemas.items():
        indexed = {next(iter(index.columns)) for index in db[name].indexes}
        for column in index_columns(schema):
            assert column in indexed, f"{name}.{column} has no index"


def test_column_types_follow_the_schemas(db, schemas):
    for name, schema in schemas.items():
        types = db[name].columns_dict
        for f in schema.columns:
            assert types[f.name] is SQL_TYPES[f.type], f"{name}.{f.name}"


def test_views_answer(db):
    for view in load_views(ROOT / "schemas"):
        assert view in db.view_names()
        db.execute(f"select * from [{view}] limit 5").fetchall()


def test_target_base_values_follow_the_units_table(db):
    factors = {r["unit_zh"]: (r["factor"], r["base_unit"]) for r in db["units"].rows}
    for t in db["targets"].rows:
        factor, base_unit = factors[t["unit_zh"]]
        assert t["base_unit"] == base_unit
        if t["value"] is None:
            assert t["value_base"] is None
        else:
            assert t["value_base"] == pytest.approx(t["value"] * factor)


def test_offsets_point_at_the_verbatim_text(db):
    texts = {p["id"]: p["text_zh"] for p in db["policies"].rows}
    for t in db["targets"].rows:
        assert texts[t["policy_id"]][t["quote_start"] : t["quote_end"]] == t["quote_zh"]
    for m in db["measures"].rows:
        assert texts[m["policy_id"]][m["text_start"] : m["text_end"]] == m["text_zh"]


def test_policies_carry_their_source_text_and_checksum(db, project):
    for p in db["policies"].rows:
        data = (project.datasets / p["source_file"]).read_bytes()
        assert p["text_zh"] == data.decode("utf-8")
        assert p["source_sha256"] == hashlib.sha256(data).hexdigest()


def test_meta_records_the_build(db):
    meta = {r["key"]: r["value"] for r in db["_meta"].rows}
    assert meta["built_at"] and "targets" in meta["schemas"]


def test_failed_build_leaves_the_previous_database_untouched(tmp_path, project, sample, sample_copy):
    out = tmp_path / "kechuang.db"
    build_database(sample.project, out)
    before = hashlib.sha256(out.read_bytes()).hexdigest()
    with (sample_copy / "jurisdictions.csv").open("a", encoding="utf-8") as f:
        f.write("Broken Id,破,Broken,city,\n")
    broken = Project(root=project.root, datasets=sample_copy, schemas=project.schemas)
    with pytest.raises(ValidationFailed) as failure:
        build_database(broken, out)
    assert any("lowercase slug" in str(p) for p in failure.value.problems)
    assert hashlib.sha256(out.read_bytes()).hexdigest() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["datasets", "kechuang.db"]


def test_build_command_reports_rows_and_time(tmp_path, project, sample):
    out = tmp_path / "cli.db"
    done = subprocess.run(
        [sys.executable, "-m", "kechuang.cli", "build", "--datasets", str(sample.datasets), "--out", str(out)],
        capture_output=True,
        text=True,
        cwd=project.root,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert "targets" in done.stdout and " rows" in done.stdout
    assert "Wrote" in done.stdout and " s" in done.stdout
    assert sqlite_utils.Database(out)["targets"].count == csv_rows(sample.project.table_path("targets"))
