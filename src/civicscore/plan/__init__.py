"""A scheme's decision as a plan: named row steps over the checked expression IR.

``ops`` holds the node types and their semantics; ``python`` renders a plan to
one straight-line Python function per compiled policy; ``polars`` builds the
same plan as lazy polars columns. Neither backend knows any scheme.
"""

from .ops import (
    STRINGS,
    AddPeriod,
    All,
    AnyOf,
    Codes,
    Compare,
    CountTrue,
    Expr,
    Failed,
    FirstTrue,
    Greatest,
    IfElse,
    Input,
    IsNull,
    Least,
    Let,
    Lit,
    Not,
    Op,
    Operand,
    Pick,
    Plan,
    Ref,
    RoundDiv,
    Threshold,
)

__all__ = ["STRINGS", "AddPeriod", "All", "AnyOf", "Codes", "Compare", "CountTrue", "Expr",
           "Failed", "FirstTrue", "Greatest", "IfElse", "Input", "IsNull", "Least", "Let", "Lit",
           "Not", "Op", "Operand", "Pick", "Plan", "Ref", "RoundDiv", "Threshold"]
