"""What search engines and dataset catalogues read: robots.txt, sitemap.xml, the DCAT catalogue and the
schema.org `Dataset` of the downloads page (both JSON-LD), and the "report a problem" link of record pages.

Pure functions of what the routes already know (origin, page paths, release files); the routes serve them.
JSON-LD contexts are written inline, so a consumer (or a test) never has to fetch one.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any
from urllib.parse import quote, urlencode
from xml.sax.saxutils import escape

from markupsafe import Markup

from kechuang.serve.site.downloads import Release

# Crawlers stay off the endpoints whose every query is a new URL: arbitrary SQL and search.
DISALLOWED = ("/kechuang?sql=", "/*?sql=", "/*&sql=", "/-/search", "/api/v1/search")

DCAT_CONTEXT = {
    "dcat": "http://www.w3.org/ns/dcat#",
    "dct": "http://purl.org/dc/terms/",
    "foaf": "http://xmlns.com/foaf/0.1/",
    "xsd": "http://www.w3.org/2001/XMLSchema#",
}
SCHEMA_CONTEXT = {"@vocab": "https://schema.org/"}
MEDIA_TYPES = {
    ".db": "application/vnd.sqlite3",
    ".zip": "application/zip",
    ".csv": "text/csv",
    ".json": "application/json",
}


def robots_txt(origin: str) -> str:
    lines = ["User-agent: *", *(f"Disallow: {path}" for path in DISALLOWED), "", f"Sitemap: {origin}/sitemap.xml", ""]
    return "\n".join(lines)


def with_language(path: str, lang: str) -> str:
    return path + ("&" if "?" in path else "?") + urlencode({"lang": lang})


def sitemap_xml(origin: str, paths: Iterable[str], languages: dict[str, str]) -> str:
    """Every page once per language (`languages`: code → hreflang), each entry listing its alternates."""
    out = [
        '<?xml version="1.0" encoding="UTF-8"?>',
        '<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9" xmlns:xhtml="http://www.w3.org/1999/xhtml">',
    ]
    for path in paths:
        alternates = "".join(
            f'<xhtml:link rel="alternate" hreflang="{hreflang}" href="{escape(origin + with_language(path, code))}"/>'
            for code, hreflang in languages.items()
        )
        default = f'<xhtml:link rel="alternate" hreflang="x-default" href="{escape(origin + path)}"/>'
        for code in languages:
            out.append(f"<url><loc>{escape(origin + with_language(path, code))}</loc>{alternates}{default}</url>")
    out.append("</urlset>")
    return "\n".join(out) + "\n"


def _media_type(name: str) -> str:
    suffix = name[name.rfind(".") :] if "." in name else ""
    return MEDIA_TYPES.get(suffix, "application/octet-stream")


def _texts(by_lang: dict[str, str]) -> list[dict[str, str]]:
    return [{"@value": text, "@language": lang} for lang, text in by_lang.items() if text]


def dcat_catalog(
    origin: str, title: dict[str, str], description: dict[str, str], license_url: str, releases: list[Release]
) -> dict[str, Any]:
    """A dcat:Catalog with one dcat:Dataset per published release, each file of it a dcat:Distribution
    whose dcat:downloadURL is the file the downloads page links to."""
    datasets = [
        {
            "@id": f"{origin}/downloads#release-{quote(release.version)}",
            "@type": "dcat:Dataset",
            "dct:title": _texts({lang: f"{text} {release.version}" for lang, text in title.items()}),
            "dct:description": _texts(description),
            "dcat:version": release.version,
            "dcat:landingPage": {"@id": f"{origin}/downloads"},
            **({"dct:license": {"@id": license_url}} if license_url else {}),
            "dcat:distribution": [
                {
                    "@id": origin + file.href,
                    "@type": "dcat:Distribution",
                    "dct:title": file.name,
                    "dcat:downloadURL": {"@id": origin + file.href},
                    "dcat:mediaType": _media_type(file.name),
                    "dcat:byteSize": {"@value": str(file.size), "@type": "xsd:nonNegativeInteger"},
                }
                for file in release.files
            ],
        }
        for release in releases
    ]
    return {
        "@context": DCAT_CONTEXT,
        "@id": f"{origin}/catalog.jsonld",
        "@type": "dcat:Catalog",
        "dct:title": _texts(title),
        "dct:description": _texts(description),
        "foaf:homepage": {"@id": f"{origin}/"},
        **({"dct:license": {"@id": license_url}} if license_url else {}),
        "dcat:dataset": datasets,
    }


def schema_dataset(
    origin: str, name: str, description: str, license_url: str, releases: list[Release], lang: str
) -> dict[str, Any]:
    """schema.org `Dataset` markup for the downloads page: the newest release, its files as DataDownloads."""
    newest = releases[0] if releases else None
    return {
        "@context": SCHEMA_CONTEXT,
        "@type": "Dataset",
        "@id": f"{origin}/downloads",
        "name": name,
        "description": description,
        "url": f"{origin}/downloads",
        "inLanguage": lang,
        "includedInDataCatalog": {"@type": "DataCatalog", "@id": f"{origin}/catalog.jsonld"},
        **({"license": license_url} if license_url else {}),
        **({"version": newest.version} if newest else {}),
        "distribution": [
            {
                "@type": "DataDownload",
                "name": file.name,
                "contentUrl": origin + file.href,
                "encodingFormat": _media_type(file.name),
                "contentSize": str(file.size),
            }
            for file in (newest.files if newest else ())
        ],
    }


def json_ld_script(data: dict[str, Any]) -> Markup:
    """`data` as a <script type="application/ld+json"> block (a data block, not script: the CSP does not
    run it); `<`, `>` and `&` escaped so no text can close the element."""
    text = json.dumps(data, ensure_ascii=False, indent=1)
    text = text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
    return Markup(f'<script type="application/ld+json">\n{text}\n</script>')


REPORT_KINDS = ("email", "issue_url")  # the channels metadata.yml may name, in the order they are offered


def report_links(config: dict[str, Any], subject: str, body: str) -> list[dict[str, str]]:
    """Prefilled links to the channels configured under `plugins: kechuang: report_problem:` in metadata.yml:
    a `mailto:` for `email`, a new-issue URL for `issue_url` (title and body appended as `title=` and `body=`,
    as GitHub, Gitea and Forgejo read them, or put where the URL says `{title}` and `{body}`, e.g. GitLab's
    `…/issues/new?issue[title]={title}&issue[description]={body}`). Empty when none is configured."""
    channel = config.get("report_problem") or {}
    links = []
    if email := channel.get("email"):
        query = urlencode({"subject": subject, "body": body}, quote_via=quote)
        links.append({"kind": "email", "href": f"mailto:{quote(email, safe='@')}?{query}"})
    if issue_url := channel.get("issue_url"):
        if "{title}" in issue_url or "{body}" in issue_url:
            href = issue_url.replace("{title}", quote(subject, safe="")).replace("{body}", quote(body, safe=""))
        else:
            href = issue_url + ("&" if "?" in issue_url else "?") + urlencode({"title": subject, "body": body})
        links.append({"kind": "issue_url", "href": href})
    return links
