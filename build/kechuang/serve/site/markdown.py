"""The about and methodology pages: Markdown in `site/pages/<name>.<lang>.md`, rendered with markdown-it-py.

Raw HTML in the Markdown is not passed through (it is escaped), so the pages need no trust beyond the
Markdown syntax itself.
"""

from __future__ import annotations

import functools
import re
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


@functools.cache
def _code_spans() -> MarkdownIt:
    return MarkdownIt("zero").enable("backticks")


def inline_code(text: str | None) -> Markup | str | None:
    """A schema description with its Markdown code spans (`wuhan`) as <code>, the rest escaped: the
    descriptions are written for the docs too, and a reader should not see the backticks."""
    if not text:
        return text
    return Markup(_code_spans().renderInline(str(text)))


def without_code_marks(text: str | None) -> str | None:
    """The description as plain text (for attributes and titles): code spans without their backticks."""
    if not text:
        return text
    return re.sub(r"`([^`\n]*)`", r"\1", str(text))
