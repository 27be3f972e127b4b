"""Kechuang: the pipeline that turns curated policy tables into a published portal.

Data flows one way: datasets/ → validate → compile → index → serve → release.
"""

__version__ = "0.1.0"
