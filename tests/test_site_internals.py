"""Nothing internal ever reaches a page: every page type of the site, Datasette's pages and the error pages,
in both languages, must show no trace of Python or Jinja (`<built-in method …>`, `object at 0x…`,
`Undefined`, a bare `None`, Markdown backticks left unrendered).

The site's own pages render with Jinja's StrictUndefined (a missing variable fails the render instead of
printing nothing). Datasette's pages (our overrides of its templates) test optional metadata the way
upstream does, `{% if metadata.title %}`, which StrictUndefined refuses; they render with DebugUndefined,
which lets tests pass but prints `{{ name }}` for any missing variable that reaches the page."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from jinja2 import DebugUndefined, StrictUndefined, Undefined
from site_support import first
from site_support import page_types as site_page_types

from conftest import InProcessPortal, in_process_datasette

INTERNALS = [
    re.compile(r"<built-in (method|function)|&lt;built-in (method|function)"),
    re.compile(r"<bound method|&lt;bound method"),
    re.compile(r"object at 0x[0-9a-f]+"),
    re.compile(r"\bUndefined\b"),
    re.compile(r">\s*None\s*<|\bNone\s*·|·\s*None\b|=\"None\""),
    re.compile(r"`[^`<>\n]{1,80}`"),  # Markdown code spans left as text
    re.compile(r"\{\{ ?[\w.]+ ?\}\}"),  # what DebugUndefined prints for a missing variable
]


def portal_with(db: Path, undefined: type[Undefined]) -> InProcessPortal:
    """A Datasette of its own for `db` (the shared one stays as served) whose templates treat a variable
    they do not receive with `undefined`."""
    datasette = in_process_datasette(db)
    datasette.jinja_env.undefined = undefined
    return InProcessPortal(datasette, db)


@pytest.fixture(scope="module")
def strict(built_db: Path) -> Iterator[InProcessPortal]:
    portal = portal_with(built_db, StrictUndefined)
    yield portal
    portal.stop()


@pytest.fixture(scope="module")
def debug(built_db: Path) -> Iterator[InProcessPortal]:
    portal = portal_with(built_db, DebugUndefined)
    yield portal
    portal.stop()


def site_pages(db: Path) -> dict[str, tuple[str, int]]:
    """One URL per page type of the site (its routes and error pages) and the status it answers."""
    return {
        **{name: (path, 200) for name, path in site_page_types(db).items()},
        "targets filtered": (
            "/targets?year=" + str(first(db, "select deadline_year from targets where deadline_year is not null")),
            200,
        ),
        "targets keyword": ("/targets?q=" + first(db, "select name_zh from indicators order by id") + "&sort=place", 200),
        "targets empty": ("/targets?q=zzqqxxjj&status=stated", 200),
        "search results": ("/-/search?q=" + first(db, "select name_zh from indicators order by id"), 200),
        "search empty": ("/-/search?q=zzqqxxjj", 200),
        "search error": ("/-/search?q=x&type=nope", 400),
        "not found": ("/targets/no-such-id", 404),
        "bad filter": ("/targets?year=abc", 400),
    }


def datasette_pages(db: Path) -> dict[str, tuple[str, int]]:
    """One URL per page type of Datasette's (with our templates and chrome) and the status it answers."""
    return {
        "datasette database": ("/kechuang", 200),
        "datasette table": ("/kechuang/targets_detail?_sort=id", 200),
        "datasette row": ("/kechuang/agencies/" + first(db, "select id from agencies order by id"), 200),
        "datasette query": ("/kechuang?sql=select+id+from+agencies", 200),
        "datasette canned query": ("/kechuang/targets_due_by_year?year=2030", 200),
        "datasette table error": ("/kechuang/no_such_table", 404),
        "datasette database error": ("/no-such-page", 404),
        "datasette bad sort": ("/kechuang/agencies?_sort=nope", 400),
        "search": ("/-/search?q=x", 200),
    }


def visible(html: str) -> str:
    """The page without the parts that legitimately hold code: <pre>, <code>, <textarea>, <script>, <style>
    and comments (SQL and identifiers are shown there on purpose)."""
    return re.sub(r"(?s)<(pre|code|textarea|script|style)\b.*?</\1>|<!--.*?-->", "", html)


def internals(portal: InProcessPortal, pages: dict[str, tuple[str, int]], lang: str) -> list[str]:
    problems = []
    for name, (path, status) in pages.items():
        response = portal.get(path, cookies={"kechuang_lang": lang}, headers={"Accept": "text/html"})
        assert response.status_code == status, f"{name} {path}: {response.status_code}\n{response.text[:2000]}"
        text = visible(response.text)
        for pattern in INTERNALS:
            if found := pattern.search(text):
                problems.append(f"{name} {path}: {text[max(0, found.start() - 80) : found.end() + 80]!r}")
    return problems


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_no_site_page_shows_python_or_jinja_internals(strict: InProcessPortal, lang):
    problems = internals(strict, site_pages(strict.db), lang)
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_no_datasette_page_shows_python_or_jinja_internals(debug: InProcessPortal, lang):
    problems = internals(debug, datasette_pages(debug.db), lang)
    assert not problems, "\n".join(problems)


def test_strict_templates_fail_on_a_missing_variable(strict: InProcessPortal):
    """The switch works: StrictUndefined is what renders these pages."""
    template = strict.datasette.jinja_env.from_string("{{ nothing.here }}")
    with pytest.raises(Exception, match="undefined"):
        template.render()
