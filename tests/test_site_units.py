"""The site's pure parts: language choice, catalogues, figures in words, the reader's layout, the chart, downloads."""

from __future__ import annotations

import itertools
import re
from pathlib import Path

import pytest
import yaml

from conftest import ROOT
from kechuang.model.schema import load_schemas
from kechuang.serve.site import charts, downloads, figures, i18n, markdown, reader
from kechuang.serve.site.dictionary import dictionary_tables

SITE = ROOT / "site"
CATALOGUES = {
    lang: yaml.safe_load((SITE / "i18n" / f"{lang}.yaml").read_text(encoding="utf-8")) for lang in ("zh", "en")
}


# --- language choice -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("query", "cookie", "accept", "expected"),
    [
        (None, None, None, "zh"),
        (None, None, "en-GB,en;q=0.9", "en"),
        (None, None, "fr-FR,de;q=0.8", "zh"),
        (None, None, "fr-FR,en;q=0.5,zh;q=0.4", "en"),
        (None, None, "zh-CN;q=0.3,en;q=0.8", "en"),
        (None, None, "en;q=0,zh-TW", "zh"),
        (None, None, "en;q=abc,zh;q=0.1", "zh"),
        (None, "en", "zh-CN", "en"),
        (None, "xx", "en", "en"),
        ("zh", "en", "en", "zh"),
        ("EN", "zh", "zh", "en"),
        ("zh-Hans", None, "en", "zh"),
        ("klingon", "en", "zh", "en"),
    ],
)
def test_language_is_query_then_cookie_then_accept_language_then_chinese(query, cookie, accept, expected):
    assert i18n.choose_language(query, cookie, accept) == expected


def test_both_catalogues_have_the_same_keys():
    zh, en = (set(i18n.flatten(CATALOGUES[lang])) for lang in ("zh", "en"))
    assert zh - en == set(), "keys only in zh.yaml"
    assert en - zh == set(), "keys only in en.yaml"


def test_placeholders_agree_between_languages():
    zh, en = (i18n.flatten(CATALOGUES[lang]) for lang in ("zh", "en"))
    for key, text in zh.items():
        assert set(re.findall(r"{(\w+)}", str(text))) == set(re.findall(r"{(\w+)}", str(en[key]))), key


def test_every_string_a_template_uses_exists():
    flat = set(i18n.flatten(CATALOGUES["zh"]))
    prefixes = {key.rsplit(".", i)[0] for key in flat for i in range(key.count(".") + 1)}
    used = set()
    for path in (SITE / "templates").rglob("*.html"):
        found = re.findall(r"\bt\.([a-z_]+(?:\.[a-z_]+)*)", path.read_text(encoding="utf-8"))
        used |= {key.removesuffix(".format") for key in found}
    assert used, "no catalogue use found: the pattern is wrong"
    missing = {key for key in used if key not in flat and key not in prefixes}
    assert missing == set()


@pytest.mark.parametrize(
    ("catalogue_key", "table", "column"),
    [
        ("comparator", "targets", "comparator"),
        ("period", "targets", "period"),
        ("period_names", "targets", "period"),
        ("status", "targets", "status"),
        ("doc_type", "policies", "doc_type"),
        ("agency_kind", "agencies", "kind"),
        ("entity_kind.platforms", "platforms", "kind"),
        ("entity_kind.funds", "funds", "kind"),
        ("entity_kind.events", "events", "kind"),
        ("recurrence", "events", "recurrence"),
        ("role", "measure_agencies", "role"),
    ],
)
def test_every_code_of_the_schemas_has_words_in_both_languages(catalogue_key, table, column):
    codes = set(load_schemas(ROOT / "schemas")[table].field(column).enum or ())
    assert codes
    for lang, catalogue in CATALOGUES.items():
        words = catalogue
        for part in catalogue_key.split("."):
            words = words[part]
        assert codes <= set(words), f"{lang}.yaml {catalogue_key} lacks {codes - set(words)}"


def test_every_type_of_the_schemas_has_words():
    types = {f.type for s in load_schemas(ROOT / "schemas").values() for f in s.fields}
    for catalogue in CATALOGUES.values():
        assert types <= set(catalogue["types"])


def test_templates_carry_no_inline_script_or_style():
    for path in (SITE / "templates" / "portal").rglob("*.html"):
        text = path.read_text(encoding="utf-8")
        assert "<script" not in text, path
        assert "style=" not in text and "<style" not in text, path
        assert "|safe" not in text.replace(" ", ""), path


# --- figures in words ------------------------------------------------------------------------------


def target(**fields):
    base = {
        "status": "stated",
        "comparator": "reach",
        "period": "by_deadline",
        "deadline_year": 2026,
        "value_max": None,
    }
    return base | fields


@pytest.mark.parametrize(
    ("fields", "factor", "expected"),
    [
        ({"value": 3000, "unit_zh": "亿元", "unit_en": "100 million yuan"}, 1e8, "300 billion yuan"),
        ({"value": 86, "unit_zh": "亿元", "unit_en": "100 million yuan"}, 1e8, "8.6 billion yuan"),
        ({"value": 430, "unit_zh": "万人", "unit_en": "10,000 persons"}, 1e4, "4.3 million persons"),
        ({"value": 3.4, "unit_zh": "万", "unit_en": "10,000 university graduates"}, 1e4, "34,000 university graduates"),
        ({"value": 50, "unit_zh": "万个", "unit_en": "ten thousand jobs"}, 1e4, "500,000 jobs"),
        ({"value": 1000, "unit_zh": "万元", "unit_en": "10,000 yuan"}, 1e4, "10 million yuan"),
        ({"value": 100, "unit_zh": "平方公里", "unit_en": "square kilometres"}, 1e6, "100 square kilometres"),
        ({"value": 18000, "unit_zh": "人", "unit_en": "people"}, 1, "18,000 people"),
        ({"value": 10, "unit_zh": "%", "unit_en": "percent"}, 1, "10%"),
        ({"value": 1, "value_max": 2, "unit_zh": "个", "unit_en": "parks"}, 1, "1 and 2 parks"),
        ({"value": 50, "unit_zh": "位", "unit_en": "rank", "base_unit": "rank"}, 1, "top 50"),
        ({"value": 1, "unit_zh": "位", "unit_en": "rank", "base_unit": "rank"}, 1, "first place"),
    ],
)
def test_english_amount_reads_as_english_prose(fields, factor, expected):
    assert figures.english_amount(target(**fields), factor) == expected


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_a_masked_figure_is_never_a_number(lang):
    row = target(status="redacted", value=None, figure_zh="****亿元", unit_zh="亿元", unit_en="100 million yuan")
    words = figures.describe_target(row, lang, CATALOGUES[lang], 1e8)
    assert words["masked"]
    assert words["amount"] == CATALOGUES[lang]["target"]["masked"]
    assert not re.search(r"\d", words["amount"] + words["summary"])
    assert "****亿元" in words["printed_as"]


def test_chinese_readers_see_the_figure_as_written():
    row = target(value=3000, figure_zh="3000亿元", unit_zh="亿元", unit_en="100 million yuan", comparator="exceed")
    words = figures.describe_target(row, "zh", CATALOGUES["zh"], 1e8)
    assert words["amount"] == "3000亿元"
    assert words["comparator"] == CATALOGUES["zh"]["comparator"]["exceed"]
    assert "2026" in words["deadline"]


# --- the policy reader -----------------------------------------------------------------------------

TEXT = "一、目标\n\n甲句。乙句；丙句。\n二、任务\n1.丁句。戊句。\n"


def mark(text: str, sentence: str, anchor: str, kind: str = "target") -> reader.Mark:
    start = text.index(sentence)
    return reader.Mark(start, start + len(sentence), anchor, f"/x/{anchor}", anchor, kind)


def test_reader_turns_heading_lines_into_headings_and_keeps_every_character():
    headings = [
        {"ordinal": 1, "level": 1, "heading_zh": "一、目标", "heading_en": "I. Goals", "section": "一、"},
        {"ordinal": 2, "level": 1, "heading_zh": "二、任务", "heading_en": "II. Tasks", "section": "二、"},
    ]
    reading = reader.read_policy(TEXT, headings, [], [])
    assert [b.kind for b in reading.blocks] == ["heading", "paragraph", "heading", "paragraph"]
    assert [e.id for e in reading.outline] == ["sec-1", "sec-2"]
    shown = "".join(s.text for b in reading.blocks for s in b.segments)
    assert shown == TEXT.replace("\n", "")


def test_reader_marks_each_sentence_and_links_after_it():
    marks = [mark(TEXT, "乙句；", "t-a"), mark(TEXT, "乙句；", "t-b"), mark(TEXT, "戊句。", "pm-x--y", "platform")]
    reading = reader.read_policy(TEXT, [], [], marks)
    segments = [s for b in reading.blocks for s in b.segments]
    marked = [s for s in segments if s.marked]
    assert [s.text for s in marked] == ["乙句；", "戊句。"]
    assert marked[0].ids == ["t-a", "t-b"]  # two targets from one sentence: both anchors land on it
    assert [r.anchor for r in marked[0].refs] == ["t-a", "t-b"]
    assert marked[1].kinds == "src-platform"


def test_reader_splits_overlapping_sentences_without_losing_text():
    marks = [mark(TEXT, "甲句。乙句；", "t-a"), mark(TEXT, "乙句；丙句。", "t-b")]
    reading = reader.read_policy(TEXT, [], [], marks)
    line = next(b for b in reading.blocks if "甲" in "".join(s.text for s in b.segments))
    assert "".join(s.text for s in line.segments) == "甲句。乙句；丙句。"
    middle = next(s for s in line.segments if s.text == "乙句；")
    assert {m.anchor for m in middle.marks} == {"t-a", "t-b"}
    assert next(s for s in line.segments if s.text == "甲句。").ids == ["t-a"]
    assert middle.ids == ["t-b"]


def test_reader_attaches_each_measure_to_its_paragraph():
    start = TEXT.index("1.丁句")
    measures = [{"id": "p-2-1", "text_start": start, "text_end": start + 7, "text_en": "1. D.", "section": "二、1"}]
    reading = reader.read_policy(TEXT, [], measures, [])
    block = next(b for b in reading.blocks if b.measures)
    assert "".join(s.text for s in block.segments).startswith("1.丁句")
    assert block.measure_id == "m-p-2-1"


# --- the chart -------------------------------------------------------------------------------------


def chart_row(target_id, place, year, value, masked=False, high=None):
    return charts.ChartTarget(
        target_id=target_id,
        metric="turnover:CNY",
        place=place,
        place_name=place.title(),
        period_kind="level",
        kind_name="level",
        family="floor",
        deadline_year=year,
        value_base=value,
        value_max_base=high,
        masked=masked,
        href=f"/targets/{target_id}",
        label=target_id,
    )


def test_chart_has_one_point_per_target_and_masked_ones_off_the_value_axis():
    rows = [
        chart_row("a", "wuhan", 2023, 1450e8),
        chart_row("b", "wuhan", 2023, None, masked=True),
        chart_row("c", "wuhan", 2026, 3000e8),
        chart_row("d", "huangshi", 2030, 360e8),
        chart_row("e", "wuchang", 2023, 1e8, high=2e8),
    ]
    chart = charts.timeline_chart(rows, "en", "100 million yuan", 1e8)
    points = [p for s in chart.series for p in s.points]
    assert sorted(p.target_id for p in points) == ["a", "b", "c", "d", "e"]
    assert chart.point_count == 5
    by_id = {p.target_id: p for p in points}
    assert by_id["b"].y == chart.masked_y and chart.masked_y > chart.bottom  # below the axis, not at zero
    assert by_id["c"].y < by_id["a"].y < by_id["d"].y <= chart.bottom  # larger values sit higher
    assert by_id["a"].x < by_id["c"].x < by_id["d"].x  # later years sit further right
    assert by_id["e"].range_to is not None and by_id["e"].range_to < by_id["e"].y
    assert len({s.shape for s in chart.series}) == 3  # each place has its own marker shape
    top = float(chart.y_ticks[-1].label.replace(",", ""))
    assert top >= 3000


@pytest.mark.parametrize("maximum", [0.5, 1, 7, 86, 360, 2999, 3000, 12345.6])
def test_ticks_start_at_zero_and_reach_the_maximum(maximum):
    ticks = charts.nice_ticks(maximum)
    assert ticks[0] == 0 and ticks[-1] >= maximum
    steps = {round(b - a, 9) for a, b in itertools.pairwise(ticks)}
    assert len(steps) == 1 and 2 <= len(ticks) <= 7


# --- markdown, dictionary, downloads ---------------------------------------------------------------


@pytest.mark.parametrize("name", markdown.PAGES)
@pytest.mark.parametrize("lang", ["zh", "en"])
def test_about_and_methodology_exist_in_both_languages(name, lang):
    page = markdown.render_page(SITE / "pages", name, lang)
    assert page is not None and page.title
    assert "<h2>" in page.body


def test_markdown_escapes_raw_html(tmp_path: Path):
    (tmp_path / "about.en.md").write_text("# T\n\n<script>alert(1)</script> and *text*\n", encoding="utf-8")
    page = markdown.render_page(tmp_path, "about", "en")
    assert "<script>" not in page.body and "&lt;script&gt;" in page.body


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_dictionary_lists_every_column_of_every_schema(lang):
    schemas = load_schemas(ROOT / "schemas")
    tables = {t.name: t for t in dictionary_tables(schemas, lang)}
    assert set(tables) == set(schemas)
    for name, schema in schemas.items():
        names = [f.name for f in tables[name].fields]
        assert names == schema.column_names
        for listed, field in zip(tables[name].fields, schema.fields, strict=False):
            assert listed.description == (field.description_zh if lang == "zh" else field.description)


def test_release_files_are_listed_newest_first_and_cannot_escape(tmp_path: Path):
    for version in ("2025.2", "2025.10", "2025.9"):
        (tmp_path / version).mkdir()
        (tmp_path / version / "kechuang.db").write_bytes(b"x" * 3)
    (tmp_path / "secret.txt").write_text("no")
    (tmp_path / "latest").symlink_to("2025.10", target_is_directory=True)
    (tmp_path / ".2025.11.tmp").mkdir()
    releases = downloads.list_releases(tmp_path)
    assert [r.version for r in releases] == ["2025.10", "2025.9", "2025.2"]
    assert releases[0].files[0].size == 3
    assert downloads.release_file(tmp_path, "2025.2", "kechuang.db") == (tmp_path / "2025.2" / "kechuang.db").resolve()
    for version, name in [("..", "secret.txt"), ("2025.2", ".."), ("2025.2", "../../secret.txt"), ("2025.2", "nope")]:
        assert downloads.release_file(tmp_path, version, name) is None


def test_templates_do_not_look_up_names_of_dict_methods():
    """`{{ t.filters.clear }}` gives Jinja's dict method, shown as its repr: such keys are looked up with ['…']."""
    import re

    method = re.compile(r"\.(clear|values|items|keys|get|pop|update|copy|setdefault)\s*(\}\}|\|)")
    found = [
        f"{path.relative_to(ROOT)}:{number}"
        for path in sorted((ROOT / "site" / "templates").rglob("*.html"))
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
        if method.search(line)
    ]
    assert found == []
