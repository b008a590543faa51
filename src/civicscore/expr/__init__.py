"""The policy expression language: check once, compile, evaluate many times.

``compile_expression`` is the one entry point the schemes use; the pieces
(``check`` for text -> typed IR, ``to_python`` for IR -> callable) are kept
apart so that the batch evaluator can compile the same IR differently.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from .check import Fact, Scope, check
from .functions import (
    Function,
    FunctionTable,
    builtin_functions,
    round_half_up,
    simple_function,
    standard_functions,
)
from .ir import Node, Type, names_read
from .to_python import to_python

__all__ = [
    "Expression",
    "Fact",
    "Function",
    "FunctionTable",
    "Scope",
    "Type",
    "builtin_functions",
    "check",
    "compile_expression",
    "round_half_up",
    "simple_function",
    "standard_functions",
]


@dataclass(frozen=True, slots=True)
class Expression:
    """A checked, compiled expression; call it with a record mapping."""

    text: str
    node: Node
    reads: tuple[str, ...]
    fn: Callable[[Mapping[str, Any]], Any]

    @property
    def type(self) -> Type:
        return self.node.type

    def __call__(self, record: Mapping[str, Any]) -> Any:
        return self.fn(record)

    def values_read(self, record: Mapping[str, Any]) -> dict[str, Any]:
        """The facts this expression read, with their values, for an explanation."""
        return {name: record[name] for name in self.reads if name in record}


def compile_expression(text: str, scope: Scope, expect: Type | None = None) -> Expression:
    """Check ``text`` against ``scope`` and compile it; raises ``ExpressionError``."""
    node = check(text, scope, expect)
    shown = " ".join(text.split())  # a condition written over several lines reads as one
    return Expression(shown, node, names_read(node), to_python(node, scope.functions))
