"""Helpers the API tests share: the database as the truth, pages followed to the end, spec validation."""

from __future__ import annotations

import copy
import sqlite3
from pathlib import Path
from typing import Any

import httpx
import jsonschema

from conftest import ROOT, InProcessPortal, Portal
from kechuang.model import load_model

API = "/api/v1"
# The published collections, in the order the model gives them (`x_portal.collection` in schemas/).
COLLECTION_NAMES = [s.name for s in load_model(ROOT / "schemas").by_role("collection")]
_validators: dict[str, SpecValidator] = {}


def get(portal: Portal | InProcessPortal, url: str, **kwargs) -> httpx.Response:
    """GET with the portal's own client (kept alive; in process for most portals); every response is
    validated against the OpenAPI document that portal serves, whatever the test checks."""
    response = portal.client.get(url, **kwargs)
    if url.startswith(API):
        validator = _validators.get(portal.base_url)
        if validator is None:
            spec = portal.client.get(f"{API}/openapi.json").json()
            validator = _validators[portal.base_url] = SpecValidator(spec)
        validator.validate(url, response)
    return response


def db_records(db: Path, sql: str, params: tuple | list = ()) -> list[sqlite3.Row]:
    """Rows of the database file, read-only, each readable by name and by position."""
    conn = sqlite3.connect(f"file:{db}?immutable=1", uri=True)
    conn.row_factory = sqlite3.Row
    try:
        return conn.execute(sql, params).fetchall()
    finally:
        conn.close()


def db_rows(db: Path, sql: str, params: tuple | list = ()) -> list[dict[str, Any]]:
    return [dict(r) for r in db_records(db, sql, params)]


def db_ids(db: Path, sql: str, params: tuple | list = ()) -> list[str]:
    return [next(iter(r.values())) for r in db_rows(db, sql, params)]


def all_pages(portal: Portal, url: str, max_pages: int = 500) -> tuple[list[dict[str, Any]], int]:
    """Every item of a listing, following `next`; and the number of pages it took."""
    items: list[dict[str, Any]] = []
    pages = 0
    while url:
        response = get(portal, url)
        assert response.status_code == 200, response.text
        body = response.json()
        items += body["items"]
        url = body["next"]
        pages += 1
        assert pages <= max_pages, "pagination does not end"
    return items, pages


def strict(schema: dict[str, Any]) -> dict[str, Any]:
    """A copy of a JSON Schema in which no object may carry a property the schema does not name."""
    out = copy.deepcopy(schema)

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            if "properties" in node and "additionalProperties" not in node:
                node["additionalProperties"] = False
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(out)
    return out


class SpecValidator:
    """Validates responses against the operation, status and media type the OpenAPI document gives them."""

    def __init__(self, spec: dict[str, Any]):
        self.spec = spec
        self.components = strict(spec["components"])
        self.compiled: dict[tuple[str, str, str], jsonschema.Draft202012Validator] = {}

    def operation(self, path: str) -> tuple[str, dict[str, Any]]:
        """The spec path template and operation that `path` (without query) matches; the API also answers
        each path with or without a trailing slash."""
        for variant in (path, path + "/", path.rstrip("/")):
            if variant in self.spec["paths"]:
                return variant, self.spec["paths"][variant]["get"]
        head, _, _ = path.rpartition("/")
        template = head + "/{id}"
        assert template in self.spec["paths"], f"{path} is not in the OpenAPI document"
        return template, self.spec["paths"][template]["get"]

    def validate(self, url: str, response) -> None:
        path = url.split("?", 1)[0]
        if response.status_code == 404 and not self._documented(path):
            assert set(response.json()["error"]) == {"status", "code", "message", "param"}
            return  # a path the document does not have (an unknown collection): the error shape still holds
        template, operation = self.operation(path)
        status = str(response.status_code)
        assert status in operation["responses"], f"{url}: status {status} is not documented"
        documented = operation["responses"][status]
        for name, header in documented.get("headers", {}).items():
            if header.get("required"):
                assert name.lower() in response.headers, f"{url}: header {name} missing"
        content = documented.get("content")
        if not content:
            assert response.content == b"", f"{url}: {status} must have no body"
            return
        media = response.headers["content-type"].split(";")[0].strip()
        assert media in content, f"{url}: {media} is not documented for {status}"
        if media == "application/json":
            key = (template, status, media)
            if key not in self.compiled:
                schema = {**strict(content[media]["schema"]), "components": self.components}
                self.compiled[key] = jsonschema.Draft202012Validator(schema)
            self.compiled[key].validate(response.json())

    def _documented(self, path: str) -> bool:
        try:
            self.operation(path)
        except AssertionError:
            return False
        return True
