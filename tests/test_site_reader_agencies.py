"""The policy reader pairs each highlighted sentence with its English; agency, platform, fund and event pages
group their records by document and fold the long groups; the agencies list totals, sorts and links renamed
agencies. Rendered in process from the real data (fixture `portal`), checked against the database."""

from __future__ import annotations

import re
import sqlite3
from collections import defaultdict
from html.parser import HTMLParser
from pathlib import Path

import pytest

from conftest import ROOT, InProcessPortal
from kechuang.serve.site import renames
from kechuang.serve.site.folding import FOLD_FROM, group_by_document
from kechuang.serve.site.reader import ENGLISH_PREFIX, LINKED_SENTENCES


class Marks(HTMLParser):
    """Every <mark> of a page: its attributes, its text and the language of the block around it."""

    def __init__(self) -> None:
        super().__init__()
        self.stack: list[tuple[str, dict[str, str]]] = []
        self.marks: list[dict[str, object]] = []
        self.open: list[dict[str, object]] = []
        self.ids: dict[str, dict[str, str]] = {}

    def handle_starttag(self, tag, attrs):
        attributes = {k: v or "" for k, v in attrs}
        lang = next((a["lang"] for _t, a in reversed(self.stack) if "lang" in a), "")
        if "id" in attributes:
            self.ids[attributes["id"]] = {**attributes, "in_lang": lang}
        self.stack.append((tag, attributes))
        if tag == "mark":
            mark = {"attrs": attributes, "text": "", "lang": lang}
            self.marks.append(mark)
            self.open.append(mark)

    def handle_endtag(self, tag):
        while self.stack:
            name, _attrs = self.stack.pop()
            if name == "mark":
                self.open.pop()
            if name == tag:
                break

    def handle_data(self, data):
        for mark in self.open:
            mark["text"] += data


def marks_of(body: str) -> Marks:
    parser = Marks()
    parser.feed(body)
    return parser


def rows(db: Path, sql: str, *params) -> list[tuple]:
    with sqlite3.connect(db) as conn:
        return conn.execute(sql, params).fetchall()


def sentence(html: str, number: str, lang: str) -> str:
    """The text of the marks of sentence `number` in `lang` in a stretch of page."""
    marks = marks_of(html).marks
    chosen = [m for m in marks if f"sent-{number}" in str(m["attrs"].get("class", "")).split()]
    return "".join(str(m["text"]) for m in chosen if str(m["lang"]).startswith(lang))


def paragraph_of(body: str, anchor: str) -> str:
    """The reader's `<div class="pair">` (a paragraph and its translation) that holds the element `anchor`."""
    start = body.rindex('<div class="pair', 0, body.index(f'id="{anchor}"'))
    following = body.find('<div class="pair', start + 1)
    return body[start : following if following > 0 else len(body)]


# --- the reader --------------------------------------------------------------------------------------------


def test_the_english_of_each_sentence_is_marked_with_the_same_number_as_its_chinese(portal: InProcessPortal):
    """A target's Chinese sentence (`#t-x`) and its English (`#en-t-x`) carry one number, which the
    stylesheet's `:target` rule highlights in both languages; where the paragraph's translation words the
    sentence differently, the sentence's own English follows it."""
    (policy_id,) = rows(
        portal.db,
        """select t.policy_id from targets t join measures m on m.id = t.measure_id
           where instr(m.text_en, t.quote_en) = 0 group by 1 order by count(*) desc limit 1""",
    )[0]
    targets = rows(
        portal.db,
        """select t.id, t.quote_en, instr(m.text_en, t.quote_en) > 0 from targets t
           join measures m on m.id = t.measure_id where t.policy_id = ? and t.quote_start is not null""",
        policy_id,
    )
    body = portal.get(f"/policies/{policy_id}?lang=en").text
    marks = marks_of(body)
    worded_apart = 0
    for target_id, quote_en, in_translation in targets:
        zh = marks.ids[f"t-{target_id}"]
        en = marks.ids[f"{ENGLISH_PREFIX}t-{target_id}"]
        assert zh["data-s"] and zh["data-s"] == en["data-s"], target_id
        assert zh["in_lang"] == "zh-Hans" and en["in_lang"] == "en"
        # in the paragraph holding the sentence, the English marks of its number spell its English
        pair = paragraph_of(body, f"t-{target_id}")
        assert quote_en.strip().rstrip(";,.") in sentence(pair, zh["data-s"], "en"), target_id
        assert quote_en.strip()[:20] not in sentence(pair, zh["data-s"], "zh")
        if not in_translation:
            worded_apart += 1
            assert f'id="{ENGLISH_PREFIX}t-{target_id}"' in pair.split('class="sentence-en"', 1)[1], target_id
    assert worded_apart > 0  # the policy chosen has one, so the fallback is exercised


def test_every_sentence_of_every_policy_is_paired_and_the_stylesheet_covers_the_numbers(portal: InProcessPortal):
    """No paragraph has more marked sentences than site.css pairs (LINKED_SENTENCES), and site.css has a
    rule for each number."""
    css = (ROOT / "site" / "static" / "site.css").read_text()
    for n in range(1, LINKED_SENTENCES + 1):
        assert f'.pair:has([data-s="{n}"]:target) mark.sent-{n}' in css, n
    for (policy_id,) in rows(portal.db, "select id from policies"):
        body = portal.get(f"/policies/{policy_id}").text
        anchored = re.findall(r'id="(t-[^"]+|[pfe]m-[^"]+)" data-s="([^"]*)"', body)
        assert all(number for _anchor, number in anchored), policy_id


def test_the_targets_index_is_one_folding_list_not_a_scroll_box(portal: InProcessPortal):
    (policy_id, n) = rows(portal.db, "select policy_id, count(*) from targets group by 1 order by 2 desc limit 1")[0]
    body = portal.get(f"/policies/{policy_id}").text
    index = body[
        body.index('<details class="target-index-box"') : body.index("</details>", body.index("target-index-box"))
    ]
    assert index.count('<li><a href="#t-') == n
    assert 'tabindex="0"' not in index  # nothing to scroll, so no extra tab stop
    css = (ROOT / "site" / "static" / "site.css").read_text()
    assert not re.search(r"\.target-index\s*\{[^}]*(max-height|overflow)", css)


# --- pages grouped by document ------------------------------------------------------------------------------


def test_group_by_document_opens_the_first_and_the_short_groups():
    items = [{"policy": {"id": "a"}}] * (FOLD_FROM + 1) + [{"policy": {"id": "b"}}] * (FOLD_FROM + 1)
    items += [{"policy": {"id": "c"}}]
    groups = group_by_document(items, lambda item: item["policy"])
    assert [(g.policy["id"], g.size, g.open) for g in groups] == [
        ("a", FOLD_FROM + 1, True),
        ("b", FOLD_FROM + 1, False),
        ("c", 1, True),
    ]
    assert groups[0].policy["href"] == "/policies/a"


def details_of(body: str) -> list[str]:
    return re.findall(r'<details class="doc-group"( open)?>(.*?)</details>', body, re.S)


def test_an_agency_page_lists_every_measure_and_target_once_under_its_document(portal: InProcessPortal):
    agency_id, documents = rows(
        portal.db,
        """select ma.agency_id, count(distinct m.policy_id) from measure_agencies ma
           join measures m on m.id = ma.measure_id group by 1 order by 2 desc, count(*) desc limit 1""",
    )[0]
    assert documents > 1
    measures = rows(
        portal.db,
        """select m.id, m.policy_id from measure_agencies ma join measures m on m.id = ma.measure_id
           where ma.agency_id = ?""",
        agency_id,
    )
    targets = rows(
        portal.db,
        """select t.id, t.policy_id from targets t where t.measure_id in
           (select measure_id from measure_agencies where agency_id = ?)""",
        agency_id,
    )
    for lang in ("zh", "en"):
        groups = details_of(portal.get(f"/agencies/{agency_id}?lang={lang}").text)
        assert len(groups) == documents
        assert groups[0][0] == " open"
        for opened, group in groups[1:]:  # the others open only when short
            size = group.count('<a href="/policies/') - 1 + group.count('href="/targets/')
            assert (opened == " open") == (size <= FOLD_FROM), size
        for measure_id, policy_id in measures:
            holding = [g for _o, g in groups if f'href="/policies/{policy_id}#m-{measure_id}"' in g]
            assert len(holding) == 1 and f'href="/policies/{policy_id}"' in holding[0], measure_id
        for target_id, policy_id in targets:
            holding = [g for _o, g in groups if f'href="/targets/{target_id}"' in g]
            assert len(holding) == 1 and f'href="/policies/{policy_id}#t-{target_id}"' in holding[0], target_id


def test_entity_pages_group_their_mentions_by_document(portal: InProcessPortal):
    for page, table, key in (
        ("platforms", "platform_mentions", "platform_id"),
        ("events", "event_mentions", "event_id"),
    ):
        entity_id, documents, n = rows(
            portal.db,
            f"""select x.{key}, count(distinct m.policy_id), count(*) from {table} x
                join measures m on m.id = x.measure_id group by 1 order by 2 desc, 3 desc limit 1""",
        )[0]
        groups = details_of(portal.get(f"/{page}/{entity_id}").text)
        assert len(groups) == documents, entity_id
        assert sum(g.count('<article class="card"') for _o, g in groups) == n


# --- the agencies list --------------------------------------------------------------------------------------


def agency_rows(body: str) -> dict[str, list[str]]:
    """Place heading id → the agency ids of its table in the order shown."""
    found: dict[str, list[str]] = {}
    for place, table in re.findall(r'<h2 id="j-([^"]+)">.*?<tbody>(.*?)</tbody>', body, re.S):
        found[place] = re.findall(r'<tr id="a-([^"]+)">', table)
    return found


def test_the_agencies_list_sorts_and_totals(portal: InProcessPortal):
    workload = {
        r[0]: {"place": r[1], "led": r[2] or 0, "shared": r[3] or 0, "name_en": r[4]}
        for r in rows(
            portal.db, "select id, jurisdiction_id, measures_led, measures_shared, name_en from agency_workload"
        )
    }
    by_lead = agency_rows(portal.get("/agencies").text)
    assert {a for ids in by_lead.values() for a in ids} == set(workload)
    for ids in by_lead.values():
        assert [workload[a]["led"] for a in ids] == sorted((workload[a]["led"] for a in ids), reverse=True)
    for ids in agency_rows(portal.get("/agencies?sort=shared").text).values():
        assert [workload[a]["shared"] for a in ids] == sorted((workload[a]["shared"] for a in ids), reverse=True)
    for ids in agency_rows(portal.get("/agencies?sort=name&lang=en").text).values():
        names = [workload[a]["name_en"].casefold() for a in ids]
        assert names == sorted(names)
    body = portal.get("/agencies?sort=name&lang=en").text
    assert '<a href="?sort=name" aria-current="true">' in body and 'aria-sort="ascending"' in body
    # a place's totals count each measure and target once: measures some agency of the place leads, measures
    # some agency of it shares, the targets of any measure an agency of it has (not the sum of the rows)
    led_by, shared_by, targets_of = (defaultdict(set) for _ in range(3))
    measure_targets = defaultdict(set)
    for target, measure in rows(portal.db, "select id, measure_id from targets where measure_id is not null"):
        measure_targets[measure].add(target)
    for measure, agency, role in rows(portal.db, "select measure_id, agency_id, role from measure_agencies"):
        place = workload[agency]["place"]
        (led_by if role == "lead" else shared_by)[place].add(measure)
        targets_of[place] |= measure_targets[measure]
    totals = dict(re.findall(r'<h2 id="j-([^"]+)">.*?<tfoot>(.*?)</tfoot>', body, re.S))
    assert set(totals) == {w["place"] for w in workload.values()}
    for place, table in totals.items():
        shown = tuple(int(n) for n in re.findall(r"<td>(\d+)</td>", table))
        assert shown == (len(led_by[place]), len(shared_by[place]), len(targets_of[place])), place
    wuhan = [w for w in workload.values() if w["place"] == "wuhan"]
    assert len(shared_by["wuhan"]) < sum(w["shared"] for w in wuhan), "a measure shared by two agencies counts once"
    refused = portal.get("/agencies?sort=size")
    assert refused.status_code == 400 and "sort" in refused.text


def test_renamed_agencies_link_to_each_other_and_count_together(portal: InProcessPortal):
    renamed = rows(portal.db, "select id, successor_id from agencies where successor_id is not null")
    assert renamed, "the data names at least one renaming (市科技局 → 市科技创新局)"
    counts = {
        r[0]: (r[1] or 0, r[2] or 0)
        for r in rows(portal.db, "select id, measures_led, measures_shared from agency_workload")
    }
    for old, new in renamed:
        led, shared = counts[old][0] + counts[new][0], counts[old][1] + counts[new][1]
        for lang in ("zh", "en"):
            listing = portal.get(f"/agencies?lang={lang}").text
            old_row = re.search(rf'<tr id="a-{old}">(.*?)</tr>', listing, re.S).group(1)
            new_row = re.search(rf'<tr id="a-{new}">(.*?)</tr>', listing, re.S).group(1)
            assert f'href="/agencies/{new}"' in old_row and f'href="/agencies/{old}"' in new_row
            # the combined counts, in the page's language, on the new name's row and page
            plural = "" if led == 1 else "s"
            words = {"zh": f"牵头 {led} 条措施，参与 {shared} 条", "en": f"{led} measure{plural} led, {shared} shared"}[lang]
            assert words in new_row and words not in old_row
            assert words in portal.get(f"/agencies/{new}?lang={lang}").text
            assert f'href="/agencies/{new}"' in portal.get(f"/agencies/{old}?lang={lang}").text


@pytest.mark.parametrize(
    ("successors", "latest", "former"),
    [
        ({"a": "b", "b": None}, {"a": "b", "b": "b"}, {"b": ["a"]}),
        ({"a": "b", "b": "c", "c": None}, {"a": "c", "b": "c", "c": "c"}, {"c": ["a", "b"]}),
        ({"a": "b", "b": "a"}, {"a": "b", "b": "a"}, {"b": ["a"], "a": ["b"]}),  # a loop ends where it closes
    ],
)
def test_renaming_chains(successors, latest, former):
    assert {a: renames.latest_name(successors, a) for a in successors} == latest
    assert renames.former_names(successors) == former
    counts = {a: {"led": 1, "shared": 2} for a in successors}
    combined = renames.combined_counts(counts, successors)
    for name, earlier in former.items():
        assert combined[name] == {"led": 1 + len(earlier), "shared": 2 * (1 + len(earlier))}
