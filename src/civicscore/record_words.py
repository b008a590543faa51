"""What a rejected record is told, in Chinese and English: one table, both engines.

A record is rejected with a reason an officer reads before anything else ("row 7:
field 'age': expected a whole number, got 'eighty'"), so the words are part of the
meaning, and are written once per language, here:

* :data:`DETAILS` says what is wrong with one value (what ``records.py`` refuses:
  "expected a whole number, got 'eighty'" / "应为整数，实际为 'eighty'"). A
  :class:`~civicscore.errors.RecordError` carries both languages' details, filled from
  this table, so a refused value is described alike wherever it is read: per record,
  and in batch (which calls the same conversion once per distinct refused value).
* :data:`SENTENCES` are the sentences around a detail and the checks every scheme makes
  of a record as a whole (a field missing, an id seen before, the frame "<record>:
  field 'x': <detail>"). The per-record path fills them with :func:`say`; the batch
  path turns the same template into a :class:`~civicscore.plan.words.Words` with
  :func:`words` (each ``{slot}`` a column, or a literal), or into one polars
  expression with :func:`expr`, so there is no second spelling of any sentence to
  drift.

A record is named "row N" until its id is known, then "record <id>" (``记录 <id>`` /
``第 N 行``); :func:`who` turns the English label the schemes pass around into the
language's.

The language is chosen by :func:`~civicscore.messages.reasons_language`, like every
other reason; the English words are the ones scripts already match and do not change.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # polars is the optional batch extra
    import polars as pl

    from .plan.words import Slot, Words

DETAILS: dict[str, dict[str, str]] = {
    "expected_text": {"en": "expected text, got {value}",
                      "zh": "应为文本，实际为 {value}"},
    "broken_text": {"en": "contains characters that are not valid text (a broken UTF-16 "
                          "surrogate)",
                    "zh": "含有无效的文本字符（残缺的 UTF-16 代理项）"},
    "invisible_id": {"en": "{value} has no visible characters once format characters (such "
                           "as a zero-width space) and spaces are removed; an id needs at "
                           "least one",
                     "zh": "{value} 去掉格式字符（如零宽空格）和空格后没有可见字符；"
                           "编号至少要有一个可见字符"},
    "expected_bool": {"en": "expected true or false, got {value}",
                      "zh": "应为 true 或 false（是/否），实际为 {value}"},
    "expected_int": {"en": "expected a whole number, got {value}",
                     "zh": "应为整数，实际为 {value}"},
    "int_too_large": {"en": "{value} is too large a whole number (the limit is {limit})",
                      "zh": "{value} 超出整数的范围（上限为 {limit}）"},
    "number_too_large": {"en": "{value} is too large a number",
                         "zh": "{value} 数值过大"},
    "expected_number": {"en": "expected a number, got {value}",
                        "zh": "应为数字，实际为 {value}"},
    "expected_finite": {"en": "expected a finite number, got {value}",
                        "zh": "应为有限的数字，实际为 {value}"},
    "expected_date": {"en": "expected a date YYYY-MM-DD, got {value}",
                      "zh": "应为日期，如 2025-03-01（也可写 2025/3/1 或 2025年3月1日），"
                            "实际为 {value}"},
    "expected_datetime": {"en": "expected a date and time such as 2025-03-01T09:30, got "
                                "{value}",
                          "zh": "应为日期和时间，如 2025-03-01T09:30，实际为 {value}"},
    "required": {"en": "is required and missing",
                 "zh": "必填，但没有填写"},
    "not_allowed": {"en": "{value} is not an allowed value ({hint})",
                    "zh": "{value} 不是允许的取值（{hint}）"},
    "below_min": {"en": "{value} is below the minimum {limit}",
                  "zh": "{value} 低于下限 {limit}"},
    "above_max": {"en": "{value} is above the maximum {limit}",
                  "zh": "{value} 高于上限 {limit}"},
    "did_you_mean": {"en": "did you mean {choice}?",
                     "zh": "是否想写 {choice}？"},
    "allowed": {"en": "allowed: {choices}",
                "zh": "允许的取值：{choices}"},
    "not_a_record": {"en": "not a record with named fields",
                     "zh": "不是带字段名的记录"},
}
"""What is wrong with one value, by kind, in each language (``{value}`` is the value as
``records.shown`` quotes it)."""

SENTENCES: dict[str, dict[str, str]] = {
    "row": {"en": "row {row}", "zh": "第 {row} 行"},
    "record": {"en": "record {id}", "zh": "记录 {id}"},
    "field": {"en": "{who}: field '{field}': {detail}",
              "zh": "{who}：字段“{field}”：{detail}"},
    "missing": {"en": "{who}: field '{field}' is required and missing",
                "zh": "{who}：字段“{field}”为必填项，但没有填写"},
    "required_when": {"en": "{who}: field '{field}' is required when {when}",
                      "zh": "{who}：填写了{when_zh}时，字段“{field}”为必填项"},
    "duplicate": {"en": "{thing} id {id} already appears in row {first}",
                  "zh": "{thing_zh}编号 {id} 已在第 {first} 行出现"},
    "cannot_evaluate": {"en": "{who}: {thing} '{id}' ({text}) cannot be evaluated: {error}",
                        "zh": "{who}：{thing_zh}“{id}”（{text}）无法判定：{error}"},
    "after_as_of": {"en": "{who}: {what} {day}, after the as-of date {as_of}",
                    "zh": "{who}：{what_zh} {day}，晚于评定日期 {as_of}"},
    "no_scorecard": {"en": "{who}: no scorecard applies to it (fields {fields}: {tests})",
                     "zh": "{who}：没有适用的考核表（字段 {fields}：{tests_zh}）"},
    "two_scorecards": {"en": "{who}: scorecards {cards} all apply to it (fields {fields}); "
                             "exactly one must",
                       "zh": "{who}：考核表 {cards} 同时适用（字段 {fields}），只能适用一个"},
    "cohort_missing": {"en": "{who}: field '{field}' is required to place it in a quota cohort "
                             "(cohort_by of scorecard {card}) and is missing",
                       "zh": "{who}：字段“{field}”缺失，无法确定其名额限制的分组（考核表 {card} "
                             "的 cohort_by）"},
}
"""The sentences of a rejection, by name, in each language."""

THINGS_ZH = {"household": "住户", "record": "记录", "subject": "被考核对象",
             "volunteer": "志愿者", "redemption": "兑换"}
"""What an id names, in Chinese, for the ``duplicate`` sentence."""


def detail(kind: str, lang: str, **values: Any) -> str:
    """What :data:`DETAILS` says of ``kind`` in ``lang``, with ``values`` filled in."""
    return DETAILS[kind][lang].format(**values)


def details(kind: str, **values: Any) -> dict[str, str]:
    """The detail ``kind`` in every language: what a ``RecordError`` carries."""
    return {lang: text.format(**values) for lang, text in DETAILS[kind].items()}


_ROW = re.compile(r"row (\d+)")


def who(label: str, lang: str) -> str:
    """The name of a record in a sentence: ``row 7`` or ``record H1`` (the English label
    the schemes pass around: a row label, or the record's id) in ``lang``."""
    found = _ROW.fullmatch(label)
    if found is not None:
        return say("row", lang, row=found.group(1))
    return say("record", lang, id=label)


def say(name: str, lang: str, **values: Any) -> str:
    """The sentence ``name`` in ``lang`` with ``values`` filled in. A Chinese sentence may
    name a slot ``x_zh`` where its value is not the English one (``thing_zh``: 住户 for
    household); the English ``x`` is used where no ``x_zh`` is given."""
    template = SENTENCES[name][lang]
    if lang != "en":
        values = {**values, **{f"{k}_zh": v for k, v in values.items()
                               if f"{k}_zh" not in values}}
    return template.format(**values)


def words(name: str, lang: str, slots: Mapping[str, str | Slot]) -> Words:
    """The sentence ``name`` in ``lang`` as plan ``Words``: each ``{slot}`` of the
    template is the literal or the :class:`~civicscore.plan.words.Slot` ``slots`` gives
    (a ``{x_zh}`` slot falls back to ``x``), for the batch renderer."""
    from .plan.words import Words

    template = SENTENCES[name][lang]
    parts: list[Any] = []
    for i, piece in enumerate(re.split(r"\{(\w+)\}", template)):
        if i % 2 == 0:
            parts.append(piece)
            continue
        key = piece if piece in slots or not piece.endswith("_zh") else piece[:-3]
        parts.append(slots[key])
    return Words.of(*parts)


def expr(name: str, lang: str, **slots: Any) -> pl.Expr:
    """The sentence ``name`` in ``lang`` as one polars text expression: each ``{slot}``
    of the template is ``slots``' literal text, or its expression or Series (a date is
    written ``YYYY-MM-DD``, as ``str(date)`` writes it per record); null where a slot is
    null, as the batch rejections expect of a check that does not apply."""
    import polars as pl

    template = SENTENCES[name][lang]
    parts: list[pl.Expr] = []
    for i, piece in enumerate(re.split(r"\{(\w+)\}", template)):
        if i % 2 == 0:
            if piece:
                parts.append(pl.lit(piece, dtype=pl.String))
            continue
        key = piece if piece in slots or not piece.endswith("_zh") else piece[:-3]
        value = slots[key]
        if isinstance(value, pl.Series):
            value = pl.lit(value)
        if isinstance(value, pl.Expr):
            parts.append(value)
        else:
            parts.append(pl.lit(str(value), dtype=pl.String))
    return pl.concat_str(parts)


def who_expr(label: pl.Expr | pl.Series, lang: str) -> pl.Expr:
    """:func:`who` of a column of English labels (``row 7`` or an id) in polars."""
    import polars as pl

    text = pl.lit(label) if isinstance(label, pl.Series) else label
    number = text.str.extract(r"^row (\d+)$", 1)
    return pl.when(number.is_not_null()).then(expr("row", lang, row=number)) \
        .otherwise(expr("record", lang, id=text))
