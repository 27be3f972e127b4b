"""Language choice and the string catalogues: one YAML file per language in `site/i18n/`.

The language of a request is `?lang=` if given, else the cookie the language toggle sets, else the best
match in `Accept-Language`, else Chinese. Templates read every label from the catalogue, so a string is
translated in one place and a test can prove both catalogues have the same keys.
"""

from __future__ import annotations

import functools
import re
from pathlib import Path
from typing import Any

import yaml

LANGUAGES = ("zh", "en")
DEFAULT_LANGUAGE = "zh"
HTML_LANG = {"zh": "zh-Hans", "en": "en"}
OG_LOCALE = {"zh": "zh_CN", "en": "en_US"}  # Open Graph names locales language_TERRITORY
COOKIE_NAME = "kechuang_lang"
COOKIE_MAX_AGE = 365 * 24 * 3600


def normalise(value: str | None) -> str | None:
    """`zh`, `zh-CN`, `zh-Hans`, `EN-gb` … → `zh` or `en`; anything else → None."""
    if not value:
        return None
    primary = value.strip().lower().replace("_", "-").split("-")[0]
    return primary if primary in LANGUAGES else None


def parse_accept_language(header: str | None) -> list[str]:
    """Our languages in the order the header prefers them (q-values respected, malformed parts ignored)."""
    ranked: list[tuple[float, int, str]] = []
    for position, part in enumerate((header or "").split(",")):
        tag, _, params = part.strip().partition(";")
        quality = 1.0
        for param in params.split(";"):
            name, _, value = param.strip().partition("=")
            if name.strip().lower() == "q":
                try:
                    quality = float(value)
                except ValueError:
                    quality = 0.0
        language = normalise(tag)
        if language and quality > 0:
            ranked.append((-quality, position, language))
    return list(dict.fromkeys(language for _q, _p, language in sorted(ranked)))


def choose_language(query: str | None, cookie: str | None, accept_language: str | None) -> str:
    """`?lang=` > cookie > Accept-Language > Chinese."""
    for candidate in (normalise(query), normalise(cookie)):
        if candidate:
            return candidate
    preferred = parse_accept_language(accept_language)
    return preferred[0] if preferred else DEFAULT_LANGUAGE


def other_language(lang: str) -> str:
    return "en" if lang == "zh" else "zh"


def flatten(tree: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """Nested catalogue → {"nav.targets": "…"}, for comparing catalogues key by key."""
    flat: dict[str, Any] = {}
    for key, value in tree.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict) and not is_plural(value):
            flat.update(flatten(value, name + "."))
        else:
            flat[name] = value
    return flat


PLURAL_FORMS = ("one", "other")  # CLDR's names; English has both, Chinese only `other`


def is_plural(value: Any) -> bool:
    """A catalogue value worded by count: a mapping of `one`/`other` forms (`other` always present)."""
    return isinstance(value, dict) and "other" in value and set(value) <= set(PLURAL_FORMS)


def counted(wording: str | dict[str, str], n: int | None) -> str:
    """`wording` for the count `n`, with `{n}` filled: the `one` form for exactly 1 where the language has
    one ("1 measure"), else `other` ("3 measures", Chinese "3 项措施"); a plain string is used as it is."""
    if is_plural(wording):
        assert isinstance(wording, dict)
        wording = wording["one"] if n == 1 and "one" in wording else wording["other"]
    return str(wording).format(n=n)


def year_span(wording: str | dict[str, str], first: int | None, last: int | None) -> str:
    """A span of years: the `one` form when it is a single year ("2023", not "2023–2023"), else `other`."""
    if is_plural(wording):
        assert isinstance(wording, dict)
        wording = wording["one"] if first == last and "one" in wording else wording["other"]
    return str(wording).format(first=first, last=last)


@functools.cache
def _load(path: str, stamp: float) -> dict[str, Any]:
    data = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    if not isinstance(data, dict):
        raise ValueError(f"{path}: a catalogue is a mapping of keys to strings")
    return data


def load_catalogue(directory: Path, lang: str) -> dict[str, Any]:
    """The catalogue of one language (re-read when the file changes, so editing it needs no restart)."""
    path = directory / f"{lang}.yaml"
    return _load(str(path), path.stat().st_mtime)


@functools.cache
def _message_pattern(wording: str) -> re.Pattern[str]:
    parts = re.split(r"\{(\w+)\}", wording)
    return re.compile(
        "".join(re.escape(part) if i % 2 == 0 else f"(?P<{part}>.+)" for i, part in enumerate(parts)), re.DOTALL
    )


def translate_message(message: str, source: dict[str, str], target: dict[str, str]) -> str | None:
    """The `target` wording of a message worded as one of `source` (same keys, `{name}` parts carried over),
    or None: Datasette's errors are English sentences raised in its code, not keys."""
    text = str(message).strip()
    for key, wording in source.items():
        found = _message_pattern(wording).fullmatch(text)
        if found and key in target:
            return target[key].format(**found.groupdict())
    return None
