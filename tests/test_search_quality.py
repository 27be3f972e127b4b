"""Search quality on judged queries: our /api/v1/search beside stock Datasette full-text search.

The judged queries are in tests/search_judgements.yaml. In the same run, the same records are put in
one table with sqlite-utils' `enable_fts` (FTS5, default tokenizer) and searched with Datasette's own
`?_search=` on a plain Datasette. Both are reported (recall@10 and MRR, by kind of query); the test
fails if our recall@10 is below 0.90.

The questions in tests/search_questions.yaml are what people ask ("how many high-tech enterprises will
Huangshi have by 2030"); they are measured the same way, by whether an answer comes first (success@1),
among the first three (success@3) and by MRR@10, for both engines.
"""

from __future__ import annotations

import subprocess
import sys
from collections import defaultdict
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest
import yaml
from sqlite_utils import Database
from stock_search import make_stock_db

from conftest import ROOT, Portal, free_port, wait_until_up
from kechuang.model.search import RECORDS

pytestmark = pytest.mark.slow

JUDGEMENTS = yaml.safe_load((ROOT / "tests" / "search_judgements.yaml").read_text(encoding="utf-8"))
QUESTIONS = yaml.safe_load((ROOT / "tests" / "search_questions.yaml").read_text(encoding="utf-8"))
SCRIPTS = ("simplified", "traditional", "pinyin", "english")
DOCUMENTS = ("000", "001", "002", "003", "004")
MIN_SUCCESS_AT_1 = 0.75
MIN_SUCCESS_AT_3 = 0.90
KINDS = ("zh-word", "zh-phrase", "en", "traditional", "pinyin", "mixed", "cross-lingual")
MIN_RECALL = 0.90


def test_judgements_cover_every_kind_of_query():
    assert len(JUDGEMENTS) >= 60
    kinds = defaultdict(int)
    for judgement in JUDGEMENTS:
        assert set(judgement) == {"q", "kind", "want"}, judgement
        assert judgement["kind"] in KINDS and judgement["want"], judgement
        kinds[judgement["kind"]] += 1
    assert all(kinds[k] >= 5 for k in KINDS), dict(kinds)
    assert len({j["q"] for j in JUDGEMENTS}) == len(JUDGEMENTS)


def test_questions_cover_languages_documents_and_types(built_db: Path):
    """At least 80 questions, half Chinese (simplified, traditional, pinyin) half English, over every
    document and every searchable record type."""
    assert len(QUESTIONS) >= 80
    for question in QUESTIONS:
        assert set(question) == {"q", "script", "document", "want"}, question
        assert question["script"] in SCRIPTS and question["want"], question
        assert question["document"] in (*DOCUMENTS, "none"), question
    scripts = defaultdict(int)
    for question in QUESTIONS:
        scripts[question["script"]] += 1
    assert scripts["english"] * 2 == len(QUESTIONS) and scripts["traditional"] >= 5 and scripts["pinyin"] >= 5, dict(scripts)
    assert {q["document"] for q in QUESTIONS} >= set(DOCUMENTS)
    types = {key.partition("/")[0] for q in QUESTIONS for key in q["want"]}
    searchable = {row[0] for row in Database(built_db).execute(f"select distinct type from [{RECORDS}]")}
    assert types == searchable, searchable - types
    assert len({q["q"] for q in QUESTIONS}) == len(QUESTIONS)


def test_judged_records_exist(built_db: Path):
    db = Database(built_db)
    missing = []
    for judgement in [*JUDGEMENTS, *QUESTIONS]:
        for key in judgement["want"]:
            table, _, record_id = key.partition("/")
            if not db.execute(f"select 1 from [{RECORDS}] where type = ? and id = ?", [table, record_id]).fetchone():
                missing.append((judgement["q"], key))
    assert not missing, "judged records not in the data (renamed?): " + repr(missing)


@pytest.fixture(scope="module")
def stock_portal(built_db: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Portal]:
    """The same records in one table with Datasette's usual full-text search, served by a plain Datasette."""
    path = make_stock_db(built_db, tmp_path_factory.mktemp("stock") / "stock.db")
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "datasette", "serve", "--immutable", str(path), "--host", "127.0.0.1", "--port", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    portal = Portal(f"http://127.0.0.1:{port}", process, path)
    try:
        wait_until_up(portal.base_url + "/-/versions.json", process)
        yield portal
    finally:
        portal.stop()


def ours(portal: Portal) -> Callable[[str], list[str]]:
    def search(q: str) -> list[str]:
        response = portal.get("/api/v1/search", params={"q": q, "limit": 10})
        assert response.status_code == 200, (q, response.text)
        return [f"{r['type']}/{r['id']}" for r in response.json()["results"]]

    return search


def stock(portal: Portal) -> Callable[[str], list[str]]:
    def search(q: str) -> list[str]:
        params = {"_search": q, "_size": 10, "_shape": "objects", "_col": "title_zh"}
        response = portal.get("/stock/records.json", params=params)
        assert response.status_code == 200, (q, response.text)
        return [row["key"] for row in response.json()["rows"]]

    return search


def evaluate(search: Callable[[str], list[str]], misses: list[str] | None = None) -> dict[str, list[tuple[float, float]]]:
    """(recall@10, reciprocal rank) of every judged query, by kind; `misses` collects what was not found."""
    scores: dict[str, list[tuple[float, float]]] = defaultdict(list)
    for judgement in JUDGEMENTS:
        top = search(judgement["q"])[:10]
        wanted = set(judgement["want"])
        recall = len(wanted & set(top)) / len(wanted)
        rank = next((i for i, key in enumerate(top, 1) if key in wanted), None)
        scores[judgement["kind"]].append((recall, 1 / rank if rank else 0.0))
        if misses is not None and recall < 1:
            misses.append(f"  {judgement['q']!r} misses {sorted(wanted - set(top))}")
    return scores


def mean(values: list[float]) -> float:
    return sum(values) / len(values) if values else 0.0


def summary(scores: dict[str, list[tuple[float, float]]]) -> dict[str, tuple[float, float]]:
    table = {kind: (mean([r for r, _ in s]), mean([m for _, m in s])) for kind, s in scores.items()}
    everything = [pair for s in scores.values() for pair in s]
    table["all"] = (mean([r for r, _ in everything]), mean([m for _, m in everything]))
    return table


def test_search_quality_beats_stock_datasette(portal: Portal, stock_portal: Portal, capsys):
    misses: list[str] = []
    our_scores = summary(evaluate(ours(portal), misses))
    stock_scores = summary(evaluate(stock(stock_portal)))
    lines = [
        f"Search quality on {len(JUDGEMENTS)} judged queries (recall@10 / MRR):",
        f"{'kind':<14}{'queries':>8}  {'kechuang':>15}  {'stock Datasette':>17}",
    ]
    counts = defaultdict(int)
    for judgement in JUDGEMENTS:
        counts[judgement["kind"]] += 1
    counts["all"] = len(JUDGEMENTS)
    for kind in (*KINDS, "all"):
        (r1, m1), (r2, m2) = our_scores[kind], stock_scores.get(kind, (0.0, 0.0))
        lines.append(f"{kind:<14}{counts[kind]:>8}  {r1:6.3f} / {m1:5.3f}  {r2:8.3f} / {m2:5.3f}")
    if misses:
        lines += ["Queries where kechuang misses a judged record in its top 10:", *misses]
    with capsys.disabled():
        print("\n" + "\n".join(lines))
    assert our_scores["all"][0] >= MIN_RECALL, "\n".join(lines)
    assert our_scores["all"][0] > stock_scores["all"][0]


def answer_ranks(search: Callable[[str], list[str]], misses: list[str] | None = None) -> list[int | None]:
    """The rank (1–10) of the first judged answer of every question, None when not in the top 10."""
    ranks: list[int | None] = []
    for question in QUESTIONS:
        top = search(question["q"])[:10]
        rank = next((i for i, key in enumerate(top, 1) if key in question["want"]), None)
        ranks.append(rank)
        if misses is not None and (rank is None or rank > 1):
            misses.append(f"  {question['q']!r}: answer at {rank or '>10'}; first {top[:1]}")
    return ranks


def answer_scores(ranks: list[int | None]) -> tuple[float, float, float]:
    """success@1, success@3 and MRR@10."""
    return (
        mean([1.0 if r == 1 else 0.0 for r in ranks]),
        mean([1.0 if r and r <= 3 else 0.0 for r in ranks]),
        mean([1 / r if r else 0.0 for r in ranks]),
    )


def test_questions_answered_first(portal: Portal, stock_portal: Portal, capsys):
    """The answer to a question comes first, or near it, in both languages; stock search in the same run."""
    misses: list[str] = []
    our_ranks = answer_ranks(ours(portal), misses)
    stock_ranks = answer_ranks(stock(stock_portal))
    lines = [f"Questions answered ({len(QUESTIONS)} questions): success@1 / success@3 / MRR@10"]
    lines.append(f"{'script':<14}{'questions':>9}  {'kechuang':>20}  {'stock Datasette':>20}")
    for script in (*SCRIPTS, "all"):
        picked = [i for i, q in enumerate(QUESTIONS) if script in ("all", q["script"])]
        ours_ = answer_scores([our_ranks[i] for i in picked])
        theirs = answer_scores([stock_ranks[i] for i in picked])
        lines.append(
            f"{script:<14}{len(picked):>9}  {ours_[0]:5.3f} / {ours_[1]:5.3f} / {ours_[2]:5.3f}"
            f"  {theirs[0]:5.3f} / {theirs[1]:5.3f} / {theirs[2]:5.3f}"
        )
    if misses:
        lines += ["Questions whose answer kechuang does not rank first:", *misses]
    with capsys.disabled():
        print("\n" + "\n".join(lines))
    at_1, at_3, _mrr = answer_scores(our_ranks)
    assert at_1 >= MIN_SUCCESS_AT_1 and at_3 >= MIN_SUCCESS_AT_3, "\n".join(lines)


def test_stock_search_is_served(stock_portal: Portal):
    """The baseline really is Datasette's own full-text search (a search box on the table page)."""
    page = httpx.get(stock_portal.base_url + "/stock/records", params={"_search": "Wuhan"})
    assert page.status_code == 200 and 'name="_search"' in page.text
