"""A checked expression in plain Chinese words, for the people a reason is read by.

A reason quotes the condition that decided it. Officers wrote that condition in
the policy's expression language (``(age_oldest >= 80 and lives_alone) or
life_threatening_illness``), and they can read it back; a household or a liaison
who reads Chinese first should not have to. :func:`plain_zh` writes the same
checked tree (``expr.ir``) in words: each fact by its Chinese label (its name
where it has none), comparisons as ``≥ ≤ > < = ≠``, ``and``/``or``/``not`` as
且/或/并非, a range ``0 <= x <= 30`` as one, and each built-in function as a
phrase (``days_between(a, b)`` is 从 a 到 b 的天数). A plugin's function is
written as it is called, since only its author knows what it means.

The words are a rendering of the tree, not a second meaning: nothing is
evaluated here, and the reason still lists every value read, as the policy
names it, so an officer can check one against the other.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping
from typing import Any

from .ir import Binary, BoolOp, Call, Compare, Const, IfElse, In, Name, Node, Unary

#: The built-in names every expression may read, in words.
BUILTINS_ZH = {"as_of": "计算日期", "last_visit": "上次探访日期"}

_COMPARE = {"<": "<", "<=": "≤", ">": ">", ">=": "≥", "==": "=", "!=": "≠"}
_ARITH = {"+": "+", "-": "-", "*": "×", "/": "÷", "**": "^"}
#: How tightly each kind of node binds: a child that binds looser is bracketed.
_OR, _AND, _NOT, _CMP, _SUM, _PRODUCT, _ATOM = range(7)


#: A Chinese character beside a Latin letter or digit: typeset with a space between.
_MIXED = re.compile(r"(?<=[\u4e00-\u9fff])(?=[A-Za-z0-9_])|(?<=[A-Za-z0-9_])(?=[\u4e00-\u9fff])")


def plain_zh(node: Node, labels: Mapping[str, str] | None = None) -> str:
    """``node`` in Chinese words; ``labels`` names each fact (its ``label``)."""
    return _MIXED.sub(" ", _say(node, labels or {})[0])


def _name(name: str, labels: Mapping[str, str]) -> str:
    return labels.get(name) or BUILTINS_ZH.get(name) or name


def _const(value: Any) -> str:
    if isinstance(value, bool):
        return "是" if value else "否"
    if isinstance(value, str):
        return f"“{value}”"
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


def _wrap(said: tuple[str, int], at_least: int) -> str:
    text, strength = said
    return text if strength >= at_least else f"（{text}）"


def _range(node: BoolOp, labels: Mapping[str, str]) -> str | None:
    """``lo <= x <= hi`` (two comparisons of one middle, as a chained comparison is
    checked) as one range, or None."""
    if node.op != "and" or len(node.values) != 2:
        return None
    a, b = node.values
    if not (isinstance(a, Compare) and isinstance(b, Compare)) or a.right != b.left:
        return None
    if a.op not in ("<", "<=") or b.op not in ("<", "<="):
        return None
    mid = _wrap(_say(a.right, labels), _SUM)
    lo, hi = _wrap(_say(a.left, labels), _SUM), _wrap(_say(b.right, labels), _SUM)
    if a.op == b.op == "<=":
        return f"{mid}在 {lo} 到 {hi} 之间"
    return f"{lo} {_COMPARE[a.op]} {mid} {_COMPARE[b.op]} {hi}"


def _say(node: Node, labels: Mapping[str, str]) -> tuple[str, int]:
    """The words of ``node`` and how tightly they bind."""
    if isinstance(node, Const):
        return _const(node.value), _ATOM
    if isinstance(node, Name):
        return _name(node.name, labels), _ATOM
    if isinstance(node, Unary):
        if node.op == "not":
            return f"并非{_wrap(_say(node.operand, labels), _ATOM)}", _NOT
        return f"{node.op}{_wrap(_say(node.operand, labels), _ATOM)}", _PRODUCT
    if isinstance(node, Binary):
        strength = _SUM if node.op in ("+", "-") else _PRODUCT
        left = _wrap(_say(node.left, labels), strength)
        right = _wrap(_say(node.right, labels), strength + 1)
        return f"{left} {_ARITH.get(node.op, node.op)} {right}", strength
    if isinstance(node, Compare):
        return (f"{_wrap(_say(node.left, labels), _SUM)} {_COMPARE[node.op]} "
                f"{_wrap(_say(node.right, labels), _SUM)}"), _CMP
    if isinstance(node, BoolOp):
        ranged = _range(node, labels)
        if ranged is not None:
            return ranged, _CMP
        # an and/or inside another is always bracketed: "，且" and "，或" side by side
        # do not show which binds first to a reader who does not know the rule
        joined = "，且" if node.op == "and" else "，或"
        parts = []
        for v in node.values:
            said = _say(v, labels)
            nested = isinstance(v, BoolOp) and said[1] in (_AND, _OR)
            parts.append(f"（{said[0]}）" if nested or said[1] < _NOT else said[0])
        return joined.join(parts), (_AND if node.op == "and" else _OR)
    if isinstance(node, IfElse):
        return (f"若{_say(node.cond, labels)[0]}则为{_wrap(_say(node.then, labels), _SUM)}，"
                f"否则为{_wrap(_say(node.orelse, labels), _SUM)}"), _OR
    if isinstance(node, In):
        options = "、".join(_const(o) for o in node.options)
        verb = "不是" if node.negate else "是"
        return f"{_wrap(_say(node.operand, labels), _SUM)}{verb}{options}之一", _CMP
    if isinstance(node, Call):
        return _call(node, labels), _ATOM
    return str(node), _ATOM  # pragma: no cover - every node kind is above


def _call(node: Call, labels: Mapping[str, str]) -> str:
    args = [_wrap(_say(a, labels), _SUM) for a in node.args]
    f = node.func
    if f == "days_between" and len(args) == 2:
        return f"从{args[0]}到{args[1]}的天数"
    if f == "add_days" and len(args) == 2:
        return f"{args[0]}后第 {args[1]} 天"
    if f in ("min", "max"):
        return f"{'、'.join(args)}中{'较小' if f == 'min' else '较大'}者"
    phrases = {"abs": "{0}的绝对值", "year": "{0}的年份", "month": "{0}的月份",
               "day": "{0}是当月第几日", "weekday": "{0}是星期几（1 为星期一）",
               "is_holiday": "{0}是法定节假日", "is_workday": "{0}是工作日",
               "is_makeup_workday": "{0}是调休上班日"}
    if f in phrases and len(args) == 1:
        return phrases[f].format(*args)
    if f == "round_half_up":
        digits = args[1] if len(args) > 1 else "0"
        return f"{args[0]}四舍五入保留 {digits} 位小数"
    if f == "clamp" and len(args) == 3:
        return f"{args[0]}（限定在 {args[1]} 到 {args[2]} 之间）"
    if f == "date" and len(node.args) == 1 and isinstance(node.args[0], Const):
        return str(node.args[0].value)
    return f"{f}({', '.join(args)})"  # a plugin's function: as it is called
