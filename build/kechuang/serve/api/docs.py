"""The /api/v1/docs page: the OpenAPI document rendered as a readable reference, with no CDN.

Everything on the page comes from the spec (paths, parameters, fields, descriptions, the
stability policy), so the page cannot drift from the API; in Chinese, from its translated copy
(localize.py). Each endpoint has a runnable example: a URL field and a button that a small local
script (site/static/api-docs.js) sends with fetch. The route puts the portal's chrome around it.
"""

from __future__ import annotations

import html
from typing import Any
from urllib.parse import urlencode

from markdown_it import MarkdownIt

from kechuang.serve.api.collections import PREFIX
from kechuang.serve.site.markdown import inline_code

_md = MarkdownIt("commonmark", {"html": False})
SCRIPT = "/static/api-docs.js"

# The page's own words (headings, table heads, buttons) in the reader's language: the `api_docs` section of
# site/i18n/<lang>.yaml, passed in by the route.
Labels = dict[str, Any]


def md(text: str) -> str:
    return _md.render(text or "")


def _resolve(spec: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        schema = spec["components"]["schemas"][schema["$ref"].rsplit("/", 1)[1]]
    return schema


def type_label(spec: dict[str, Any], schema: dict[str, Any]) -> str:
    """A short human reading of a JSON Schema: `string`, `integer or null`, `one of a, b`, `list of …`."""
    if "$ref" in schema:
        return schema["$ref"].rsplit("/", 1)[1].split(".")[-1]
    if "oneOf" in schema:
        return " or ".join(type_label(spec, s) for s in schema["oneOf"])
    if "const" in schema:
        return f"`{schema['const']}`"
    types = schema.get("type", "any")
    types = types if isinstance(types, list) else [types]
    if "enum" in schema:
        values = ", ".join(str(v) for v in schema["enum"] if v is not None)
        label = f"one of: {values}"
        return label + (" or null" if "null" in types else "")
    if "array" in types:
        return "list of " + type_label(spec, schema.get("items", {}))
    label = " or ".join(t for t in types)
    if schema.get("format"):
        label += f" ({schema['format']})"
    return label


def _fields_table(spec: dict[str, Any], schema: dict[str, Any], labels: Labels) -> str:
    schema = _resolve(spec, schema)
    rows = []
    for name, prop in schema.get("properties", {}).items():
        description = prop.get("description") or (_resolve(spec, prop).get("description", "") if "$ref" in prop else "")
        rows.append(
            f"<tr><td><code>{html.escape(name)}</code></td><td>{inline_code(type_label(spec, prop))}</td>"
            f"<td>{md(description)}</td></tr>"
        )
    heads = "".join(f"<th>{html.escape(labels['columns'][k])}</th>" for k in ("field", "type", "description"))
    return f"<table><tr>{heads}</tr>" + "".join(rows) + "</table>"


def _parameters_table(spec: dict[str, Any], parameters: list[dict[str, Any]], labels: Labels) -> str:
    if not parameters:
        return f"<p>{html.escape(labels['no_parameters'])}</p>"
    rows = [
        f"<tr><td><code>{html.escape(p['name'])}</code></td><td>{p['in']}</td>"
        f"<td>{inline_code(type_label(spec, p['schema']))}</td><td>{md(p.get('description', ''))}</td></tr>"
        for p in parameters
    ]
    heads = "".join(f"<th>{html.escape(labels['columns'][k])}</th>" for k in ("parameter", "in", "type", "description"))
    return f"<table><tr>{heads}</tr>" + "".join(rows) + "</table>"


def example_url(path: str, operation: dict[str, Any]) -> str | None:
    """A request worth trying: list endpoints with a small page, item endpoints with an id that exists."""
    for p in operation.get("parameters", []):
        if p["in"] == "path":
            if "example" not in p:
                return None
            path = path.replace("{" + p["name"] + "}", p["example"])
    query = [
        (p["name"], p["example"])
        for p in operation.get("parameters", [])
        if p["in"] == "query" and p.get("required") and "example" in p
    ]
    if operation["operationId"].startswith("list_"):
        query.append(("limit", "3"))
    return path + ("?" + urlencode(query) if query else "")


def _try_form(url: str | None, operation: dict[str, Any], labels: Labels) -> str:
    if url is None:
        return f"<p><em>{html.escape(labels['no_example'])}</em></p>"
    content = operation["responses"]["200"].get("content", {})
    options = "".join(f'<option value="{html.escape(t)}">{html.escape(t)}</option>' for t in content)
    return (
        f'<form class="try" data-operation="{html.escape(operation["operationId"])}">'
        f'<input name="url" value="{html.escape(url)}" aria-label="{html.escape(labels["request_url"])}">'
        f'<select name="accept" aria-label="Accept">{options}</select>'
        f'<button type="submit">{html.escape(labels["send"])}</button></form>'
        '<pre class="result" hidden></pre>'
    )


def _operation(spec: dict[str, Any], path: str, operation: dict[str, Any], labels: Labels) -> str:
    op_id = operation["operationId"]
    parts = [
        f'<section class="op" id="{html.escape(op_id)}">',
        f'<h3><span class="method">GET</span> <code>{html.escape(path)}</code></h3>',
        f"<p><strong>{html.escape(operation.get('summary', ''))}</strong></p>",
        md(operation.get("description", "")),
        f"<h4>{html.escape(labels['try_it'])}</h4>",
        _try_form(example_url(path, operation), operation, labels),
        f"<h4>{html.escape(labels['parameters_title'])}</h4>",
        _parameters_table(spec, operation.get("parameters", []), labels),
        f"<h4>{html.escape(labels['responses_title'])}</h4><ul>",
    ]
    for status, response in operation["responses"].items():
        types = ", ".join(response.get("content", {}))
        parts.append(
            f"<li><code>{status}</code> {_md.renderInline(response['description'])}"
            + (f" <small>({html.escape(types)})</small>" if types else "")
            + "</li>"
        )
    parts.append("</ul>")
    body = operation["responses"]["200"].get("content", {}).get("application/json", {}).get("schema")
    if body and "$ref" in body:
        summary = html.escape(labels["fields_of_response"].format(type=type_label(spec, body)))
        parts.append(f"<details><summary>{summary}</summary>")
        resolved = _resolve(spec, body)
        parts.append(_fields_table(spec, body, labels))
        for name in ("items", "item"):
            inner = resolved.get("properties", {}).get(name)
            if inner:
                target = inner.get("items", inner)
                parts.append(md(labels["fields_of_each"].format(name=name)) + _fields_table(spec, target, labels))
        parts.append("</details>")
    parts.append("</section>")
    return "\n".join(parts)


def render_docs(spec: dict[str, Any], labels: Labels, openapi_href: str = f"{PREFIX}/openapi.json") -> str:
    """The reference for `spec` as the body of a portal page (portal/api_docs.html puts the chrome around it):
    overview, errors, then every endpoint by tag, with a table of contents; words of the page from `labels`."""
    info = spec["info"]
    release = info.get("x-data-release", {})
    by_tag: dict[str, list[tuple[str, dict[str, Any]]]] = {}
    for path, item in spec["paths"].items():
        operation = item["get"]
        by_tag.setdefault(operation["tags"][0], []).append((path, operation))
    nav, sections = [], []
    for tag in spec["tags"]:
        ops = by_tag.get(tag["name"], [])
        nav.append(
            f"<li><a href='#tag-{html.escape(tag['name'])}'>{html.escape(tag['name'])}</a><ul>"
            + "".join(
                f"<li><a href='#{html.escape(op['operationId'])}'><code>{html.escape(path.removeprefix(PREFIX))}</code></a></li>"
                for path, op in ops
            )
            + "</ul></li>"
        )
        sections.append(
            f"<h2 id='tag-{html.escape(tag['name'])}'>{html.escape(tag['name'])}</h2>{md(tag['description'])}"
        )
        sections += [_operation(spec, path, op, labels) for path, op in ops]
    error = _fields_table(spec, spec["components"]["schemas"]["Error"]["properties"]["error"], labels)
    meta = labels["meta"].format(
        version=html.escape(info["version"]),
        release=html.escape(release.get("version", "")),
        date=html.escape(release.get("date", "")),
    )
    return f"""<div class="api-docs">
<header class="api-docs-head"><h1>{html.escape(labels["heading"])}</h1>
<p>{meta} · <a href="{html.escape(openapi_href)}">{html.escape(labels["openapi"])}</a> ·
<a href="{PREFIX}/">{html.escape(labels["index"])}</a></p></header>
<div class="api-docs-body"><nav class="api-docs-toc" aria-label="{html.escape(labels["endpoints"])}">
<h2>{html.escape(labels["endpoints"])}</h2><ul><li><a href="#overview">{html.escape(labels["overview"])}</a></li>
<li><a href="#errors">{html.escape(labels["errors"])}</a></li>
{"".join(nav)}</ul></nav>
<div class="api-docs-main"><section id="overview"><h2>{html.escape(labels["overview"])}</h2><div class="policy">{md(info["description"])}</div></section>
<section id="errors"><h2>{html.escape(labels["errors"])}</h2>{md(labels["errors_text"])}{error}</section>
{"".join(sections)}</div></div>
<script src="{SCRIPT}"></script>
</div>"""
