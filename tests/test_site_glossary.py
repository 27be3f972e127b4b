"""The glossary's pages: every term at /glossary, and each term at /glossary/<id> in both languages with its
other forms, its meaning and the records that use it (linked to their pages), in process on the real data."""

from __future__ import annotations

import re

import pytest
from api_support import db_records

from kechuang.model.search import RECORDS


def listed(html: str) -> list[str]:
    """The links of the "records that use this term" section."""
    start = html.index('id="uses-title"')
    return [href.replace("&amp;", "&") for href in re.findall(r'<li><a href="([^"]+)">', html[start : html.index("</section>", start)])]


def texts_by_page(db) -> dict[str, str]:
    """Each record's page → its texts in both languages, as the search index stores them."""
    columns = ("title_zh", "quote_zh", "body_zh", "title_en", "quote_en", "body_en")
    return {
        r["page_url"]: " ".join(r[c] or "" for c in columns)
        for r in db_records(db, f"select * from [{RECORDS}] where type != 'glossary'")
    }



@pytest.mark.parametrize("lang", ["zh", "en"])
def test_the_glossary_lists_every_term_linked_to_its_page(portal, lang):
    html = portal.get("/glossary", cookies={"kechuang_lang": lang}).text
    ids = re.findall(r'<li data-term="([^"]+)"><a href="/glossary/\1">', html)
    assert sorted(ids) == sorted(r["id"] for r in db_records(portal.db, "select id from glossary"))
    assert ("<title>术语表 · " if lang == "zh" else "<title>Glossary · ") in html


def test_a_term_page_shows_both_languages_its_forms_and_the_records_that_use_it(portal):
    term = db_records(portal.db, "select * from glossary where id = 'artificial-intelligence'")[0]
    html = portal.get("/glossary/artificial-intelligence", cookies={"kechuang_lang": "en"}).text
    assert f'<dd lang="zh-Hans">{term["term_zh"]}</dd>' in html and f'<dd lang="en">{term["term_en"]}</dd>' in html
    assert '<span lang="en">AI</span>' in html  # an alias
    links = listed(html)
    # every target whose sentence names the term (in Chinese or by its English forms) is listed, at its page
    using = db_records(portal.db, "select id from targets where quote_zh like '%人工智能%' or name_zh like '%人工智能%'")
    assert using and {f"/targets/{r['id']}" for r in using} <= set(links)
    # and every listed record's text holds one of the term's forms
    texts = texts_by_page(portal.db)
    for href in links:
        assert "人工智能" in texts[href] or re.search(r"\b(artificial intelligence|AI)\b", texts[href], re.I), href
    assert portal.get(links[0]).status_code == 200


def test_a_short_english_form_matches_whole_words_only(portal):
    """IP (intellectual property) is not found inside "ship" or "IPO"."""
    html = portal.get("/glossary/intellectual-property", cookies={"kechuang_lang": "en"}).text
    links, texts = listed(html), texts_by_page(portal.db)
    assert links
    for href in links:
        assert "知识产权" in texts[href] or re.search(r"\b(intellectual property|IP)\b", texts[href], re.I), href


def test_an_unknown_term_is_a_404(portal):
    response = portal.get("/glossary/no-such-term")
    assert response.status_code == 404
