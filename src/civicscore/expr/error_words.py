"""Why an expression in a policy is refused, in Chinese and English: one table.

The expression checker (:mod:`.check`) and the built-in functions' type rules
(:mod:`.functions`) refuse a rule an officer wrote (``unknown name 'agee'``,
``cannot compare int with string``); the officer reads the refusal before anything
else, often in Chinese first. The common refusals are worded here once per language;
an :class:`~civicscore.errors.ExpressionError` carries both (``message_zh``,
``hint_zh``), and the policy problem it becomes shows the officer's language. A
refusal with no Chinese here (the rare shapes: look-alike letters, size limits) is
shown in English inside the Chinese frame.

A Chinese sentence leaves out the English one's "in visit tier 'weekly'": the problem
already names the rule's key (``[visits.tiers[0].when]``) beside it.
"""

from __future__ import annotations

import re
from typing import Any

from .._bilingual import fill_both

SENTENCES: dict[str, dict[str, str]] = {
    "may_not_read": {"en": "{where} may not read {name}: {why}",
                     "zh": "这里不能读取 {name}：{why_zh}"},
    "unknown_name": {"en": "unknown name {name} in {where}", "zh": "未知的名称 {name}"},
    "known_names": {"en": "known names: {names}", "zh": "可用的名称：{names_zh}"},
    "capital_bool": {"en": "write True or False with a capital letter",
                     "zh": "真假值要写作 True 或 False（首字母大写）"},
    "is_function": {"en": "{name} is a function: call it as {name}(...)",
                    "zh": "{name} 是函数，请这样调用：{name}(...)"},
    "unknown_function": {"en": "unknown function {name}", "zh": "未知的函数 {name}"},
    "known_functions": {"en": "known functions: {names}", "zh": "可用的函数：{names_zh}"},
    "not_valid": {"en": "not a valid expression: {msg}", "zh": "不是有效的表达式：{msg_zh}"},
    "single_equals": {"en": "to compare, write == (one = gives a value, which a rule "
                            "cannot do)",
                      "zh": "比较是否相等请写“==”（一个“=”是赋值，规则里不能用）"},
    "empty": {"en": "expression is empty", "zh": "表达式为空"},
    "must_give": {"en": "{where} must give {expect}, this gives {got}",
                  "zh": "这里应得出{expect_zh}，这个表达式得出的是{got_zh}"},
    "needs_bool": {"en": "{what} needs true/false, got {got}",
                   "zh": "{what_zh}需要真/假（true/false），实际为{got_zh}"},
    "compare_it": {"en": "compare it, e.g. x > 0", "zh": "请写成比较，如 x > 0"},
    "cannot_compare": {"en": "cannot compare {left} with {right}",
                       "zh": "不能把{left_zh}和{right_zh}相比较"},
    "only_equality": {"en": "{kind} values can only be compared with == or !=",
                      "zh": "{kind_zh}只能用 == 或 != 比较"},
    "not_a_value": {"en": "{value} is not a value of {fact}", "zh": "{value} 不是 {fact} 的可选值"},
    "allowed": {"en": "allowed: {values}", "zh": "可选值：{values_zh}"},
    "needs_numbers": {"en": "arithmetic '{op}' needs numbers, got {got}",
                      "zh": "运算“{op}”需要数字，实际为{got_zh}"},
    "dates_hint": {"en": "use days_between() or add_days() for dates",
                   "zh": "日期请用 days_between() 或 add_days() 计算"},
    "division_by_zero": {"en": "division by zero", "zh": "除数为零"},
    "branches": {"en": "both branches of 'x if c else y' must have the same type, got "
                       "{then} and {orelse}",
                 "zh": "“x if c else y”的两个分支类型必须相同，实际为{then_zh}和{orelse_zh}"},
    "arity": {"en": "{name}() takes {want} argument(s), got {n}",
              "zh": "{name}() 需要 {want} 个参数，实际给了 {n} 个"},
    "argument_type": {"en": "argument {i} of {name}() must be {allowed}, got {got}",
                      "zh": "{name}() 的第 {i} 个参数应为{allowed_zh}，实际为{got_zh}"},
    "in_needs_list": {"en": "'in' needs a literal list such as [\"a\", \"b\"]",
                      "zh": "“in”后面要写一个列表，如 [\"a\", \"b\"]"},
    "is_not_allowed": {"en": "'is' comparisons are not allowed",
                       "zh": "不能用“is”比较"},
    "use_equals": {"en": "use == or !=", "zh": "请用 == 或 !="},
    "comment": {"en": "'#' starts a comment, which is not allowed inside a rule (it would "
                      "silently drop what follows)",
                "zh": "“#”会开始一段注释，规则里不能使用（它后面的内容会被悄悄忽略）"},
    "comment_fix": {"en": "put notes in the rule's description instead",
                    "zh": "说明文字请写在规则的 description 中"},
}
"""An expression's refusal or its hint, by name, in each language."""

_SYNTAX_ZH: list[tuple[re.Pattern[str], str]] = [
    (re.compile(r"invalid syntax"), "语法有误"),
    (re.compile(r"invalid syntax\. Perhaps you forgot a comma\?"), "语法有误，是否漏了逗号？"),
    (re.compile(r"invalid syntax\. Maybe you meant '==' or ':=' instead of '='\?"),
     "语法有误：比较是否相等请用“==”，不是“=”"),
    (re.compile(r"'(.)' was never closed"), r"“\1”没有闭合"),
    (re.compile(r"unmatched '(.)'"), r"多了一个“\1”"),
    (re.compile(r"closing parenthesis '(.)' does not match opening parenthesis '(.)'"),
     r"右括号“\1”与左括号“\2”不配对"),
    (re.compile(r"unterminated string literal \(detected at line \d+\)"),
     "文本没有结束（缺少引号）"),
    (re.compile(r"expected 'else' after 'if' expression"), "“if”表达式后面缺少“else”"),
]
"""Python's parser's common messages (an expression is parsed by it) in Chinese."""


def syntax_zh(message: str) -> str:
    """A syntax error's message (Python's parser's) in Chinese, or as it is."""
    for pattern, zh in _SYNTAX_ZH:
        if pattern.fullmatch(message):
            return pattern.sub(zh, message)
    return message


TYPES_ZH = {"bool": "真假值", "int": "整数", "decimal": "数字", "string": "文本", "date": "日期"}
"""The expression language's value types in Chinese."""


def type_zh(kind: object) -> str:
    """A type (``int``, or ``int or decimal``) in Chinese; anything else as it is."""
    parts = [t.strip() for t in str(kind).split(" or ")]
    if all(t in TYPES_ZH for t in parts):
        return "或".join(TYPES_ZH[t] for t in parts)
    return str(kind)


def both(sentence: str, /, **values: Any) -> tuple[str, str]:
    """The ``sentence`` in English and Chinese; a Chinese ``{x_zh}`` slot takes ``x_zh``
    when given, else the type ``x`` in Chinese (:func:`type_zh`), which is ``x`` itself
    for anything that is not a type."""
    return fill_both(SENTENCES[sentence], values, type_zh)


__all__ = ["SENTENCES", "TYPES_ZH", "both", "type_zh"]
