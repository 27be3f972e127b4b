"""A real Datasette serves the built database with our metadata, CORS and settings."""

from __future__ import annotations

import pytest

from kechuang.model.schema import load_schemas
from kechuang.project import Project


def test_tables_are_served_as_json(portal, project: Project):
    for name in load_schemas(project.schemas):
        response = portal.get(f"/kechuang/{name}.json?_shape=objects&_size=1")
        assert response.status_code == 200, name
        assert "rows" in response.json()


def test_policies_json_has_the_five_documents(portal):
    rows = portal.get("/kechuang/policies.json?_shape=array&_col=source_id").json()
    assert sorted(r["source_id"] for r in rows) == [
        "000_c1172582d7c842e4",
        "001_9a975f21a701d9fc",
        "002_093abe312faac3f2",
        "003_d12aaecb12cd7776",
        "004_b33d36e8df6f7452",
    ]


def test_column_descriptions_come_from_the_schemas(portal, project: Project):
    metadata = portal.get("/-/metadata.json").json()
    tables = metadata["databases"]["kechuang"]["tables"]
    for name, schema in load_schemas(project.schemas).items():
        for field in schema.fields:
            assert tables[name]["columns"][field.name].startswith(field.description), f"{name}.{field.name}"


def test_cors_and_immutable_settings(portal):
    response = portal.get("/kechuang.json")
    assert response.headers["access-control-allow-origin"] == "*"
    settings = portal.get("/-/settings.json").json()
    assert settings["sql_time_limit_ms"] == 3000
    databases = portal.get("/-/databases.json").json()
    assert databases[0]["is_mutable"] is False


@pytest.mark.parametrize(
    ("query", "params"),
    [
        ("targets_due_by_year", "year=2026"),
        ("agencies_by_measures_led", ""),
        ("indicator_across_documents", "indicator=technology-contract-turnover"),
        ("targets_of_agency", "agency=wuhan-science-technology-innovation-bureau"),
        ("redacted_targets", ""),
    ],
)
def test_canned_queries_answer(portal, query, params):
    response = portal.get(f"/kechuang/{query}.json?_shape=objects&{params}")
    assert response.status_code == 200, response.text
    assert "rows" in response.json()
