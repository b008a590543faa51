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
from collections.abc import Iterable, Mapping
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

EVALUATION: dict[str, dict[str, str]] = {
    "division_by_zero": {"en": "division by zero", "zh": "除数为零"},
    "int_too_large": {"en": "{value} is too large a whole number",
                      "zh": "{value} 超出整数的范围"},
    "number_too_large": {"en": "the number is too large", "zh": "数值过大"},
    "not_finite": {"en": "cannot round a non-finite number", "zh": "无法对非有限数取整"},
    "date_out_of_range": {"en": "date value out of range", "zh": "日期超出范围"},
    "year_out_of_range": {"en": "year {value} is out of range", "zh": "年份 {value} 超出范围"},
    "value_not_finite": {"en": "the value is not a finite number ({value})",
                         "zh": "结果不是有限的数（{value}）"},
}
"""Why an expression cannot be computed for a record, as the evaluators (and Python's
``datetime``) say it in English, and in each language (:func:`evaluation_error`)."""

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
    # a policy expression that cannot be computed for a record (each scheme's English
    # sentence as scripts already match it); {error} is :func:`evaluation_error`'s
    "multiplier_error": {"en": "record {id}: the condition of multiplier '{rule}' ({text}) "
                               "cannot be computed: {error}",
                         "zh": "记录 {id}：加分系数“{rule}”的条件（{text}）无法计算：{error}"},
    "veto_error": {"en": "subject {id}: veto item '{rule}' ({text}) could not be computed: "
                         "{error}",
                   "zh": "被考核对象 {id}：否决项“{rule}”（{text}）无法计算：{error}"},
    "indicator_error": {"en": "subject {id}: indicator '{rule}' ({text}) could not be computed: "
                              "{error}",
                        "zh": "被考核对象 {id}：指标“{rule}”（{text}）无法计算：{error}"},
    "visit_expr_error": {"en": "household {id}: '{text}' could not be computed ({error})",
                         "zh": "住户 {id}：'{text}' 无法计算（{error}）"},
    "after_as_of": {"en": "{who}: {what} {day}, after the as-of date {as_of}",
                    "zh": "{who}：{what_zh} {day}，晚于评定日期 {as_of}"},
    # a row a reader cannot turn into a record at all (UNREADABLE_ROW): the readers
    # write the English sentence, carried as text through frames and Spark; the reason
    # is worded in the scheme's language by :func:`unreadable`
    "unreadable_cells": {"en": "row {row} (line {line}) has {cells} cells, the header has "
                               "{header}",
                         "zh": "第 {row} 行（文件第 {line} 行）有 {cells} 个单元格，表头有 "
                               "{header} 个"},
    "unreadable_csv": {"en": "row {row} (line {line}) cannot be read: {error}",
                       "zh": "第 {row} 行（文件第 {line} 行）无法读取：{error}"},
    "unreadable_json": {"en": "row {row} (line {line}) is not valid JSON: {error}",
                        "zh": "第 {row} 行（文件第 {line} 行）不是有效的 JSON：{error}"},
    "unreadable_object_line": {"en": "row {row} (line {line}) is not a JSON object",
                               "zh": "第 {row} 行（文件第 {line} 行）不是 JSON 对象"},
    "unreadable_object": {"en": "row {row} is not a JSON object",
                          "zh": "第 {row} 条不是 JSON 对象"},
    "unreadable_record": {"en": "row {row} is not a record with named fields",
                          "zh": "第 {row} 条不是带字段名的记录"},
    # the same, for a row of one file of a directory read as one input: {row} counts
    # through the whole input, {line} (or {item}, of a JSON list) is the file's own
    "unreadable_cells_in": {"en": "row {row} ({file} line {line}) has {cells} cells, the "
                                  "header has {header}",
                            "zh": "第 {row} 行（{file} 第 {line} 行）有 {cells} 个单元格，"
                                  "表头有 {header} 个"},
    "unreadable_csv_in": {"en": "row {row} ({file} line {line}) cannot be read: {error}",
                          "zh": "第 {row} 行（{file} 第 {line} 行）无法读取：{error}"},
    "unreadable_json_in": {"en": "row {row} ({file} line {line}) is not valid JSON: {error}",
                           "zh": "第 {row} 行（{file} 第 {line} 行）不是有效的 JSON：{error}"},
    "unreadable_object_line_in": {"en": "row {row} ({file} line {line}) is not a JSON object",
                                  "zh": "第 {row} 行（{file} 第 {line} 行）不是 JSON 对象"},
    "unreadable_object_in": {"en": "row {row} ({file} item {item}) is not a JSON object",
                             "zh": "第 {row} 条（{file} 第 {item} 条）不是 JSON 对象"},
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


# the sentences naming a file first: "row 7 (f.csv line 3) is not a JSON object" would
# read as unreadable_object of "row 7 (f.csv line 3)" (the first pattern that matches wins)
_UNREADABLE = ("unreadable_cells_in", "unreadable_csv_in", "unreadable_json_in",
               "unreadable_object_line_in", "unreadable_object_in",
               "unreadable_cells", "unreadable_csv", "unreadable_json",
               "unreadable_object_line", "unreadable_object", "unreadable_record")


def unreadable_row(name: str, file: str | None, **values: Any) -> str:
    """The English sentence ``name`` of an ``UNREADABLE_ROW`` as a reader writes it: as it
    is for a file read alone, or its ``_in`` variant naming ``file`` (the name of one
    file of a directory read as one input, whose ``{line}`` or ``{item}`` it is)."""
    if file is None:
        return say(name, "en", **values)
    return say(name + "_in", "en", file=file, **values)


_META = re.compile(r"([\\.^$|?*+()\[\]{}])")


_NUMBERS = frozenset({"row", "line", "item", "cells", "header"})
"""Slots that are always a number: matched as digits only, so that a sentence cannot
be read as another whose slot swallows words (``row 7 (f.csv line 3)`` is no row)."""


def template_pattern(template: str) -> str:
    """The English ``template`` as a regular expression that Python's ``re`` and polars'
    (Rust's) both read alike: one named group per slot, the text around it literal."""
    parts = re.split(r"\{(\w+)\}", template)
    return "(?s)^" + "".join(
        _META.sub(r"\\\1", p) if i % 2 == 0
        else f"(?P<{p}>[0-9]+)" if p in _NUMBERS else f"(?P<{p}>.*?)"
        for i, p in enumerate(parts)) + "$"


Patterns = list[tuple[str, re.Pattern[str]]]


def patterns_of(table: Mapping[str, Mapping[str, str]],
                names: Iterable[str] | None = None) -> Patterns:
    """The English templates of ``table`` (those of ``names``, in that order) as
    :func:`template_pattern`, for :func:`read_back`."""
    return [(name, re.compile(template_pattern(table[name]["en"])))
            for name in (table if names is None else names)]


def read_back(message: str, patterns: Patterns) -> tuple[str, dict[str, str]] | None:
    """The template an English ``message`` was written from (the first of ``patterns``
    that matches it whole) and the values of its slots; None when none matches."""
    for name, pattern in patterns:
        found = pattern.fullmatch(message)
        if found is not None:
            return name, found.groupdict()
    return None


_UNREADABLE_PATTERNS = patterns_of(SENTENCES, _UNREADABLE)
_EVALUATION_PATTERNS = patterns_of(EVALUATION)


def unreadable(message: str, lang: str) -> str:
    """An ``UNREADABLE_ROW`` message (the English sentence a reader wrote) in ``lang``.

    The readers (CSV, JSON Lines, JSON, and Spark's, which run on workers) write one
    English sentence from :data:`SENTENCES`, which frames and Arrow batches carry as text;
    here it is read back into its slots and written in ``lang``, so every engine gives
    the same words. A parser's own detail (Python's ``csv`` or ``json`` error) stays as
    the parser wrote it. A message from elsewhere is returned as it is."""
    if lang == "en" or (said := read_back(message, _UNREADABLE_PATTERNS)) is None:
        return message
    return say(said[0], lang, **said[1])


def unreadable_expr(message: pl.Expr | pl.Series, lang: str) -> pl.Expr:
    """:func:`unreadable` of a column of messages, in polars (no Python per row): the
    same patterns, each replaced by the language's template with its slots refilled."""
    import polars as pl

    text = pl.lit(message) if isinstance(message, pl.Series) else message
    if lang == "en":
        return text
    out = text
    for name, _ in reversed(_UNREADABLE_PATTERNS):  # the first pattern that matches wins
        pattern = template_pattern(SENTENCES[name]["en"])
        target = re.sub(r"\{(\w+)\}", r"${\1}", SENTENCES[name][lang].replace("$", "$$"))
        out = pl.when(text.str.contains(pattern)) \
            .then(text.str.replace(pattern, target)).otherwise(out)
    return out


def evaluation_error(error: BaseException | str, lang: str) -> str:
    """Why an expression cannot be computed (an evaluator's ``ArithmeticError`` or
    ``ValueError``) in ``lang``: the English text read back into :data:`EVALUATION`'s
    slots; an error it does not know stays as Python wrote it."""
    message = str(error)
    if lang == "en" or (said := read_back(message, _EVALUATION_PATTERNS)) is None:
        return message
    return EVALUATION[said[0]][lang].format(**said[1])
