"""`kechuang validate`: every rule fails on a crafted bad table with a clear, located message and exit 1."""

from __future__ import annotations

import csv
import hashlib
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import CliRunner

from kechuang.cli import cli

POLICY = "wuhan-2024-sci-edu-talent-opinions"
SOURCE = "sources/000_c1172582d7c842e4.txt"


def append_row(path: Path, values: dict[str, str]) -> int:
    """Append a row (missing columns empty) and return its line number."""
    with path.open(encoding="utf-8", newline="") as f:
        reader = csv.reader(f)
        header = next(reader)
        lines = 1 + sum(1 for _ in reader)
    with path.open("a", encoding="utf-8", newline="") as f:
        csv.writer(f, lineterminator="\n").writerow([values.get(name, "") for name in header])
    return lines + 1


def goal_paragraph(datasets: Path) -> str:
    text = (datasets / SOURCE).read_text(encoding="utf-8")
    return next(line for line in text.splitlines() if line.startswith("到2026年"))


def good_measure(datasets: Path) -> dict[str, str]:
    return {
        "id": "zz-test-goal",
        "policy_id": POLICY,
        "kind": "goal",
        "section": "一、",
        "ordinal": "999",
        "title_zh": "总体要求",
        "title_en": "General requirements",
        "text_zh": goal_paragraph(datasets),
        "text_en": "By 2026, self-reliance in science and technology will be markedly stronger.",
    }


def good_target(datasets: Path) -> dict[str, str]:
    paragraph = goal_paragraph(datasets)
    return {
        "id": "zz-test-2026-patents",
        "policy_id": POLICY,
        "measure_id": "zz-test-goal",
        "indicator_id": "high-value-invention-patents-per-10k-people",
        "name_zh": "每万人口高价值发明专利拥有量",
        "name_en": "High-value invention patents per 10,000 people",
        "quote_zh": paragraph[: paragraph.index(";") + 1],
        "quote_en": "By 2026, high-value invention patents per 10,000 people will reach 45.",
        "figure_zh": "45件",
        "comparator": "reach",
        "value": "45",
        "unit_zh": "件",
        "unit_en": "patents",
        "deadline_year": "2026",
        "deadline_basis": "stated",
        "period": "by_deadline",
        "status": "stated",
    }


def validate(datasets: Path):
    return CliRunner().invoke(cli, ["validate", "--datasets", str(datasets)])


def folder_digest(folder: Path) -> str:
    digest = hashlib.sha256()
    for path in sorted(folder.rglob("*")):
        digest.update(str(path.relative_to(folder)).encode())
        if path.is_file():
            digest.update(path.read_bytes())
    return digest.hexdigest()


@pytest.fixture(scope="module")
def crafted_once(sample, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The test sample plus one known-good measure and target: valid, checked once."""
    datasets = tmp_path_factory.mktemp("crafted") / "datasets"
    shutil.copytree(sample.datasets, datasets)
    append_row(datasets / "measures.csv", good_measure(datasets))
    append_row(datasets / "targets.csv", good_target(datasets))
    result = validate(datasets)
    assert result.exit_code == 0, result.output
    return datasets


@pytest.fixture
def crafted(crafted_once: Path, tmp_path: Path) -> Path:
    """A private copy of the crafted datasets, which each case then breaks."""
    datasets = tmp_path / "datasets"
    shutil.copytree(crafted_once, datasets)
    return datasets


def test_real_datasets_are_valid(project):
    result = validate(project.datasets)
    assert result.exit_code == 0, result.output
    assert "All tables valid." in result.output


TARGET_CASES: list[tuple[str, dict[str, str], str, str]] = [
    ("not a number", {"value": "三千"}, "value", '"三千" is not a number'),
    ("bad slug", {"id": "Bad_Id"}, "id", '"Bad_Id" is not a lowercase slug'),
    ("enum", {"comparator": "roughly"}, "comparator", '"roughly" is not one of: reach, exceed'),
    ("required", {"name_en": ""}, "name_en", "is required but empty"),
    (
        "dangling reference",
        {"indicator_id": "no-such-indicator"},
        "indicator_id",
        '"no-such-indicator" is not an id in indicators',
    ),
    ("year out of range", {"deadline_year": "2050"}, "deadline_year", '"2050" is above the maximum 2040'),
    (
        "not verbatim",
        {"quote_zh": "每万人口高价值发明专利拥有量达到四十五件;"},
        "quote_zh",
        "is not verbatim in sources/000_c1172582d7c842e4.txt",
    ),
    (
        "not a whole sentence",
        {"quote_zh": "每万人口高价值发明专利拥有量达到45件;"},
        "quote_zh",
        "is not a whole sentence",
    ),
    ("figure not in quote", {"figure_zh": "46件"}, "figure_zh", '"46件" does not occur in quote_zh'),
    ("value not in figure", {"value": "46"}, "value", '"46" does not occur in the figure "45件" as written'),
    (
        "masked but stated",
        {"figure_zh": "**件", "value": ""},
        "status",
        'figure "**件" is masked with "*": status must be redacted',
    ),
    ("redacted with a value", {"status": "redacted"}, "value", "a redacted target has no value"),
    (
        "chinese in english",
        {"name_en": "High-value 发明专利"},
        "name_en",
        'English field contains Chinese characters: "发明专利"',
    ),
    ("line break in a cell", {"quote_en": "By 2026,\npatents"}, "quote_en", "contains a line break"),
    ("range without max", {"comparator": "range"}, "comparator", "use `range` exactly when"),
    # comparability (issue 15): a target fits its indicator, and commitment links stay honest
    (
        "period of another kind of quantity",
        {"period": "annual"},
        "indicator_id",
        '"high-value-invention-patents-per-10k-people" is of kind intensity: its targets are stated by_deadline, '
        "not annual",
    ),
    (
        "unit of another base unit",
        {"unit_zh": "亿元"},
        "indicator_id",
        '"high-value-invention-patents-per-10k-people" is counted in count, but the unit 亿元 is CNY',
    ),
    ("rank comparator for a count", {"comparator": "rank_within"}, "comparator", '"rank_within" does not fit'),
    (
        "restatement of another metric",
        {"restates_target_id": "wuhan-2026-tech-contract-turnover"},
        "restates_target_id",
        '"wuhan-2026-tech-contract-turnover" is linked to another indicator',
    ),
    (
        "possibly the same, but stated",
        {"possibly_same_as_id": "zz-test-2026-patents"},
        "possibly_same_as_id",
        "only a masked (redacted) figure is linked as possibly the same",
    ),
    ("inferred deadline without a word", {"deadline_basis": "inferred"}, "deadline_basis", "is inferred: say how"),
    (
        "wrong policy for measure",
        {"policy_id": "wuhan-2025-motion-1-work-plan"},
        "measure_id",
        '"zz-test-goal" belongs to policy "wuhan-2024-sci-edu-talent-opinions", not',
    ),
]


@pytest.mark.parametrize(("case", "change", "field", "why"), TARGET_CASES, ids=[c[0] for c in TARGET_CASES])
def test_broken_target_is_reported_with_file_line_field_and_reason(crafted, case, change, field, why):
    line = append_row(crafted / "targets.csv", {**good_target(crafted), "id": "zz-test-broken", **change})
    before = folder_digest(crafted)
    result = validate(crafted)
    assert result.exit_code == 1
    expected = f"{crafted}/targets.csv:{line} {field}: {why}"
    assert any(out.startswith(expected) for out in result.output.splitlines()), result.output
    count = len([out for out in result.output.splitlines() if ".csv:" in out or ".txt" in out.split(" ")[0]])
    assert f"{count} problem" in result.output
    assert folder_digest(crafted) == before, "validate must write nothing"


def test_duplicate_id_names_both_lines(crafted):
    line = append_row(crafted / "targets.csv", good_target(crafted))
    result = validate(crafted)
    assert result.exit_code == 1
    assert f'{crafted}/targets.csv:{line} id: "zz-test-2026-patents" is duplicated (also on line' in result.output


MEASURE_CASES = [
    ("not at paragraph start", lambda text: text[5:], "text_zh", "does not start at the beginning of a paragraph"),
    ("chinese punctuation in english", None, "title_en", "English field contains Chinese characters"),
]


@pytest.mark.parametrize(("case", "cut", "field", "why"), MEASURE_CASES, ids=[c[0] for c in MEASURE_CASES])
def test_broken_measure_is_reported(crafted, case, cut, field, why):
    measure = {**good_measure(crafted), "id": "zz-test-broken-measure", "ordinal": "1000"}
    if cut:
        measure["text_zh"] = cut(measure["text_zh"])
    else:
        measure["title_en"] = "General requirements（draft）"
    line = append_row(crafted / "measures.csv", measure)
    result = validate(crafted)
    assert result.exit_code == 1
    assert f"{crafted}/measures.csv:{line} {field}: {why}" in result.output


FileBreaker = Callable[[Path], None]


def add_bom(path: Path) -> None:
    path.write_bytes(b"\xef\xbb\xbf" + path.read_bytes())


def to_gbk(path: Path) -> None:
    path.write_bytes(path.read_text(encoding="utf-8").encode("gbk"))


def ragged(path: Path) -> None:
    with path.open("a", encoding="utf-8") as f:
        f.write("ezhou,鄂州市,Ezhou,city,hubei,surplus\n")


def extra_column(path: Path) -> None:
    lines = path.read_text(encoding="utf-8").splitlines()
    path.write_text("\n".join([lines[0] + ",population", *(line + "," for line in lines[1:])]) + "\n", encoding="utf-8")


FILE_CASES: list[tuple[str, FileBreaker, str]] = [
    ("bom", add_bom, "jurisdictions.csv:1: starts with a UTF-8 byte-order mark"),
    ("gbk", to_gbk, "jurisdictions.csv:2: is not UTF-8"),
    ("ragged row", ragged, "more than the header (ragged row)"),
    ("unknown column", extra_column, "jurisdictions.csv:1 population: column is not in the schema"),
]


@pytest.mark.parametrize(("case", "breaker", "why"), FILE_CASES, ids=[c[0] for c in FILE_CASES])
def test_broken_file_is_reported(sample_copy, case, breaker, why):
    breaker(sample_copy / "jurisdictions.csv")
    result = validate(sample_copy)
    assert result.exit_code == 1
    assert why in result.output, result.output


def test_missing_table_and_unreferenced_source(sample_copy):
    (sample_copy / "events.csv").unlink()
    (sample_copy / "sources" / "999_0000000000000000.txt").write_text("无关文本", encoding="utf-8")
    result = validate(sample_copy)
    assert result.exit_code == 1
    assert f"{sample_copy}/events.csv: is missing" in result.output
    assert "999_0000000000000000.txt: no policy in policies.csv refers to this source" in result.output


def test_command_exits_1_with_a_count(sample_copy):
    append_row(
        sample_copy / "jurisdictions.csv", {"id": "Bad Id", "name_zh": "坏", "name_en": "Bad", "level": "town"}
    )
    done = subprocess.run(
        [sys.executable, "-m", "kechuang.cli", "validate", "--datasets", str(sample_copy)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 1
    problems = done.stdout.strip().splitlines()
    assert len(problems) == 2
    assert f"{len(problems)} problems found." in done.stderr
