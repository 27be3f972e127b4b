"""The data model: tables, derived columns, views and their roles in the portal, declared as data.

Everything else asks this package: the build stages read the model from `schemas/` (`load_model`),
serving reads the model a database was built with from its `_meta` table (`meta.read_meta`).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from kechuang.model.schema import TableSchema, load_schemas, ordered_by
from kechuang.model.views import View, load_views


@dataclass(frozen=True, eq=False)  # compared and hashed by identity: one model per build, cached per model
class Model:
    """The tables (in dependency order) and views of one build."""

    tables: dict[str, TableSchema]
    views: dict[str, View]

    def by_role(self, role: str) -> list[TableSchema]:
        """Tables with a portal role (`collection`, `search`, `home`), in that role's order."""
        return ordered_by(self.tables, role)

    @property
    def mentioned(self) -> list[TableSchema]:
        """Tables whose records measures mention through a link table (platforms, funds, events)."""
        return [s for s in self.by_role("collection") if s.portal.mentions]


def load_model(schemas_dir: Path) -> Model:
    """The model declared in a project's `schemas/` folder (tables) and `schemas/views/` (views)."""
    return Model(tables=load_schemas(schemas_dir), views=load_views(schemas_dir))
