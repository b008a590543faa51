"""Protected characteristics that no policy may read.

Scores here recognise effort and allocate care. Sorting residents by who they
are (their ethnicity, religion or politics) is not something a policy file
can be made to do: the loader refuses any fact whose name, label, description
or allowed values denote such a characteristic, and there is deliberately no
switch to turn this off in TOML.

Matching is on whole words of the (snake_case or spaced) English text and on
substrings of Chinese text, so ``party_member`` and ``政治面貌`` are caught
while ``third_party_hours`` is not.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterable

# English: single words that on their own denote a protected characteristic.
_WORDS: dict[str, str] = {
    "ethnicity": "ethnicity",
    "ethnic": "ethnicity",
    "ethnics": "ethnicity",
    "race": "race",
    "racial": "race",
    "minzu": "ethnicity",
    "nationality": "ethnicity or nationality",
    "tribe": "ethnicity",
    "tribal": "ethnicity",
    "caste": "caste",
    "religion": "religion",
    "religious": "religion",
    "religiosity": "religion",
    "faith": "religion",
    "worship": "religion",
    "mosque": "religion",
    "church": "religion",
    "temple": "religion",
    "prayer": "religion",
    "zongjiao": "religion",
    "muslim": "religion",
    "christian": "religion",
    "buddhist": "religion",
    "islam": "religion",
    "islamic": "religion",
    "uyghur": "ethnicity",
    "uighur": "ethnicity",
    "tibetan": "ethnicity",
    "gay": "sexual orientation",
    "lesbian": "sexual orientation",
    "homosexual": "sexual orientation",
    "bisexual": "sexual orientation",
    "political": "political opinion or affiliation",
    "politics": "political opinion or affiliation",
    "ideology": "political opinion or affiliation",
    "sexuality": "sexual orientation",
    "lgbt": "sexual orientation",
    "petition": "petitioning or complaints to authorities",
    "petitioner": "petitioning or complaints to authorities",
    "xinfang": "petitioning or complaints to authorities",
}

# English: word pairs (adjacent in snake_case or text).
_PAIRS: dict[tuple[str, str], str] = {
    ("party", "member"): "political affiliation",
    ("party", "membership"): "political affiliation",
    ("party", "affiliation"): "political affiliation",
    ("political", "party"): "political affiliation",
    ("communist", "party"): "political affiliation",
    ("sexual", "orientation"): "sexual orientation",
    ("gender", "identity"): "gender identity",
    ("skin", "colour"): "race",
    ("skin", "color"): "race",
    ("trade", "union"): "trade-union membership",
    ("union", "member"): "trade-union membership",
}

# Chinese: substrings.
_ZH: dict[str, str] = {
    "民族": "ethnicity (民族)",
    "种族": "race (种族)",
    "族别": "ethnicity (族别)",
    "族裔": "ethnicity (族裔)",
    "宗教": "religion (宗教)",
    "信教": "religion (信教)",
    "信仰": "religion or belief (信仰)",
    "礼拜": "religion (礼拜)",
    "清真": "religion (清真)",
    "政治面貌": "political affiliation (政治面貌)",
    "政治": "political opinion (政治)",
    "党员": "political affiliation (党员)",
    "党派": "political affiliation (党派)",
    "入党": "political affiliation (入党)",
    "性取向": "sexual orientation (性取向)",
    "同性恋": "sexual orientation (同性恋)",
    "穆斯林": "religion (穆斯林)",
    "基督": "religion (基督)",
    "佛教": "religion (佛教)",
    "伊斯兰": "religion (伊斯兰)",
    "团员": "political affiliation (团员)",
    "汉族": "ethnicity (汉族)",
    "维吾尔": "ethnicity (维吾尔)",
    "回族": "ethnicity (回族)",
    "藏族": "ethnicity (藏族)",
    "蒙古族": "ethnicity (蒙古族)",
    "哈萨克": "ethnicity (哈萨克)",
    "少数民族": "ethnicity (少数民族)",
    "上访": "petitioning (上访)",
    "信访": "petitioning (信访)",
}

_SPLIT = re.compile(r"[^a-z]+")
_CAMEL = re.compile(r"(?<=[a-z])(?=[A-Z])")


def _words(text: str) -> list[str]:
    return [w for w in _SPLIT.split(_CAMEL.sub("_", text).lower()) if w]


def protected_reason(*texts: str | None) -> str | None:
    """The characteristic a text denotes, or ``None`` when it denotes none."""
    for text in texts:
        if not text:
            continue
        words = _words(text)
        for a, b in itertools.pairwise(words):
            if (a, b) in _PAIRS:
                return _PAIRS[(a, b)]
        for w in words:
            if w in _WORDS:
                return _WORDS[w]
        for needle, why in _ZH.items():
            if needle in text:
                return why
    return None


def protected_in(values: Iterable[str]) -> tuple[str, str] | None:
    """The first value (of an enum) that names a protected group, with the reason."""
    for v in values:
        why = protected_reason(v)
        if why:
            return v, why
        if v.strip().endswith("族") and len(v.strip()) <= 6:  # 汉族, 回族, 维吾尔族 ...
            return v, "ethnicity (the name of an ethnic group)"
    return None
