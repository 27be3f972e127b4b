"""Docs that cannot drift: generated sections match the code and schemas, the README stays short enough
to be read to the end, and every relative link in the README and docs/ leads to a file that exists."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import ROOT

README = ROOT / "README.md"
README_LIMIT = 12_000  # bytes

COG_START = "[[[cog"
FENCE = re.compile(r"^ {0,3}(```|~~~).*?^ {0,3}\1[^\n]*$", re.S | re.M)
INLINE_CODE = re.compile(r"(`+)(?!`).+?(?<!`)\1", re.S)
INLINE_LINK = re.compile(r"!?\[(?:[^\[\]]|\[[^\]]*\])*\]\(\s*<?([^)\s>]+)>?(?:\s+[\"'(][^)]*)?\)")
REFERENCE_DEF = re.compile(r"^ {0,3}\[[^\]]+\]:\s*<?(\S+?)>?(?:\s.*)?$", re.M)
HTML_LINK = re.compile(r"""<(?:a|img)\s[^>]*?(?:href|src)\s*=\s*["']([^"']+)["']""", re.I)
SCHEME = re.compile(r"^[a-zA-Z][a-zA-Z0-9+.-]*:")


def docs_files() -> list[Path]:
    """README.md and every Markdown file under docs/."""
    return [README, *sorted((ROOT / "docs").rglob("*.md"))]


def cog_files() -> list[Path]:
    """The files among them that hold cog blocks, discovered rather than listed."""
    return [path for path in docs_files() if COG_START in path.read_text(encoding="utf-8")]


def relative_links(text: str) -> list[str]:
    """Targets of the Markdown and HTML links in `text` that point into the repository: not a URL with a
    scheme, not a site path starting with `/`, not a bare `#anchor`. Code blocks and code spans are prose
    about links, not links, so they are left out."""
    prose = INLINE_CODE.sub("", FENCE.sub("", text))
    found = INLINE_LINK.findall(prose) + REFERENCE_DEF.findall(prose) + HTML_LINK.findall(prose)
    return [t for t in found if not SCHEME.match(t) and not t.startswith(("/", "#"))]


def github_anchors(text: str) -> set[str]:
    """The anchors GitHub gives the headings of a Markdown file (lower case, punctuation dropped, spaces
    to hyphens, `-1`, `-2`… for repeats)."""
    anchors: set[str] = set()
    for heading in re.findall(r"^#{1,6}[ \t]+(.+?)[ \t#]*$", FENCE.sub("", text), re.M):
        slug = re.sub(r"[^\w\- ]", "", heading.replace("`", "").strip().lower()).replace(" ", "-")
        candidate, n = slug, 0
        while candidate in anchors:
            n += 1
            candidate = f"{slug}-{n}"
        anchors.add(candidate)
    return anchors


def broken_links(path: Path, root: Path = ROOT) -> list[str]:
    """Links of `path` to a file that does not exist, or to a heading a Markdown file does not have."""
    problems = []
    for target in relative_links(path.read_text(encoding="utf-8")):
        file_part, _, anchor = target.partition("#")
        resolved = (path.parent / file_part).resolve()
        if not resolved.exists():
            problems.append(f"{path.relative_to(root)}: {target} (no such file)")
        elif anchor and resolved.suffix == ".md" and anchor not in github_anchors(resolved.read_text("utf-8")):
            problems.append(f"{path.relative_to(root)}: {target} (no heading with that anchor)")
    return problems


@pytest.mark.parametrize("path", cog_files(), ids=lambda p: str(p.relative_to(ROOT)))
def test_generated_sections_are_current(path):
    relative = str(path.relative_to(ROOT))
    done = subprocess.run(
        [sys.executable, "-m", "cogapp", "--check", relative], cwd=ROOT, capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, f"{relative} is stale: run `cog -r {relative}`\n" + done.stdout + done.stderr


def test_cog_discovery_finds_the_generated_reference():
    found = {str(p.relative_to(ROOT)) for p in cog_files()}
    assert "docs/data-model.md" in found, found
    assert all(path == README or path.is_relative_to(ROOT / "docs") for path in cog_files())


def test_readme_is_short_enough_to_read_to_the_end():
    size = README.stat().st_size
    assert size < README_LIMIT, f"README.md is {size:,} bytes; keep it under {README_LIMIT:,} (move reference to docs/)"


def test_relative_links_point_to_existing_files():
    problems = [problem for path in docs_files() for problem in broken_links(path)]
    assert not problems, "broken links:\n" + "\n".join(problems)


def test_readme_links_every_reference_doc():
    linked = {(ROOT / t.partition("#")[0]).resolve() for t in relative_links(README.read_text(encoding="utf-8"))}
    reference = sorted((ROOT / "docs").glob("*.md"))
    assert reference, "docs/ holds no reference pages"
    missing = [str(p.relative_to(ROOT)) for p in reference if p.resolve() not in linked]
    assert not missing, f"README.md does not link to {missing}"


def test_link_checker_sees_and_judges_links(tmp_path):
    page = tmp_path / "page.md"
    (tmp_path / "there.md").write_text("# A heading · 标题\n\n## `code` and more\n", encoding="utf-8")
    page.write_text(
        "[ok](there.md) [anchor](there.md#a-heading--标题) [code anchor](there.md#code-and-more)\n"
        "[gone](missing.md) [bad anchor](there.md#nowhere) ![img](img.png)\n"
        "[web](https://example.org/x.md) [site](/api/v1/targets) [here](#top) `[code](not-a-link.md)`\n"
        "```\n[fenced](also-not-a-link.md)\n```\n"
        "[ref]: ref-target.md\n",
        encoding="utf-8",
    )
    assert relative_links(page.read_text(encoding="utf-8")) == [
        "there.md",
        "there.md#a-heading--标题",
        "there.md#code-and-more",
        "missing.md",
        "there.md#nowhere",
        "img.png",
        "ref-target.md",
    ]
    assert broken_links(page, root=tmp_path) == [
        "page.md: missing.md (no such file)",
        "page.md: there.md#nowhere (no heading with that anchor)",
        "page.md: img.png (no such file)",
        "page.md: ref-target.md (no such file)",
    ]
