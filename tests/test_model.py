"""One data model: declared once in schemas/, asked everywhere, and served from the database it was built into."""

from __future__ import annotations

import ast
import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from conftest import ROOT, Portal, free_port, launch_portal, wait_until_up
from kechuang.model import load_model
from kechuang.model.meta import read_meta_file
from kechuang.model.metadata import datasette_metadata
from kechuang.pipeline import build_database
from kechuang.project import Project

MODEL = load_model(ROOT / "schemas")
NAMES = set(MODEL.tables) | set(MODEL.views)
CODE = [*sorted((ROOT / "build" / "kechuang").rglob("*.py")), *sorted((ROOT / "plugins").glob("*.py"))]
OUTSIDE_MODEL = [p for p in CODE if (ROOT / "build" / "kechuang" / "model") not in p.parents]


def literal_name_lists(source: str) -> list[tuple[int, list[str]]]:
    """Literal tuples, lists, sets and dicts in `source` whose strings (keys, for a dict) are all names of
    tables or views, two or more: a hand-written table list. (A page's context dict, whose keys include
    other words, is not one.)"""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Tuple | ast.List | ast.Set):
            items = node.elts
        elif isinstance(node, ast.Dict):
            items = [k for k in node.keys if k is not None]
        else:
            continue
        strings = [i.value for i in items if isinstance(i, ast.Constant) and isinstance(i.value, str)]
        named = [s for s in strings if s in NAMES]
        if len(named) >= 2 and len(named) == len(strings):
            found.append((node.lineno, named))
    return found


def test_the_scan_finds_a_hand_written_table_list():
    assert literal_name_lists('TABLES = ("targets", "policies")\nx = {"funds": 1, "events": 2}') == [
        (1, ["targets", "policies"]),
        (2, ["funds", "events"]),
    ]
    assert literal_name_lists('NAV = (("targets", "/targets"), ("policies", "/policies"))') == []
    assert literal_name_lists('context = {"targets": [], "policies": [], "title": ""}') == []


@pytest.mark.parametrize("path", OUTSIDE_MODEL, ids=lambda p: str(p.relative_to(ROOT)))
def test_no_hand_written_table_list_outside_the_model(path: Path):
    """Which tables are collections, searchable, on the home page or mentioned is declared in the schemas."""
    assert literal_name_lists(path.read_text(encoding="utf-8")) == []


def meta_table_strings(source: str) -> list[int]:
    """Lines of string literals (not docstrings) in `source` that name the `_meta` table: SQL on it."""
    tree = ast.parse(source)
    docstrings = {
        id(node.body[0].value)
        for node in ast.walk(tree)
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef)
        and node.body
        and isinstance(node.body[0], ast.Expr)
        and isinstance(node.body[0].value, ast.Constant)
    }
    return [
        node.lineno
        for node in ast.walk(tree)
        if isinstance(node, ast.Constant)
        and isinstance(node.value, str)
        and id(node) not in docstrings
        and re.search(r"\b_meta\b", node.value)
    ]


def test_the_meta_scan_finds_sql_on_meta():
    assert meta_table_strings('"""Reads _meta."""\nrows = db.execute("select value from _meta")') == [2]


def test_only_the_model_reads_or_writes_the_meta_table():
    offenders = {str(p.relative_to(ROOT)): lines for p in OUTSIDE_MODEL if (lines := meta_table_strings(p.read_text()))}
    assert offenders == {}


def test_datasette_facets_are_the_filterable_fields():
    tables = datasette_metadata(MODEL, {})["databases"]["kechuang"]["tables"]
    for name, schema in MODEL.tables.items():
        assert tables[name].get("facets", []) == [f.name for f in schema.fields if f.filter], name
        assert set(tables[name]["columns"]) == set(schema.column_names), name
    for name, view in MODEL.views.items():
        assert tables[name].get("facets", []) == list(view.facets), name


def test_every_bilingual_field_has_its_twin():
    """A `_zh` field with `x_glossary` must have the `_en` field it is checked against."""
    for schema in MODEL.tables.values():
        english = dict(schema.bilingual_pairs)
        for f in schema.fields:
            if f.glossary:
                assert f.name in english, f"{schema.name}.{f.name} has no English twin"


def test_every_view_filter_names_its_own_columns(tmp_path_factory, built_db: Path):
    import sqlite3

    conn = sqlite3.connect(built_db)
    for name, view in MODEL.views.items():
        columns = {row[1] for row in conn.execute(f"pragma table_info([{name}])")}
        assert set(view.facets) <= columns, name


# -- serving an old release after the checkout moved on -----------------------------------------------------


@pytest.fixture(scope="module")
def old_release(tmp_path_factory) -> tuple[Path, Path]:
    """A database built from a copy of the project, then that copy's schemas and metadata changed."""
    root = tmp_path_factory.mktemp("project")
    for name in ("schemas", "datasets"):
        shutil.copytree(ROOT / name, root / name)
    shutil.copy(ROOT / "metadata.yml", root / "metadata.yml")
    project = Project(root=root, datasets=root / "datasets", schemas=root / "schemas")
    db = build_database(
        project,
        tmp_path_factory.mktemp("release") / "kechuang.db",
        release={"release_version": "2026.1.0", "release_date": "2026-01-01"},
    ).path
    # the checkout moves on: a new description, a new column, a new title
    path = root / "schemas" / "targets.yaml"
    descriptor = yaml.safe_load(path.read_text(encoding="utf-8"))
    for f in descriptor["fields"]:
        if f["name"] == "name_en":
            f["description"] = "CHANGED IN THE CHECKOUT"
            f["x_description_zh"] = "检出中已改"
    descriptor["fields"].append({"name": "added_later", "type": "string", "description": "ADDED LATER"})
    path.write_text(yaml.safe_dump(descriptor, allow_unicode=True), encoding="utf-8")
    metadata = yaml.safe_load((root / "metadata.yml").read_text(encoding="utf-8"))
    metadata["title"] = "CHANGED TITLE"
    (root / "metadata.yml").write_text(yaml.safe_dump(metadata, allow_unicode=True), encoding="utf-8")
    return root, db


@pytest.fixture(scope="module")
def old_release_portal(old_release) -> Portal:
    root, db = old_release
    port = free_port()
    process = launch_portal(db, port, subprocess.DEVNULL, env={"KECHUANG_ROOT": str(root)}, cwd=root)
    portal = Portal(f"http://127.0.0.1:{port}", process, db)
    wait_until_up(portal.base_url + "/-/versions.json", process)
    yield portal
    portal.stop()


def test_the_release_records_the_model_it_was_built_with(old_release):
    _root, db = old_release
    targets = read_meta_file(db).model.tables["targets"]
    assert targets.field("name_en").description == MODEL.tables["targets"].field("name_en").description
    assert "added_later" not in targets.column_names


@pytest.mark.parametrize(
    "path",
    [
        "/data-dictionary",
        "/data-dictionary?lang=en",
        "/api/v1/openapi.json",
        "/api/v1/targets?limit=1",
        "/-/metadata.json",
        "/kechuang/targets",
        "/kechuang/targets.json?_size=1",
        "/",
        "/downloads",
        "/targets",
    ],
)
def test_an_old_release_is_served_with_its_own_model(old_release_portal: Portal, path: str):
    response = old_release_portal.get(path)
    assert response.status_code == 200
    body = response.text
    for changed in ("CHANGED IN THE CHECKOUT", "检出中已改", "added_later", "ADDED LATER", "CHANGED TITLE"):
        assert changed not in body, f"{path} shows the checkout's {changed!r}"


def test_the_old_release_shows_its_own_descriptions(old_release_portal: Portal):
    original = MODEL.tables["targets"].field("name_en").description
    metadata = old_release_portal.get("/-/metadata.json").json()
    assert metadata["databases"]["kechuang"]["tables"]["targets"]["columns"]["name_en"].startswith(original)
    spec = json.dumps(old_release_portal.get("/api/v1/openapi.json").json(), ensure_ascii=False)
    assert original in spec
    assert original in old_release_portal.get("/data-dictionary?lang=en").text
    assert old_release_portal.get("/-/release.json").json()["version"] == "2026.1.0"
