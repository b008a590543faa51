"""A scheme's decision as a plan: named row steps over the checked expression IR.

``ops`` holds the node types and their semantics; ``python`` renders a plan to
one straight-line Python function per compiled policy; ``polars`` builds the
same plan as lazy polars columns. Neither backend knows any scheme. ``hit`` states
DMN's hit policies once, as steps of those ops (a decision table's rules in, the
chosen rule, a violation, the list of matches and an aggregate out), so a scheme
with a decision table and the DMN TCK conformance test share one meaning.
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
