"""Names and glossary terms, written at build time and read by query parsing for cross-lingual search.

Every record with name-role fields (glossary terms, indicators, platforms, funds, events, agencies,
jurisdictions) contributes its names in Chinese and English, their aliases, and the pinyin of its
Chinese words, so a query that contains any one of them can also search all the others.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

from kechuang.model.search import PLACES, TERM_ROLE, TERMS, SearchRecord
from kechuang.text.normalize import ENGLISH_STOPWORDS, RUN, fold, is_cjk, pinyin_words, stem


def create_terms_table(db) -> None:
    db.execute(f"drop table if exists [{TERMS}]")
    db.execute(
        f"""create table [{TERMS}] (
            record integer not null, lang text not null, form text not null, key text not null,
            tokens text not null)"""
    )
    db.execute(f"create index [{TERMS}_key] on [{TERMS}](lang, key)")


# A place is named without its administrative level as often as with it: 武汉 for 武汉市, Wuchang for
# Wuchang District. These are the level words of Chinese and English place names.
_LEVEL_ZH = re.compile(r"^(.{2,3})[省市区县]$")
_LEVEL_EN = re.compile(r"^(.+?)\s+(?:province|city|district|county)$", re.IGNORECASE)


_BRACKETED = re.compile(r"\s*[(（][^()（）]*[)）]\s*")


def short_place_names(name: str) -> list[str]:
    """A place's name without its level word (武昌区 → 武昌, Wuchang District → Wuchang), if it has one."""
    return [m.group(1) for pattern in (_LEVEL_ZH, _LEVEL_EN) if (m := pattern.match(name))]


def term_forms(record: SearchRecord) -> list[str]:
    """Every name of a record in either language; `|` separates aliases; places also without their level."""
    forms: list[str] = []
    for language in ("zh", "en"):
        for text in record.parts.get(f"{TERM_ROLE}_{language}", []):
            forms.extend(p.strip() for p in text.split("|") if p.strip())
    if record.type == PLACES:
        forms += [short for form in forms for short in short_place_names(form)]
    # "open competition mechanism (jiebang guashuai)" is also named without its bracketed gloss
    forms += [bare for form in forms if (bare := _BRACKETED.sub("", form).strip()) and bare != form]
    return list(dict.fromkeys(forms))


def term_rows(rowid: int, record: SearchRecord) -> Iterator[dict[str, Any]]:
    """Rows of `search_terms` for one record's names: Chinese form, English form, pinyin of Chinese words.

    `record` is the rowid of the record the name belongs to, so a query that names it can favour it.

    zh key: the form's Han characters run together (what a query run must contain);
    en key: its English stems without stopwords (what a query's stems must contain in a row);
    tokens: what the expansion searches for (Han runs, or every stem so the phrase matches).
    """
    for form in term_forms(record):
        folded = fold(form)
        runs = [m.groups() for m in RUN.finditer(folded)]
        han = [h for h, _o in runs if h]
        if is_cjk(folded) or han:
            key = "".join(han)
            if len(key) >= 2:
                yield {"record": rowid, "lang": "zh", "form": form, "key": key, "tokens": " ".join(han)}
            for pinyin, word in pinyin_words(form):
                yield {"record": rowid, "lang": "py", "form": word, "key": pinyin, "tokens": word}
        else:
            words = [o for _h, o in runs if o]
            stems = [stem(w) for w in words]
            key = " ".join(s for w, s in zip(words, stems, strict=True) if w not in ENGLISH_STOPWORDS)
            if key:
                yield {"record": rowid, "lang": "en", "form": form, "key": key, "tokens": " ".join(stems)}
