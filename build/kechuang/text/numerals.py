"""Read figures the way the documents write them: Arabic digits or Chinese numerals."""

from __future__ import annotations

import re

_DIGITS = {"零": 0, "〇": 0, "一": 1, "二": 2, "两": 2, "三": 3, "四": 4, "五": 5, "六": 6, "七": 7, "八": 8, "九": 9}
_UNITS = {"十": 10, "百": 100, "千": 1000, "万": 10_000}
CHINESE_NUMERAL_RUN = re.compile(f"[{''.join(_DIGITS)}{''.join(_UNITS)}]+")
# Words that state a whole (100 percent) without a digit: 全覆盖 "full coverage".
WHOLE_WORDS = ("全覆盖",)


def parse_chinese_numeral(text: str) -> int | None:
    """The value of a Chinese numeral such as 十, 十五, 两百, 三千五百; None if `text` is not one."""
    if not text or any(ch not in _DIGITS and ch not in _UNITS for ch in text):
        return None
    total, section, digit = 0, 0, None
    for ch in text:
        if ch in _DIGITS:
            digit = _DIGITS[ch]
            continue
        unit = _UNITS[ch]
        if unit == 10_000:
            total += (section + (digit or 0)) * unit
            section, digit = 0, None
        else:
            section += (1 if digit is None else digit) * unit
            digit = None
    return total + section + (digit or 0)


def format_number(value: float) -> str:
    """A number as a document would print it: 3000, 3.4, 20.3 (no trailing .0)."""
    if float(value).is_integer():
        return str(int(value))
    return repr(float(value)).rstrip("0").rstrip(".")


def number_occurs(text: str, number: str) -> bool:
    """True when `number` occurs in `text` as a whole number: no digit or "." before it, no digit after.

    The same test as the pattern (?<![\\d.])NUMBER(?!\\d) (`\\d` is any Unicode decimal digit, as
    `str.isdecimal`), without compiling a pattern per figure.
    """
    start = text.find(number)
    while start != -1:
        before = text[start - 1] if start else ""
        after = text[start + len(number) : start + len(number) + 1]
        if not (before.isdecimal() or before == ".") and not after.isdecimal():
            return True
        start = text.find(number, start + 1)
    return False


def figure_states(figure: str, value: float) -> bool:
    """True when `figure` (e.g. `3000亿元`, `1-2个`, `十大`, `第一`) writes `value`."""
    compact = figure.replace(",", "").replace("，", "")
    if number_occurs(compact, format_number(value)):
        return True
    if value == 100 and any(word in compact for word in WHOLE_WORDS):
        return True
    return any(parse_chinese_numeral(run) == value for run in CHINESE_NUMERAL_RUN.findall(compact))
