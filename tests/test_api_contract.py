"""The v1 contract: the OpenAPI document is valid and frozen, and every response conforms to it.

`tests/snapshots/api_v1_shape.json` freezes, per endpoint, the query parameters and the response
shape (every field path and its JSON type). A change of shape fails here, so it is a decision:
additions are allowed in v1 (record them with `KECHUANG_UPDATE_SNAPSHOTS=1 pytest
tests/test_api_contract.py`); removals, renames and type changes are not (they need /api/v2).
"""

from __future__ import annotations

import copy
import json
import os
import re
from typing import Any
from urllib.parse import quote

import pytest
from api_support import API, COLLECTION_NAMES, SpecValidator, db_ids, get
from openapi_spec_validator import validate

from conftest import ROOT
from kechuang.model.schema import load_schemas
from kechuang.project import Project
from kechuang.serve.api.collections import build_catalog
from kechuang.serve.api.openapi import openapi_document
from kechuang.serve.api.wording import api_strings
from kechuang.serve.site.i18n import flatten

SNAPSHOT = ROOT / "tests" / "snapshots" / "api_v1_shape.json"
UPDATE = os.environ.get("KECHUANG_UPDATE_SNAPSHOTS") == "1"

LOCAL_SPEC = openapi_document(build_catalog(load_schemas(Project.locate().schemas)), {"version": "-", "date": "-"})
OPERATIONS = {item["get"]["operationId"]: (path, item["get"]) for path, item in LOCAL_SPEC["paths"].items()}


def _type_of(node: dict[str, Any]) -> str:
    if "const" in node:
        return type(node["const"]).__name__.replace("str", "string")
    kinds = node.get("type", "any")
    return "|".join(sorted(kinds)) if isinstance(kinds, list) else kinds


def shape(spec: dict[str, Any], node: dict[str, Any], path: str = "$", out: dict | None = None) -> dict[str, str]:
    """Every field path under `node` with its JSON type, e.g. {"$.items[].value": "null|number"}."""
    out = {} if out is None else out
    nullable = False
    while True:
        if "$ref" in node:
            node = spec["components"]["schemas"][node["$ref"].rsplit("/", 1)[1]]
        elif "oneOf" in node:
            nullable = nullable or any(option.get("type") == "null" for option in node["oneOf"])
            node = next(option for option in node["oneOf"] if option.get("type") != "null")
        else:
            break
    kind = _type_of(node)
    out[path] = "|".join(sorted({*kind.split("|"), "null"})) if nullable else kind
    for name, child in node.get("properties", {}).items():
        shape(spec, child, f"{path}.{name}", out)
    if "items" in node:
        shape(spec, node["items"], f"{path}[]", out)
    return out


def frozen_entry(spec: dict[str, Any], operation: dict[str, Any]) -> dict[str, Any]:
    ok = operation["responses"]["200"]["content"]
    body = ok.get("application/json", ok.get("text/html", {})).get("schema", {})
    return {
        "parameters": sorted(p["name"] for p in operation.get("parameters", [])),
        "media_types": sorted(ok),
        "response": shape(spec, body),
    }


@pytest.fixture(scope="module")
def snapshot() -> dict[str, Any]:
    current = {op_id: frozen_entry(LOCAL_SPEC, op) for op_id, (_path, op) in sorted(OPERATIONS.items())}
    if UPDATE:
        SNAPSHOT.parent.mkdir(exist_ok=True)
        SNAPSHOT.write_text(json.dumps(current, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    return json.loads(SNAPSHOT.read_text(encoding="utf-8"))


@pytest.mark.parametrize("operation_id", sorted(OPERATIONS))
def test_response_shape_is_frozen(snapshot, operation_id):
    assert operation_id in snapshot, f"new endpoint {operation_id}: record it with KECHUANG_UPDATE_SNAPSHOTS=1"
    frozen = snapshot[operation_id]
    current = frozen_entry(LOCAL_SPEC, OPERATIONS[operation_id][1])
    removed = sorted(set(frozen["response"]) - set(current["response"]))
    changed = sorted(
        k for k in frozen["response"] if k in current["response"] and frozen["response"][k] != current["response"][k]
    )
    assert not removed, f"fields removed or renamed (not allowed in v1): {removed}"
    assert not changed, f"field types changed (not allowed in v1): {changed}"
    gone = sorted(set(frozen["parameters"]) - set(current["parameters"]))
    assert not gone, f"parameters removed (not allowed in v1): {gone}"
    assert set(frozen["media_types"]) <= set(current["media_types"]), "a media type was dropped"
    assert current == frozen, "fields or parameters were added: allowed in v1, record with KECHUANG_UPDATE_SNAPSHOTS=1"


def test_every_frozen_endpoint_still_exists(snapshot):
    assert sorted(snapshot) == sorted(OPERATIONS)


@pytest.fixture(params=["portal", "sample_portal"])
def served(request):
    return request.getfixturevalue(request.param)


def test_served_document_is_valid_openapi_3_1_and_the_one_generated_from_the_schemas(served):
    spec = get(served, f"{API}/openapi.json").json()
    validate(spec)
    assert spec["openapi"] == "3.1.0"
    comparable = copy.deepcopy(spec)
    comparable["info"]["x-data-release"] = LOCAL_SPEC["info"]["x-data-release"]
    for item in comparable["paths"].values():
        for parameter in item["get"].get("parameters", []):
            if parameter["in"] == "path":  # an existing id of the served data; query examples are fixed
                parameter.pop("example", None)
    assert comparable == LOCAL_SPEC


def _texts(node: Any) -> Any:
    if isinstance(node, dict):
        for value in node.values():
            yield from _texts(value)
    elif isinstance(node, list):
        for value in node:
            yield from _texts(value)
    elif isinstance(node, str):
        yield node


# the `api_docs` keys that word the document itself (the others label the /api/v1/docs page)
DOCUMENT_KEYS = ("overview_text", "stability", "enum_values", "tags", "formats", "operations", "parameters",
                 "search_parameters", "responses", "computed", "ok", "schemas")


def test_the_english_document_says_what_the_english_catalogue_says_and_nothing_is_left_unused():
    """openapi.py takes its sentences about the API from site/i18n/en.yaml, as localize.py takes the Chinese from
    zh.yaml: each is written once per language, and a sentence the document stopped using would fail here
    rather than drift in the catalogue."""
    strings = api_strings("en")
    texts = "\n".join(_texts(LOCAL_SPEC))
    sentences = flatten({key: strings[key] for key in DOCUMENT_KEYS})
    sentences.pop("search_parameters.filter")  # the fallback for a search facet without a sentence of its own
    for key, template in sentences.items():
        for part in re.split(r"\{\w+\}", template.replace("{{", "{").replace("}}", "}")):
            assert part.strip() in texts, (key, part)


def test_document_describes_every_field_and_enum_from_the_schemas(project):
    schemas = load_schemas(project.schemas)
    components = LOCAL_SPEC["components"]["schemas"]
    for name in COLLECTION_NAMES:
        properties = components[f"{name}.record"]["properties"]
        for field in schemas[name].fields:
            prop = properties[field.name]
            assert prop["description"].startswith(field.description), f"{name}.{field.name}"
            if field.enum:  # open: documented, not enforced (enums may gain values within v1)
                assert prop["x-extensible-enum"] == list(field.enum) and "enum" not in prop
        paths = LOCAL_SPEC["paths"]
        assert f"{API}/{name}" in paths and f"{API}/{name}/{{id}}" in paths
    assert components["Error"]["properties"]["error"]["required"] == ["status", "code", "message", "param"]


def requests_to_check(served) -> list[tuple[str, dict[str, str]]]:
    """A crawl of the API: every endpoint with its common variants, items, and each error status."""
    out: list[tuple[str, dict[str, str]]] = [(f"{API}/", {}), (f"{API}/openapi.json", {}), (f"{API}/docs", {})]
    for name in COLLECTION_NAMES:
        base = f"{API}/{name}"
        out += [
            (base, {}),
            (f"{base}?limit=1&sort=-id", {}),
            (f"{base}?fields=id", {}),
            (f"{base}?format=csv", {}),
            (base, {"Accept": "text/csv"}),
            (f"{base}?bogus=1", {}),
            (base, {"Accept": "image/png"}),
            (f"{base}/no-such-record", {}),
        ]
        for record_id in db_ids(served.db, f"select id from {name} order by id limit 30"):
            out.append((f"{base}/{quote(record_id, safe='')}", {}))
        first = get(served, f"{base}?limit=1").json()
        if first["next"]:
            out.append((first["next"], {}))
    return out


def test_every_response_conforms_to_the_document(served):
    validator = SpecValidator(get(served, f"{API}/openapi.json").json())
    checked = 0
    for url, headers in requests_to_check(served):
        response = get(served, url, headers=headers)
        assert response.status_code < 500, url
        validator.validate(url, response)
        etag = response.headers.get("etag")
        if etag:
            not_modified = get(served, url, headers={**headers, "If-None-Match": etag})
            validator.validate(url, not_modified)
        checked += 1
    assert checked > 80
