"""The /api/v1/docs page: the OpenAPI document rendered as a readable reference, with no CDN.

Everything on the page comes from the spec (paths, parameters, fields, descriptions, the
stability policy), so the page cannot drift from the API. Each endpoint has a runnable example:
a URL field and a button that a small local script (site/static/api-docs.js) sends with fetch.
"""

from __future__ import annotations

import html
from typing import Any
from urllib.parse import urlencode

from markdown_it import MarkdownIt

from kechuang.serve.api.collections import PREFIX

_md = MarkdownIt("commonmark", {"html": False})
SCRIPT = "/static/api-docs.js"

STYLE = """
body{font:15px/1.55 system-ui,-apple-system,"Segoe UI","PingFang SC","Noto Sans CJK SC",sans-serif;margin:0;color:#1c2330}
header{background:#12355b;color:#fff;padding:1.2rem 2rem}header a{color:#cfe3ff}
main{display:grid;grid-template-columns:16rem 1fr;gap:2rem;padding:1rem 2rem;max-width:90rem}
nav{position:sticky;top:0;align-self:start;max-height:100vh;overflow:auto;font-size:14px}
nav ul{list-style:none;padding-left:.8rem}nav a{text-decoration:none}
section.op{border-top:1px solid #d5dbe5;padding:1rem 0}
code,pre{font-family:ui-monospace,Menlo,Consolas,monospace;font-size:13px}
pre{background:#f4f6f9;padding:.6rem;overflow:auto;max-height:28rem;white-space:pre-wrap;word-break:break-all}
table{border-collapse:collapse;width:100%;margin:.5rem 0}td,th{border:1px solid #d5dbe5;padding:.25rem .5rem;
vertical-align:top;text-align:left}th{background:#eef2f7}
.method{background:#1f7a4d;color:#fff;border-radius:3px;padding:0 .4rem;font-weight:600}
form.try{display:flex;gap:.5rem;flex-wrap:wrap;margin:.5rem 0}form.try input{flex:1;min-width:20rem;padding:.3rem}
form.try button{padding:.3rem 1rem}.policy{background:#fff8e1;border-left:4px solid #f0b400;padding:.5rem 1rem}
details summary{cursor:pointer}
"""


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


def _fields_table(spec: dict[str, Any], schema: dict[str, Any]) -> str:
    schema = _resolve(spec, schema)
    rows = []
    for name, prop in schema.get("properties", {}).items():
        description = prop.get("description") or (_resolve(spec, prop).get("description", "") if "$ref" in prop else "")
        rows.append(
            f"<tr><td><code>{html.escape(name)}</code></td><td>{html.escape(type_label(spec, prop))}</td>"
            f"<td>{md(description)}</td></tr>"
        )
    return "<table><tr><th>field</th><th>type</th><th>description</th></tr>" + "".join(rows) + "</table>"


def _parameters_table(spec: dict[str, Any], parameters: list[dict[str, Any]]) -> str:
    if not parameters:
        return "<p>No parameters; any query parameter is refused with 400.</p>"
    rows = [
        f"<tr><td><code>{html.escape(p['name'])}</code></td><td>{p['in']}</td>"
        f"<td>{html.escape(type_label(spec, p['schema']))}</td><td>{md(p.get('description', ''))}</td></tr>"
        for p in parameters
    ]
    return "<table><tr><th>parameter</th><th>in</th><th>type</th><th>description</th></tr>" + "".join(rows) + "</table>"


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


def _try_form(url: str | None, operation: dict[str, Any]) -> str:
    if url is None:
        return "<p><em>No example: the collection has no records in this release yet.</em></p>"
    content = operation["responses"]["200"].get("content", {})
    options = "".join(f'<option value="{html.escape(t)}">{html.escape(t)}</option>' for t in content)
    return (
        f'<form class="try" data-operation="{html.escape(operation["operationId"])}">'
        f'<input name="url" value="{html.escape(url)}" aria-label="Request URL">'
        f'<select name="accept" aria-label="Accept">{options}</select>'
        '<button type="submit">Send</button></form>'
        '<pre class="result" hidden></pre>'
    )


def _operation(spec: dict[str, Any], path: str, operation: dict[str, Any]) -> str:
    op_id = operation["operationId"]
    parts = [
        f'<section class="op" id="{html.escape(op_id)}">',
        f'<h3><span class="method">GET</span> <code>{html.escape(path)}</code></h3>',
        f"<p><strong>{html.escape(operation.get('summary', ''))}</strong></p>",
        md(operation.get("description", "")),
        "<h4>Try it</h4>",
        _try_form(example_url(path, operation), operation),
        "<h4>Parameters</h4>",
        _parameters_table(spec, operation.get("parameters", [])),
        "<h4>Responses</h4><ul>",
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
        parts.append(f"<details><summary>Fields of the 200 response ({html.escape(type_label(spec, body))})</summary>")
        resolved = _resolve(spec, body)
        parts.append(_fields_table(spec, body))
        for name in ("items", "item"):
            inner = resolved.get("properties", {}).get(name)
            if inner:
                target = inner.get("items", inner)
                parts.append(f"<p>Fields of each <code>{name}</code>:</p>" + _fields_table(spec, target))
        parts.append("</details>")
    parts.append("</section>")
    return "\n".join(parts)


def render_docs(spec: dict[str, Any]) -> str:
    """The whole reference page for `spec`."""
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
        sections += [_operation(spec, path, op) for path, op in ops]
    error = _fields_table(spec, spec["components"]["schemas"]["Error"]["properties"]["error"])
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>{html.escape(info["title"])} · v{html.escape(info["version"])}</title>
<style>{STYLE}</style></head>
<body><header><h1>{html.escape(info["title"])}</h1>
<p>API v{html.escape(info["version"])} · data release <code>{html.escape(release.get("version", ""))}</code>
({html.escape(release.get("date", ""))}) · <a href="{PREFIX}/openapi.json">OpenAPI document</a> ·
<a href="{PREFIX}/">index</a></p></header>
<main><nav><h2>Endpoints</h2><ul><li><a href="#overview">Overview</a></li><li><a href="#errors">Errors</a></li>
{"".join(nav)}</ul></nav>
<div><section id="overview"><h2>Overview</h2><div class="policy">{md(info["description"])}</div></section>
<section id="errors"><h2>Errors</h2><p>Every error (400, 404, 405, 406) has the body <code>{{"error": {{…}}}}</code> with these fields:</p>{error}</section>
{"".join(sections)}</div></main>
<script src="{SCRIPT}"></script>
</body></html>"""
