"""The /api/v1/docs page: the OpenAPI document rendered as a readable reference, with no CDN.

Everything on the page comes from the spec (paths, parameters, fields, descriptions, the
stability policy), so the page cannot drift from the API; in Chinese, from its translated copy
(localize.py). Each endpoint has a runnable example: a URL field and a button that a small local
script (site/static/api-docs.js) sends with fetch. Short on a phone: an endpoint's parameters and responses
are folded, and a listing's downloads (.csv, .excel_csv, .xlsx: the same parameters) are one line under it.
The route puts the portal's chrome around it.
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


def type_label(schema: dict[str, Any], labels: Labels) -> str:
    """A short reading of a JSON Schema in the reader's language (`type_words`): `string`, `integer or null`,
    `one of: a, b`, `list of …`; as Markdown, with schema names and values as code."""
    words = labels["type_words"]
    if "$ref" in schema:
        return f"`{schema['$ref'].rsplit('/', 1)[1].split('.')[-1]}`"
    if "oneOf" in schema:
        return words["or"].join(type_label(s, labels) for s in schema["oneOf"])
    if "const" in schema:
        return f"`{schema['const']}`"
    types = schema.get("type", "any")
    types = types if isinstance(types, list) else [types]
    if "enum" in schema:
        values = labels["separator"].join(f"`{v}`" for v in schema["enum"] if v is not None)
        label = words["one_of"].format(values=values)
        return label + (words["or"] + words["null"] if "null" in types else "")
    if "array" in types:
        return words["list_of"].format(type=type_label(schema.get("items", {}), labels))
    label = words["or"].join(words.get(t, t) for t in types)
    if schema.get("format"):
        label = words["format"].format(type=label, format=words.get(schema["format"], schema["format"]))
    return label


def _fields_table(spec: dict[str, Any], schema: dict[str, Any], labels: Labels) -> str:
    schema = _resolve(spec, schema)
    rows = []
    for name, prop in schema.get("properties", {}).items():
        description = prop.get("description") or (_resolve(spec, prop).get("description", "") if "$ref" in prop else "")
        rows.append(
            f"<tr><td><code>{html.escape(name)}</code></td><td>{inline_code(type_label(prop, labels))}</td>"
            f"<td>{md(description)}</td></tr>"
        )
    heads = "".join(f"<th>{html.escape(labels['columns'][k])}</th>" for k in ("field", "type", "description"))
    return f"<table><tr>{heads}</tr>" + "".join(rows) + "</table>"


def _parameters_table(spec: dict[str, Any], parameters: list[dict[str, Any]], labels: Labels) -> str:
    if not parameters:
        return f"<p>{html.escape(labels['no_parameters'])}</p>"
    rows = [
        f"<tr><td><code>{html.escape(p['name'])}</code></td><td>{p['in']}</td>"
        f"<td>{inline_code(type_label(p['schema'], labels))}</td><td>{md(p.get('description', ''))}</td></tr>"
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


Variant = tuple[str, str, dict[str, Any]]  # (suffix, path, operation) of a download of a listing


def downloads(spec: dict[str, Any]) -> dict[str, list[Variant]]:
    """The downloads of each listing (`/api/v1/targets.csv`, `.excel_csv`, `.xlsx`), by the listing's path:
    the same parameters as the listing, so the page states them once, under it."""
    out: dict[str, list[Variant]] = {}
    for path, item in spec["paths"].items():
        base, dot, suffix = path.rpartition(".")
        if dot and "/" not in suffix and "{" not in path and base in spec["paths"]:
            out.setdefault(base, []).append((suffix, path, item["get"]))
    return out


def _also_as(op_id: str, variants: list[Variant], labels: Labels) -> str:
    """One line under a listing: its downloads (each link a small example, anchored by its operation id) and
    a link to the parameters they share with it."""
    names = labels["download_names"]
    links = labels["separator"].join(
        labels["download_link"].format(
            name=f'<a id="{html.escape(operation["operationId"])}" href="{html.escape(example_url(path, operation) or path)}"'
            f' title="{html.escape(operation.get("summary", ""))}">{html.escape(names.get(suffix, suffix))}</a>',
            suffix=f"<code>.{html.escape(suffix)}</code>",
        )
        for suffix, path, operation in variants
    )
    parameters = f'<a href="#{html.escape(op_id)}-parameters">{html.escape(labels["parameters_title"])}</a>'
    return f'<p class="also-as">{labels["also_as"].format(links=links, parameters=parameters)}</p>'


def _responses(spec: dict[str, Any], operation: dict[str, Any], labels: Labels) -> str:
    parts = ["<ul>"]
    for status, response in operation["responses"].items():
        types = ", ".join(f"<code>{html.escape(t)}</code>" for t in response.get("content", {}))
        parts.append(
            f"<li><code>{status}</code> {_md.renderInline(response['description'])}"
            + (f" <small>({types})</small>" if types else "")
            + "</li>"
        )
    parts.append("</ul>")
    body = operation["responses"]["200"].get("content", {}).get("application/json", {}).get("schema")
    if body and "$ref" in body:
        summary = inline_code(labels["fields_of_response"].format(type=type_label(body, labels)))
        parts.append(f"<details><summary>{summary}</summary>")
        resolved = _resolve(spec, body)
        parts.append(_fields_table(spec, body, labels))
        for name in ("items", "item"):
            inner = resolved.get("properties", {}).get(name)
            if inner:
                target = inner.get("items", inner)
                parts.append(md(labels["fields_of_each"].format(name=name)) + _fields_table(spec, target, labels))
        parts.append("</details>")
    return "\n".join(parts)


def _operation(
    spec: dict[str, Any], path: str, operation: dict[str, Any], labels: Labels, variants: list[Variant]
) -> str:
    """An endpoint: what it does and its example in view; its parameters and responses folded (a link to
    `#<operationId>-parameters` opens them, api-docs.js); its downloads as one line."""
    op_id = html.escape(operation["operationId"])
    parameters = operation.get("parameters", [])
    return "\n".join(
        [
            f'<section class="op" id="{op_id}">',
            f'<h3><span class="method">GET</span> <code>{html.escape(path)}</code></h3>',
            f"<p><strong>{html.escape(operation.get('summary', ''))}</strong></p>",
            md(operation.get("description", "")),
            f"<h4>{html.escape(labels['try_it'])}</h4>",
            _try_form(example_url(path, operation), operation, labels),
            _also_as(operation["operationId"], variants, labels) if variants else "",
            f'<details class="op-part" id="{op_id}-parameters"><summary><h4>'
            f"{html.escape(labels['parameters_title'])} ({len(parameters)})</h4></summary>",
            _parameters_table(spec, parameters, labels),
            "</details>",
            f'<details class="op-part"><summary><h4>{html.escape(labels["responses_title"])}</h4></summary>',
            _responses(spec, operation, labels),
            "</details>",
            "</section>",
        ]
    )


def render_docs(spec: dict[str, Any], labels: Labels, openapi_href: str = f"{PREFIX}/openapi.json") -> str:
    """The reference for `spec` as the body of a portal page (portal/api_docs.html puts the chrome around it):
    overview, errors, then every endpoint by tag, with a table of contents; words of the page from `labels`."""
    info = spec["info"]
    release = info.get("x-data-release", {})
    by_tag: dict[str, list[tuple[str, dict[str, Any]]]] = {}
    variants = downloads(spec)
    shown_below = {path for group in variants.values() for _, path, _ in group}
    for path, item in spec["paths"].items():
        if path in shown_below:
            continue
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
        sections += [_operation(spec, path, op, labels, variants.get(path, [])) for path, op in ops]
    error = _fields_table(spec, spec["components"]["schemas"]["Error"]["properties"]["error"], labels)
    meta = labels["meta"].format(
        version=html.escape(info["version"]),
        release=html.escape(release.get("version", "")),
        date=html.escape(release.get("date", "")),
    )
    return f"""<div class="api-docs" data-request-failed="{html.escape(labels["request_failed"])}">
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
