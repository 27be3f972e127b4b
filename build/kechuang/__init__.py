"""Kechuang: the pipeline that turns curated policy tables into a published portal.

Data flows one way, one folder per stage (the import contracts in pyproject.toml check it):
datasets/ + schemas/ → `model` → `validate` → `compile` → `index` (run together by `pipeline`)
→ `release`. `serve` knows only a built database (its `_meta`) and this package; `operations` runs
it (Datasette's command line, nginx and workers); `text` holds the helpers every stage shares.
"""

__version__ = "0.1.0"
