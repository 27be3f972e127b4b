"""The about and methodology pages: Markdown in `site/pages/<name>.<lang>.md`, rendered with markdown-it-py.

Raw HTML in the Markdown is not passed through (it is escaped), so the pages need no trust beyond the
Markdown syntax itself.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from pathlib import Path

from markdown_it import MarkdownIt
from markupsafe import Markup

PAGES = ("about", "methodology")


@dataclass(frozen=True)
class MarkdownPage:
    title: str
    body: Markup


@functools.cache
def _parser() -> MarkdownIt:
    return MarkdownIt("commonmark", {"html": False, "linkify": False, "typographer": False}).enable("table")


@functools.cache
def _render(path: str, stamp: float) -> MarkdownPage:
    text = Path(path).read_text(encoding="utf-8")
    title = ""
    lines = text.splitlines()
    if lines and lines[0].startswith("# "):
        title, text = lines[0][2:].strip(), "\n".join(lines[1:])
    # markdown-it escapes every character of the source it does not turn into markup (html is off)
    return MarkdownPage(title=title, body=Markup(_parser().render(text)))


def page_path(pages_dir: Path, name: str, lang: str) -> Path:
    return pages_dir / f"{name}.{lang}.md"


def render_page(pages_dir: Path, name: str, lang: str) -> MarkdownPage | None:
    """The page in `lang`, or None when it does not exist."""
    if name not in PAGES:
        return None
    path = page_path(pages_dir, name, lang)
    if not path.is_file():
        return None
    return _render(str(path), path.stat().st_mtime)
