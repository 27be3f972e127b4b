"""Datasette's own pages in the reader's language: the templates the portal overrides take every interface
string from the catalogues (site/i18n/, section `datasette`), and each page declares its language.

Datasette's error pages are rendered without the request's template variables; they still follow the
reader's language, and Datasette's English messages are reworded from the catalogue.
"""

from __future__ import annotations

import html
import re
from html.parser import HTMLParser
from pathlib import Path

import datasette
import pytest
import yaml

from conftest import ROOT, InProcessPortal
from kechuang.serve.site import i18n

TEMPLATES = ROOT / "site" / "templates"
DATASETTE_TEMPLATES = Path(datasette.__file__).parent / "templates"
CATALOGUES = {
    lang: yaml.safe_load((ROOT / "site" / "i18n" / f"{lang}.yaml").read_text(encoding="utf-8")) for lang in ("zh", "en")
}
HTML_LANG = {"zh": "zh-Hans", "en": "en"}
# what a person reads: text, and these attributes (a button's value is its label)
READ_ATTRIBUTES = {"title", "aria-label", "placeholder", "alt", "label"}
# class names are not read; nor is a file extension (`{{ database }}.db`) or code (SQL in <textarea>, <pre>)
JINJA = re.compile(r"{%-? block body_class -?%}.*?{%-? endblock -?%}|{#.*?#}|{%.*?%}|{{.*?}}", re.DOTALL)
WORD = re.compile(r"(?<![.\w])[^\W\d_]{2,}")
CODE = ("script", "style", "textarea", "pre", "code")


class _ReadText(HTMLParser):
    """The words a template puts before the reader outside any `{{ … }}` (code excepted)."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.found: list[str] = []
        self._skip = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in CODE:
            self._skip += 1
        values = dict(attrs)
        for name, value in attrs:
            shown = name in READ_ATTRIBUTES or (name == "value" and values.get("type") in ("submit", "button"))
            if shown and value and WORD.search(value):
                self.found.append(f"{tag}[{name}]={value!r}")

    def handle_endtag(self, tag: str) -> None:
        if tag in CODE and self._skip:
            self._skip -= 1

    def handle_data(self, data: str) -> None:
        if not self._skip and WORD.search(data):
            self.found.append(data.strip())


def untranslated(template: str) -> list[str]:
    reader = _ReadText()
    reader.feed(JINJA.sub("", template))
    reader.close()
    return reader.found


def overriding_templates() -> list[Path]:
    """The templates that replace Datasette's (same name), the search page and their shared macros."""
    names = {path.name for path in DATASETTE_TEMPLATES.glob("*.html")}
    found = [path for path in sorted(TEMPLATES.glob("*.html")) if path.name in names]
    return [*found, TEMPLATES / "search.html", TEMPLATES / "_datasette_i18n.html"]


def test_the_check_finds_interface_text_outside_the_catalogue():
    assert untranslated('<h3>Custom SQL query</h3><input type="submit" value="Run SQL">') == [
        "Custom SQL query",
        "input[value]='Run SQL'",
    ]
    assert untranslated('<select aria-label="筛选">') == ["select[aria-label]='筛选'"]
    assert untranslated('<h3>{{ t.datasette.custom_sql }}</h3> (<a href="#x">{{ n }}</a>) &#x2716; …') == []


@pytest.mark.parametrize("path", overriding_templates(), ids=lambda path: path.name)
def test_every_interface_string_of_an_overridden_template_is_in_the_catalogues(path: Path):
    assert untranslated(path.read_text(encoding="utf-8")) == [], f"{path.name}: words outside site/i18n/"


def test_every_filter_datasette_offers_has_words_in_both_languages():
    from datasette.filters import Filters

    keys = {key for key, _display, _no_argument in Filters([]).lookups()}
    for lang, catalogue in CATALOGUES.items():
        assert keys <= set(catalogue["datasette"]["lookups"]), f"{lang}.yaml datasette.lookups"


@pytest.mark.parametrize(
    ("message", "expected"),
    [
        ("Database not found", "找不到该数据库"),
        ("Cannot sort table by nope", "无法按 nope 排序"),
        ("_size must be <= 1000", "_size 不能大于 1000"),
        ("no such table: nope", None),
    ],
)
def test_datasette_messages_are_reworded_from_the_catalogue(message, expected):
    en, zh = (CATALOGUES[lang]["datasette"]["messages"] for lang in ("en", "zh"))
    assert i18n.translate_message(message, en, zh) == expected


# --- the pages, served in process ---------------------------------------------------------------------


def datasette_pages(db: Path) -> dict[str, tuple[str, int, dict[str, str]]]:
    """Datasette's page types: path, status and one label of each language that the page must show."""
    import sqlite3

    with sqlite3.connect(db) as conn:
        agency = conn.execute("select id from agencies order by id").fetchone()[0]
    words = {lang: CATALOGUES[lang]["datasette"] for lang in ("zh", "en")}

    def label(key: str) -> dict[str, str]:
        return {lang: words[lang][key] for lang in words}

    return {
        "database": ("/kechuang", 200, label("custom_sql")),
        "table": ("/kechuang/targets_detail?_sort=id", 200, label("advanced_export")),
        "row": (f"/kechuang/agencies/{agency}", 200, label("this_data_as")),
        "query": ("/kechuang?sql=select+id+from+agencies", 200, label("run_sql")),
        "canned query": ("/kechuang/targets_due_by_year?year=2030", 200, label("edit_sql")),
        "table error": ("/kechuang/no_such_table", 404, {k: v["table_not_found"] for k, v in _messages().items()}),
        # an address that names no page: the site's 404 (kechuang.serve.site.error_pages), not "Database not found"
        "unknown address": ("/no-such-page", 404, {k: v["errors"]["titles"]["404"] for k, v in CATALOGUES.items()}),
        "bad sort": (
            "/kechuang/agencies?_sort=nope",
            400,
            {k: v["cannot_sort"].format(column="nope") for k, v in _messages().items()},
        ),
        "search": ("/-/search?q=x", 200, {k: v["button"] for k, v in _search().items()}),
    }


def _messages() -> dict[str, dict[str, str]]:
    return {lang: CATALOGUES[lang]["datasette"]["messages"] for lang in ("zh", "en")}


def _search() -> dict[str, dict[str, str]]:
    return {lang: CATALOGUES[lang]["search_page"] for lang in ("zh", "en")}


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_datasettes_pages_speak_and_declare_the_readers_language(sample_portal: InProcessPortal, lang):
    other = "en" if lang == "zh" else "zh"
    for name, (path, status, labels) in datasette_pages(sample_portal.db).items():
        # the cookie decides here (the toggle sets it); Accept-Language asks for the other language
        response = sample_portal.get(
            path, cookies={i18n.COOKIE_NAME: lang}, headers={"Accept-Language": other, "Accept": "text/html"}
        )
        assert response.status_code == status, f"{name}: {response.status_code}"
        body = response.text
        assert re.search(r'<html lang="([^"]+)"', body).group(1) == HTML_LANG[lang], name
        assert labels[lang] in body, f"{name} lacks {labels[lang]!r}"
        assert labels[other] not in body, f"{name} shows {labels[other]!r} to a {lang} reader"


def test_the_rows_shown_are_described_in_the_readers_language(sample_portal: InProcessPortal):
    """Datasette words the filters and sort in English (human_description_en); Chinese readers get them
    from the catalogue."""
    path = "/kechuang/targets?deadline_year__gte=2000&status=stated&_sort_desc=id"
    zh = sample_portal.get(path, cookies={i18n.COOKIE_NAME: "zh"}).text
    words = CATALOGUES["zh"]["datasette"]
    conditions = [
        words["described"]["condition"].format(column="deadline_year", operator=words["lookups"]["gte"], value=2000),
        words["described"]["condition"].format(column="status", operator=words["lookups"]["exact"], value="stated"),
    ]
    expected = "；".join(
        [
            words["described"]["where"].format(conditions="，".join(conditions)),
            words["described"]["sorted_desc"].format(column="id"),
        ]
    )
    assert expected in zh
    en = html.unescape(sample_portal.get(path, cookies={i18n.COOKIE_NAME: "en"}).text)
    assert 'where deadline_year ≥ 2000 and status = "stated" sorted by id descending' in en
