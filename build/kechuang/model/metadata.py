"""Datasette metadata: metadata.yml for what only a person can say, the schemas for the rest."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import yaml

from kechuang.model.derived import derived_columns
from kechuang.model.schema import load_schemas
from kechuang.model.views import VIEWS
from kechuang.project import Project

DATABASE_NAME = "kechuang"


def bilingual(english: str, chinese: str) -> str:
    return f"{english} · {chinese}" if chinese else english


def datasette_metadata(project: Project) -> dict[str, Any]:
    """metadata.yml with every table's title, description, label column and column descriptions added."""
    metadata = yaml.safe_load(project.metadata_file.read_text(encoding="utf-8"))
    metadata = copy.deepcopy(metadata)
    database = metadata.setdefault("databases", {}).setdefault(DATABASE_NAME, {})
    tables = database.setdefault("tables", {})
    for name, schema in load_schemas(project.schemas).items():
        table = tables.setdefault(name, {})
        table["title"] = bilingual(schema.title, schema.title_zh)
        table["description"] = bilingual(schema.description, schema.description_zh)
        if schema.label_column:
            table["label_column"] = schema.label_column
        columns = {f.name: bilingual(f.description, f.description_zh) for f in schema.fields}
        columns |= {c.name: bilingual(c.description, c.description_zh) for c in derived_columns(name)}
        table["columns"] = columns
    for name, (description, _sql) in VIEWS.items():
        tables.setdefault(name, {})["description"] = description
    return metadata


def write_datasette_metadata(project: Project, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(datasette_metadata(project), ensure_ascii=False, indent=2), encoding="utf-8")
    return path
