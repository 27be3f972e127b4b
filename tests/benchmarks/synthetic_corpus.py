"""A synthetic corpus for the search benchmark: passages recombined from the real sentences.

Real sentences keep the vocabulary and its frequencies realistic (common words like 创新 match a large
share of passages, names match few), which is what makes ranking a million passages costly.
"""

from __future__ import annotations

import random
import re
import sqlite3
from collections.abc import Iterator
from pathlib import Path

from kechuang.model.search import SearchRecord

_ZH_SENTENCE = re.compile(r"[^。；！？\n]+[。；！？]?")
_EN_SENTENCE = re.compile(r"[^.;!?]+[.;!?]?")


def sentence_pools(db_path: Path) -> tuple[list[str], list[str]]:
    """Chinese sentences and English sentences of the real database."""
    conn = sqlite3.connect(db_path)
    zh: list[str] = []
    en: list[str] = []
    for (text,) in conn.execute("select text_zh from policies"):
        zh += [s.strip() for s in _ZH_SENTENCE.findall(text or "") if len(s.strip()) >= 8]
    for (text,) in conn.execute("select text_en from measures union all select quote_en from targets"):
        en += [s.strip() for s in _EN_SENTENCE.findall(text or "") if len(s.strip()) >= 20]
    conn.close()
    if not zh or not en:
        raise SystemExit(f"{db_path} has no curated measures or policies to draw sentences from")
    return zh, en


def synthetic_records(db_path: Path, count: int, seed: int = 7) -> Iterator[SearchRecord]:
    """`count` passages of one to three Chinese sentences and one English sentence each.

    A passage is indexed as full text (the body); its title, shown in results, is its first words.
    """
    zh, en = sentence_pools(db_path)
    rng = random.Random(seed)
    choice, randint = rng.choice, rng.randint
    for i in range(count):
        body_zh = "".join(choice(zh) for _ in range(randint(1, 3)))
        body_en = choice(en)
        yield SearchRecord(
            type="passages",
            id=f"p{i}",
            url=f"/kechuang/passages/p{i}",
            title_zh=body_zh[:16],
            title_en=" ".join(body_en.split()[:8]),
            parts={"body_zh": [body_zh], "body_en": [body_en]},
        )
