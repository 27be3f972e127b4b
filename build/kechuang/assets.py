"""Where the files that serving needs besides Python code are: templates, static files, i18n catalogues,
Markdown pages, the Datasette plugins and the nginx template.

An installed wheel carries them in the package, under `kechuang/_assets/` (pyproject.toml maps the
checkout's site/, plugins/ and deploy/ there, in the same layout). An editable install or a plain
checkout has no such folder and reads them from the top of the source tree. Serving code asks here and
never the `Project`: a project says where the data is, not where the code's own files are.
"""

from __future__ import annotations

from pathlib import Path

PACKAGED = Path(__file__).resolve().parent / "_assets"
SOURCE_TREE = Path(__file__).resolve().parents[2]

ROOT = PACKAGED if PACKAGED.is_dir() else SOURCE_TREE
"""The folder holding site/, plugins/ and deploy/: the wheel's `_assets`, else the checkout."""

SITE = ROOT / "site"
TEMPLATES = SITE / "templates"
STATIC = SITE / "static"
I18N = SITE / "i18n"
PAGES = SITE / "pages"
PLUGINS = ROOT / "plugins"
NGINX_TEMPLATE = ROOT / "deploy" / "nginx.conf.template"


def packaged() -> bool:
    """True when the assets come from an installed wheel rather than a source tree."""
    return ROOT == PACKAGED
