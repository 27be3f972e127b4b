"""The one normaliser and the query builder: same tokens for the same meaning; any input is safe."""

from __future__ import annotations

import re
import sqlite3

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kechuang.model.search import FTS_COLUMNS
from kechuang.serve.search.query import Lexicon, parse_query
from kechuang.serve.search.service import load_search_index, run_search
from kechuang.text.normalize import analyse, fold, pinyin_tokens, query_runs, stem

TOKEN = re.compile(r"^[^\x00-\x2f\x3a-\x40\x5b-\x60\x7b-\x7f]+$")  # no ASCII punctuation, space or control


def words(text: str) -> set[str]:
    return set(analyse(text).words.split())


def grams(text: str) -> str:
    return " " + " ".join(analyse(text).grams.split()) + " "


@pytest.mark.parametrize(
    ("variant", "canonical"),
    [
        ("科學城", "科学城"),  # traditional
        ("技術經理人", "技术经理人"),
        ("ＡＩ人工智能", "ai人工智能"),  # full-width Latin
        ("２０２６年", "2026年"),  # full-width digits
        ("TECHNOLOGY Transfer", "technology transfer"),  # case
    ],
)
def test_variants_fold_to_the_same_text(variant, canonical):
    assert fold(variant) == fold(canonical)
    assert analyse(variant) == analyse(canonical)


@pytest.mark.parametrize(
    ("one", "other"),
    [("centres", "center"), ("technologies", "technology"), ("organization", "organisations"), ("managers", "manager")],
)
def test_english_inflections_and_spellings_share_a_stem(one, other):
    assert stem(fold(one)) == stem(fold(other))


def test_chinese_text_is_indexed_as_words_and_as_bigrams():
    tokens = analyse("高标准建设东湖科学城")
    assert {"东湖", "科学城", "建设"} <= set(tokens.words.split())
    # every two-character stretch is a bigram token, so an unsegmented word is still found
    text = "高标准建设东湖科学城"
    for i in range(len(text) - 1):
        assert f" {text[i : i + 2]} " in grams(text)


def test_bigrams_do_not_cross_punctuation():
    assert " 汉科 " not in grams("武汉，科技")


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("东湖科学城", {"donghu", "kexuecheng", "donghukexuecheng", "dong", "hu", "ke", "xue", "cheng"}),
        ("光谷", {"guanggu", "guang", "gu"}),
        ("武汉市", {"wuhan", "wuhanshi"}),
    ],
)
def test_names_carry_their_pinyin(name, expected):
    assert {stem(t) for t in expected} <= set(pinyin_tokens(name).split())


def test_query_runs_split_scripts():
    runs = query_runs("光谷 AI产业 Technology")
    assert [(r.script, r.text) for r in runs] == [("zh", "光谷"), ("latin", "ai"), ("zh", "产业"), ("latin", "technology")]


@given(st.text(max_size=300))
@settings(max_examples=300, deadline=None)
def test_analyse_never_raises_and_emits_plain_tokens(text):
    tokens = analyse(text)
    for token in (tokens.words + " " + tokens.grams + " " + pinyin_tokens(text)).split():
        assert TOKEN.match(token), token


@pytest.fixture(scope="module")
def fts() -> sqlite3.Connection:
    conn = sqlite3.connect(":memory:")
    conn.execute(f"create virtual table search_index using fts5({', '.join(FTS_COLUMNS)}, content='', tokenize='ascii')")
    row = [analyse("东湖科学城 人才 technology transfer \"quoted\" (x) 3000亿元").words] * len(FTS_COLUMNS)
    marks = ", ".join("?" for _ in FTS_COLUMNS)
    conn.execute(f"insert into search_index (rowid, {', '.join(FTS_COLUMNS)}) values (1, {marks})", row)
    return conn


LEXICON = Lexicon.from_rows(
    [
        (1, "zh", "揭榜挂帅", "揭榜挂帅", "揭榜挂帅"),
        (1, "en", "open competition mechanism", "open competit mechan", "open competit mechan"),
        (1, "py", "揭榜", "jiebang", "揭榜"),
        (2, "zh", "光谷", "光谷", "光谷"),
        (2, "en", "Optics Valley", "optic valley", "optic valley"),
        (2, "py", "光谷", "guanggu", "光谷"),
    ]
)

FTS_SYNTAX = st.sampled_from(
    ['"', "'", "(", ")", "*", "^", "-", "+", ":", "{", "}", "AND", "OR", "NOT", "NEAR", "NEAR(", ",", " ", "title"]
)


@given(st.lists(st.one_of(FTS_SYNTAX, st.text(max_size=8)), max_size=30).map("".join))
@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_every_query_builds_expressions_fts5_accepts(fts, text):
    parsed = parse_query(text, LEXICON)
    if parsed.is_empty:
        return
    for expression in (parsed.match_any(), parsed.match_all(), parsed.match_phrase(), parsed.match_title()):
        if expression:
            fts.execute("select rowid from search_index where search_index match ?", [expression]).fetchall()


@pytest.mark.parametrize(
    ("query", "alternative"),
    [
        ("open competition mechanism", "揭榜挂帅"),
        ("揭榜挂帅", "open competit mechan"),
        ("guanggu", "optic valley"),
        ("Optics Valley", "光谷"),
    ],
)
def test_glossary_terms_expand_across_languages(query, alternative):
    parsed = parse_query(query, LEXICON)
    tokens = {" ".join(a.tokens) for u in parsed.units for a in u.alternatives}
    assert alternative in tokens


def test_punctuation_alone_is_an_empty_query():
    assert parse_query("“”（）……*^-", LEXICON).is_empty


@pytest.fixture(scope="module")
def real_index(built_db):
    conn = sqlite3.connect(built_db)
    yield conn, load_search_index(conn)
    conn.close()


@given(st.lists(st.one_of(FTS_SYNTAX, st.text(max_size=6), st.sampled_from(["人才", "光谷", "guanggu", "technology"])), max_size=20).map("".join))
@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_every_query_runs_on_the_real_index(real_index, text):
    """Parsing, every boost query, ranking and snippets on the real database: no input raises."""
    conn, index = real_index
    result = run_search(conn, text, index, limit=5, html_titles=True)
    assert result.total >= len(result.results)
    for row in result.results:
        for key in ("snippet_zh", "snippet_en", "title_zh_html", "title_en_html"):
            assert "<" not in row[key].replace("<mark>", "").replace("</mark>", ""), row[key]


# --- reading a question (serve/search/intent.py) on the real data's places, years and units ---------------


@pytest.mark.parametrize(
    ("q", "places", "years", "units", "searched"),
    [
        ("黄石规上高新技术企业要达到多少家", {"huangshi"}, set(), {"count"}, ["规上", "高新技术企业"]),
        ("黃石規上高新技術企業要達到多少家", {"huangshi"}, set(), {"count"}, ["规上", "高新技术企业"]),
        ("Huangshi above-scale high-tech enterprises 2030", {"huangshi"}, {2030}, set(), None),
        ("huangshi gaoxin jishu qiye", {"huangshi"}, set(), set(), ["gaoxin jishu qiye"]),
        ("到2030年武汉技术合同成交额", {"wuhan"}, {2030}, set(), ["技术合同成交额"]),
        ("how much money will Wuhan put into angel funds", {"wuhan"}, set(), {"CNY"}, None),
        ("Wuchang District share of GDP by 2026", {"wuchang"}, {2026}, {"percent"}, None),
        ("武昌今年净增多少家高新技术企业", {"wuchang"}, set(), {"count"}, None),  # 今年 is never made a year
    ],
)
def test_a_question_is_read_for_places_years_and_the_figure_asked(real_index, q, places, years, units, searched):
    _conn, index = real_index
    parsed = parse_query(q, index.lexicon)
    assert parsed.intent.places == places and parsed.intent.years == years and parsed.intent.units == units
    texts = [u.text for u in parsed.units]
    assert not {"要", "达到", "多少", "will", "how", "wuhan", "huangshi", "2030"} & set(texts), texts
    if searched is not None:
        assert texts == searched
    if "今年" in q:
        assert "今年" in texts


@pytest.mark.parametrize("q", ["Hongshan District", "2026", "多少", "黄石"])
def test_a_place_year_or_question_word_alone_is_searched_as_typed(real_index, q):
    _conn, index = real_index
    parsed = parse_query(q, index.lexicon)
    assert parsed.intent.is_empty and parsed.units and parsed.word_alone


# --- fields weighted by role (x_search in the schemas; rank.COLUMN_WEIGHTS) ---------------------------------


def test_the_same_words_rank_by_the_role_of_the_field_they_are_in(tmp_path):
    """name > figure > quote > notes: four records, each with the same words in one role only."""
    from sqlite_utils import Database

    from kechuang.index.search import create_tables, insert_records
    from kechuang.model.search import SearchRecord, shard_names
    from kechuang.serve.search.rank import rank_matches

    db = Database(tmp_path / "roles.db")
    create_tables(db)
    text = "技术合同成交额 3000亿元 technology contract turnover"
    roles = ["body", "quote", "figure", "name"]  # inserted weakest first: rowid order must not decide
    records = [SearchRecord("targets", role, f"/targets/{role}", parts={f"{role}_zh": [text]}) for role in roles]
    insert_records(db, records)
    ranked = rank_matches(db.conn, parse_query(text), shard_names(db.conn), contextual=False)
    assert [h.rowid for h in ranked.hits] == [4, 3, 2, 1]
