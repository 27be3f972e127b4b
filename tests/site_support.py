"""The site's page types, one address each with ids from the served database, for the tests that walk
every page type (internals, axe, browsers, page checks): written once, so a new page type is added once."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any


def first(db: Path, sql: str, *params: Any) -> Any:
    """The first column of the first row of `sql`; the curated data must give one."""
    with sqlite3.connect(db) as conn:
        row = conn.execute(sql, params).fetchone()
    assert row, f"the data should give a row for: {sql}"
    return row[0]


def page_types(db: Path) -> dict[str, str]:
    """One URL per page type of the site. Record pages are the largest of their kind (most targets,
    measures, commitments), so layout checks see the longest page."""
    return {
        "home": "/",
        "targets": "/targets",
        "target": "/targets/" + first(db, "select id from targets order by deadline_year desc, id"),
        "policies": "/policies",
        "policy": "/policies/" + first(db, "select policy_id from targets group by 1 order by count(*) desc, 1"),
        "indicators": "/indicators",
        "indicator": "/indicators/"
        + first(
            db, "select indicator_id from targets where indicator_id is not null group by 1 order by count(*) desc, 1"
        ),
        "agencies": "/agencies",
        "agency": "/agencies/"
        + first(db, "select agency_id from measure_agencies group by 1 order by count(*) desc, 1"),
        "platforms": "/platforms",
        "platform": "/platforms/" + first(db, "select platform_id from platform_mentions order by 1"),
        "funds": "/funds",
        "fund": "/funds/" + first(db, "select fund_id from fund_mentions order by 1"),
        "events": "/events",
        "event": "/events/" + first(db, "select event_id from event_mentions order by 1"),
        "about": "/about",
        "methodology": "/methodology",
        "dictionary": "/data-dictionary",
        "downloads": "/downloads",
        "glossary": "/glossary",
        "glossary term": "/glossary/" + first(db, "select id from glossary where aliases_en != '' order by id"),
        "api docs": "/api/v1/docs",
    }
