"""Filling a sentence written once in English and once in Chinese.

The word tables (``record_words``, ``policy.problem_words``, ``expr.error_words``,
``usage_words``) each hold ``{"en": ..., "zh": ...}`` templates; a Chinese template
may name a slot ``{x_zh}`` where its value is not the English one (住户 for household,
整数 for int). This is the one rule for filling both, so the tables stay data.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any


def fill_both(texts: Mapping[str, str], values: Mapping[str, Any],
              zh_of: Callable[[Any], Any] = lambda value: value) -> tuple[str, str]:
    """``texts`` in English and Chinese with ``values`` filled in: a Chinese ``{x_zh}``
    slot takes ``values["x_zh"]`` when given, else ``zh_of(values["x"])``."""
    zh_values = {**values, **{f"{k}_zh": zh_of(v) for k, v in values.items()
                              if f"{k}_zh" not in values}}
    return texts["en"].format(**values), texts["zh"].format(**zh_values)


def as_pair(text: str | tuple[str, str]) -> tuple[str, str]:
    """A message or hint as (English, Chinese); English alone has no Chinese ("")."""
    return (text, "") if isinstance(text, str) else text


__all__ = ["as_pair", "fill_both"]
