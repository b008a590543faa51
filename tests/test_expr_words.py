"""expr.words: a checked condition in plain Chinese words, by the facts' labels.

The words render the tree the checker made (no second meaning): each fact by its
label, ranges as one, and/or nested in brackets, the built-in functions as phrases,
a plugin's function as it is called.
"""

from __future__ import annotations

import pytest

from civicscore.expr import Fact, Scope, Type, compile_expression
from civicscore.expr.functions import builtin_functions
from civicscore.expr.words import plain_zh

FACTS = {"age": Fact(Type.INT), "alone": Fact(Type.BOOL), "discharged_on": Fact(Type.DATE),
         "need": Fact(Type.DECIMAL), "kind": Fact(Type.STRING, ("a", "b", "c")),
         "as_of": Fact(Type.DATE)}
LABELS = {"age": "年龄", "alone": "独居", "discharged_on": "出院日期", "need": "困难程度",
          "kind": "类别"}


def said(text: str, labels: dict[str, str] = LABELS) -> str:
    scope = Scope(FACTS, builtin_functions(lambda d: False))
    return plain_zh(compile_expression(text, scope).node, labels)


@pytest.mark.parametrize(("text", "words"), [
    ("age >= 80 and alone", "年龄 ≥ 80，且独居"),
    ("(age >= 80 and alone) or need > 2.5", "（年龄 ≥ 80，且独居），或困难程度 > 2.5"),
    ("age >= 60 and (alone or need > 2)", "年龄 ≥ 60，且（独居，或困难程度 > 2）"),
    ("0 <= days_between(discharged_on, as_of) <= 30",
     "从出院日期到计算日期的天数在 0 到 30 之间"),
    ("not alone", "并非独居"),
    ('kind in ["a", "b"]', "类别是“a”、“b”之一"),
    ("age - 60 > need * 2", "年龄 - 60 > 困难程度 × 2"),
    ("is_holiday(as_of)", "计算日期是法定节假日"),
    ("max(age, 60) == 60", "年龄、60 中较大者 = 60"),
])
def test_conditions_in_words(text: str, words: str) -> None:
    assert said(text) == words


def test_a_fact_without_a_label_is_named_and_spaced() -> None:
    assert said("age >= 80 and alone", {}) == "age ≥ 80，且 alone"
