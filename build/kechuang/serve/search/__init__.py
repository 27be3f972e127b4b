"""Bilingual search: one index over every record, one normaliser for index and query (see README, Search)."""
