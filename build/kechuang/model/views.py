"""SQL views for the joins journalists make most often, declared as data in `schemas/views/*.yaml`."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from sqlite_utils import Database

from kechuang.model.schema import named

VIEWS_FOLDER = "views"  # inside the schemas folder


@dataclass(frozen=True)
class View:
    """A view: its name, bilingual title and description, its facets and its SQL."""

    name: str
    title: str
    title_zh: str
    description: str
    description_zh: str
    sql: str
    facets: tuple[str, ...] = ()
    position: int = 0
    descriptor: dict[str, Any] = field(repr=False, compare=False, default_factory=dict)


def parse_view(descriptor: dict[str, Any]) -> View:
    return View(
        **named(descriptor),
        sql=descriptor["sql"].strip(),
        facets=tuple(descriptor.get("x_facets", ())),
        position=descriptor.get("x_position", 0),
        descriptor=descriptor,
    )


def load_views(schemas_dir: Path) -> dict[str, View]:
    """Every view declared in `schemas_dir/views/`, in the order the portal lists them."""
    views = []
    for path in sorted((Path(schemas_dir) / VIEWS_FOLDER).glob("*.yaml")):
        view = parse_view(yaml.safe_load(path.read_text(encoding="utf-8")))
        if view.name != path.stem:
            raise ValueError(f"{path}: view name {view.name!r} does not match its file name")
        views.append(view)
    return {v.name: v for v in sorted(views, key=lambda v: (v.position, v.name))}


def create_views(db: Database, views: dict[str, View]) -> None:
    for view in views.values():
        db.create_view(view.name, view.sql, replace=True)
