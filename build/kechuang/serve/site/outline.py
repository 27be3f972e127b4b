"""A measure's place in its document's outline, as the reader of each language numbers it.

The documents number their parts 一、 (chapter), （四） (section) and 9 (item): `measures.section` keeps them as
printed, "二、(四)9" or "二、（四）9", the brackets full-width or not as the source has them. A Chinese page
shows them with full-width brackets throughout; an English page shows the same outline in Arabic numbers,
"2.4.9", so no Chinese ordinal sits before an English title.
"""

from __future__ import annotations

import re

from kechuang.text.numerals import parse_chinese_numeral

_PART = re.compile(r"([〇零一二三四五六七八九十百]+)、|[（(]([〇零一二三四五六七八九十百]+)[）)]|(\d+)")


def outline_numbers(section: str) -> list[int] | None:
    """"二、(四)9" → [2, 4, 9]; None when the label is not made only of such ordinals (then it is shown as is)."""
    text = (section or "").strip()
    numbers, end = [], 0
    for match in _PART.finditer(text):
        if match.start() != end:
            return None
        chapter, part, item = match.groups()
        value = int(item) if item else parse_chinese_numeral(chapter or part)
        if value is None:
            return None
        numbers.append(value)
        end = match.end()
    return numbers if numbers and end == len(text) else None


def section_label(section: str | None, lang: str) -> str:
    """The section label for a page in `lang`: "2.4.9" in English, "二、（四）9" in Chinese; as printed otherwise."""
    text = (section or "").strip()
    if lang == "en" and (numbers := outline_numbers(text)):
        return ".".join(str(n) for n in numbers)
    return text.replace("(", "（").replace(")", "）") if lang == "zh" else text
