"""Policy expression text -> checked, typed IR.

The text is parsed by Python's own ``ast`` module (no home-made parser), then
every node is either translated into the IR or refused. Refusal is the
default: only the node kinds named in ``_convert`` are accepted, so attribute
access, subscripts, lambdas, comprehensions, walrus, starred arguments,
f-strings, bytes and anything added to Python later are all outside the
language without a blacklist to maintain. Nothing here, or anywhere else,
passes policy text to ``eval`` or ``exec``.

Names are checked against the declared facts and types are checked as the
tree is built, so a mistake is reported with the column it starts at.
"""

from __future__ import annotations

import ast
import io
import math
import re
import tokenize
import unicodedata
import warnings
from collections.abc import Mapping
from dataclasses import dataclass, field

from .._suggest import did_you_mean_both, one_of
from ..errors import ExpressionError
from . import error_words as ew
from .functions import FunctionTable
from .ir import Binary as BinaryNode
from .ir import BoolOp, Call, Compare, Const, IfElse, In, Name, Node, Type, Unary

MAX_LENGTH = 2000
MAX_NODES = 300
MAX_DEPTH = 40
MAX_INT = 10**15
MAX_STRING = 500
MAX_POWER = 6
MAX_IN_OPTIONS = 200

_ARITH = {ast.Add: "+", ast.Sub: "-", ast.Mult: "*", ast.Div: "/", ast.Pow: "**"}
_OTHER_OPERATORS = {ast.Mod: "%", ast.FloorDiv: "//", ast.MatMult: "@", ast.LShift: "<<",
                    ast.RShift: ">>", ast.BitAnd: "&", ast.BitOr: "|", ast.BitXor: "^"}
_CMP = {ast.Lt: "<", ast.LtE: "<=", ast.Gt: ">", ast.GtE: ">=", ast.Eq: "==", ast.NotEq: "!="}
_WHAT = {
    ast.Attribute: "attribute access (a.b)",
    ast.Subscript: "subscripts (a[b])",
    ast.Lambda: "lambda",
    ast.ListComp: "comprehensions",
    ast.SetComp: "comprehensions",
    ast.DictComp: "comprehensions",
    ast.GeneratorExp: "comprehensions",
    ast.NamedExpr: "assignment (:=)",
    ast.Starred: "starred arguments (*x)",
    ast.JoinedStr: "f-strings",
    ast.Await: "await",
    ast.Yield: "yield",
    ast.YieldFrom: "yield",
    ast.Dict: "dictionaries",
    ast.Set: "sets outside 'in'",
    ast.List: "lists outside 'in'",
    ast.Tuple: "tuples outside 'in'",
}


@dataclass(frozen=True, slots=True)
class Fact:
    """What the checker needs to know about one readable name."""

    type: Type
    values: tuple[str, ...] = ()  # allowed values of an enum (string) fact


@dataclass(frozen=True)
class Scope:
    """The names and functions an expression may use."""

    names: Mapping[str, Fact]
    functions: FunctionTable
    where: str = "expression"  # e.g. "visit tier 'weekly'"; used in messages
    #: name -> why it may not be read: English, or (English, Chinese)
    forbidden: Mapping[str, str | tuple[str, str]] = field(default_factory=dict)


def _script(c: str) -> str:
    """LATIN, CYRILLIC, GREEK, CJK ... of a letter, to catch look-alike spellings."""
    name = unicodedata.name(c, "")
    if c.isascii():
        return "LATIN"
    for script in ("LATIN", "CYRILLIC", "GREEK", "ARMENIAN", "CHEROKEE"):
        if name.startswith(script):
            return script
    if name.startswith(("CJK", "HIRAGANA", "KATAKANA", "HANGUL")):
        return "CJK"
    return "OTHER"


def _char_offset(text: str, byte_offset: int | None) -> int:
    """ast reports UTF-8 byte offsets; officers count characters (e.g. 年龄)."""
    if byte_offset is None:
        return 0
    return len(text.encode("utf-8")[:byte_offset].decode("utf-8", errors="ignore"))


_ZH_LIST = ("、", " 或 ")
"""How a Chinese sentence lists choices (:func:`~civicscore._suggest.one_of`'s words)."""

_WHAT_ZH = {"the condition of 'x if c else y'": "“x if c else y”的条件",
            "'and'": "“and”", "'or'": "“or”", "'not'": "“not”"}
"""What needs true/false, as :meth:`_Checker.want_bool` is told it, in Chinese."""


class _Checker:
    def __init__(self, text: str, scope: Scope) -> None:
        self.text = text
        self.scope = scope

    def fail(self, node: ast.AST | None, message: str | tuple[str, str],
             hint: str | tuple[str, str] = "") -> ExpressionError:
        """The refusal at ``node``: a message and a hint in English, or each as (English,
        Chinese) from :mod:`.error_words`."""
        offset = _char_offset(self.text, getattr(node, "col_offset", None))
        message = (message, "") if isinstance(message, str) else message
        hint = (hint, "") if isinstance(hint, str) else hint
        return ExpressionError.said(message, hint, offset=offset)

    # -- entry ---------------------------------------------------------------
    def convert(self, node: ast.AST, depth: int = 0) -> Node:
        if depth > MAX_DEPTH:
            raise self.fail(node, f"expression is nested more than {MAX_DEPTH} levels deep")
        method = getattr(self, "_" + type(node).__name__, None)
        if method is None:
            what = _WHAT.get(type(node), f"'{type(node).__name__}'")
            raise self.fail(node, f"not allowed in policy expressions: {what}",
                            hint="expressions may use facts, literals, arithmetic, "
                                 "comparisons, and/or/not, 'x if c else y', "
                                 "'in [...]' and the built-in functions")
        result: Node = method(node, depth + 1)
        return result

    # -- leaves ----------------------------------------------------------------
    def _Constant(self, node: ast.Constant, depth: int) -> Node:
        v = node.value
        if isinstance(v, bool):
            return Const(Type.BOOL, v)
        if isinstance(v, int):
            if abs(v) > MAX_INT:
                raise self.fail(node, f"number {v} is too large (limit {MAX_INT:.0e})")
            return Const(Type.INT, v)
        if isinstance(v, float):
            if not math.isfinite(v) or abs(v) > MAX_INT:
                raise self.fail(node, f"number {v} is out of range")
            return Const(Type.DECIMAL, v)
        if isinstance(v, str):
            if len(v) > MAX_STRING:
                raise self.fail(node, f"text literal longer than {MAX_STRING} characters")
            return Const(Type.STRING, v)
        if v is None:
            raise self.fail(node, "None is not a value in policy expressions",
                            hint="facts always have a value: give the fact a default")
        kind = "bytes" if isinstance(v, bytes) else type(v).__name__
        raise self.fail(node, f"{kind} literals are not allowed")

    def _Name(self, node: ast.Name, depth: int) -> Node:
        name = node.id
        source = self.text.encode("utf-8")[node.col_offset : node.end_col_offset].decode(
            "utf-8", errors="replace"
        )
        if source != name or unicodedata.normalize("NFKC", source) != source:
            raise self.fail(node, f"name {source!r} uses look-alike characters",
                            hint=f"type it as {name!r}")
        scripts = {_script(c) for c in name if c.isalpha()} - {"CJK", "OTHER"}
        if len(scripts) > 1:
            raise self.fail(node, f"name {name!r} mixes letters of different alphabets "
                                  f"({', '.join(sorted(scripts)).lower()}), which look alike",
                            hint="retype it with Latin letters only")
        if name.startswith("__") or name.startswith("_"):
            raise self.fail(node, f"name {name!r} is not allowed (names may not start with '_')")
        if name in ("True", "False"):
            return Const(Type.BOOL, name == "True")
        if name in self.scope.forbidden:
            why = self.scope.forbidden[name]
            why, why_zh = (why, why) if isinstance(why, str) else why
            raise self.fail(node, ew.both("may_not_read", where=self.scope.where,
                                          name=repr(name), why=why, why_zh=why_zh))
        fact = self.scope.names.get(name)
        if fact is None:
            known = list(self.scope.names)
            hint = did_you_mean_both(name, known)
            if not hint[0] and name in ("true", "false", "none", "null"):
                hint = ew.both("capital_bool")
            if not hint[0] and self.scope.functions.get(name):
                hint = ew.both("is_function", name=name)
            if not hint[0] and known:
                hint = ew.both("known_names", names=one_of(known),
                               names_zh=one_of(known, words=_ZH_LIST))
            raise self.fail(node, ew.both("unknown_name", name=repr(name),
                                          where=self.scope.where), hint=hint)
        return Name(fact.type, name)

    # -- operators ---------------------------------------------------------------
    def _UnaryOp(self, node: ast.UnaryOp, depth: int) -> Node:
        operand = self.convert(node.operand, depth)
        if isinstance(node.op, ast.Not):
            self.want_bool(node.operand, operand, "'not'")
            return Unary(Type.BOOL, "not", operand)
        if isinstance(node.op, (ast.USub, ast.UAdd)):
            if not operand.type.numeric:
                raise self.fail(node, f"unary minus/plus needs a number, got {operand.type}")
            op = "-" if isinstance(node.op, ast.USub) else "+"
            if isinstance(operand, Const):  # fold literals such as -1
                return Const(operand.type, -operand.value if op == "-" else operand.value)
            return Unary(operand.type, op, operand)
        raise self.fail(node, "bitwise operators are not allowed")

    def _BinOp(self, node: ast.BinOp, depth: int) -> Node:
        op = _ARITH.get(type(node.op))
        if op is None:
            shown = _OTHER_OPERATORS.get(type(node.op), type(node.op).__name__)
            raise self.fail(node, f"operator '{shown}' is not allowed",
                            hint="use + - * / or ** with a small literal exponent; "
                                 "'and'/'or' for true/false")
        left = self.convert(node.left, depth)
        right = self.convert(node.right, depth)
        for side, n in ((node.left, left), (node.right, right)):
            if not n.type.numeric:
                raise self.fail(side, ew.both("needs_numbers", op=op, got=n.type),
                                hint=ew.both("dates_hint"))
        if op == "**":
            if not (isinstance(right, Const) and right.type is Type.INT
                    and 0 <= right.value <= MAX_POWER):
                raise self.fail(node.right, f"the exponent of ** must be a whole-number "
                                            f"literal from 0 to {MAX_POWER}")
            return BinaryNode(left.type, op, left, right)
        if op == "/":
            if isinstance(right, Const) and right.value == 0:
                raise self.fail(node.right, ew.both("division_by_zero"))
            return BinaryNode(Type.DECIMAL, op, left, right)
        result = Type.INT if left.type is right.type is Type.INT else Type.DECIMAL
        return BinaryNode(result, op, left, right)

    def _BoolOp(self, node: ast.BoolOp, depth: int) -> Node:
        op = "and" if isinstance(node.op, ast.And) else "or"
        values = []
        for v in node.values:
            n = self.convert(v, depth)
            self.want_bool(v, n, f"'{op}'")
            values.append(n)
        return BoolOp(Type.BOOL, op, tuple(values))

    def _Compare(self, node: ast.Compare, depth: int) -> Node:
        left = self.convert(node.left, depth)
        parts: list[Node] = []
        left_ast: ast.AST = node.left
        for op_ast, right_ast in zip(node.ops, node.comparators, strict=True):
            if isinstance(op_ast, (ast.In, ast.NotIn)):
                if len(node.ops) > 1:
                    raise self.fail(node, "'in' cannot be chained with other comparisons",
                                    hint="join the parts with 'and'")
                return self.membership(left_ast, left, op_ast, right_ast)
            op = _CMP.get(type(op_ast))
            if op is None:
                raise self.fail(node, ew.both("is_not_allowed"), hint=ew.both("use_equals"))
            right = self.convert(right_ast, depth)
            self.comparable(left_ast, left, op, right_ast, right)
            parts.append(Compare(Type.BOOL, op, left, right))
            left, left_ast = right, right_ast
        return parts[0] if len(parts) == 1 else BoolOp(Type.BOOL, "and", tuple(parts))

    def membership(self, left_ast: ast.AST, left: Node, op: ast.cmpop, options: ast.AST) -> Node:
        if not isinstance(options, (ast.List, ast.Tuple, ast.Set)):
            raise self.fail(options, ew.both("in_needs_list"))
        if len(options.elts) > MAX_IN_OPTIONS:
            raise self.fail(options, f"'in' list has more than {MAX_IN_OPTIONS} items")
        values = []
        for elt in options.elts:
            c = self.convert(elt, 0)
            if not isinstance(c, Const):
                raise self.fail(elt, "items of an 'in' list must be literals")
            self.comparable(left_ast, left, "==", elt, c)
            values.append(c.value)
        return In(Type.BOOL, left, tuple(values), isinstance(op, ast.NotIn))

    def _IfExp(self, node: ast.IfExp, depth: int) -> Node:
        cond = self.convert(node.test, depth)
        self.want_bool(node.test, cond, "the condition of 'x if c else y'")
        then = self.convert(node.body, depth)
        orelse = self.convert(node.orelse, depth)
        if then.type is orelse.type:
            result = then.type
        elif then.type.numeric and orelse.type.numeric:
            result = Type.DECIMAL
        else:
            raise self.fail(node, ew.both("branches", then=then.type, orelse=orelse.type))
        return IfElse(result, cond, then, orelse)

    def _Call(self, node: ast.Call, depth: int) -> Node:
        if not isinstance(node.func, ast.Name):
            self.convert(node.func, depth)  # says why, e.g. attribute access
            raise self.fail(node, "only the built-in functions can be called",
                            hint="known functions: " + one_of(self.scope.functions.names()))
        name = node.func.id
        source = self.text.encode("utf-8")[node.func.col_offset:node.func.end_col_offset].decode(
            "utf-8", errors="replace")
        if source != name:
            raise self.fail(node, f"function name {source!r} uses look-alike characters",
                            hint=f"type it as {name!r}")
        if name.startswith("_"):
            raise self.fail(node, f"name {name!r} is not allowed (names may not start with '_')")
        if node.keywords:
            raise self.fail(node, f"{name}() takes positional arguments only")
        fn = self.scope.functions.get(name)
        if fn is None:
            names = list(self.scope.functions.names())
            hint = did_you_mean_both(name, names)
            if not hint[0]:
                hint = ew.both("known_functions", names=one_of(names),
                               names_zh=one_of(names, words=_ZH_LIST))
            raise self.fail(node, ew.both("unknown_function", name=repr(name)), hint=hint)
        args = tuple(self.convert(a, depth) for a in node.args)
        try:
            result = fn.check(args)
        except ExpressionError as e:
            raise self.fail(node, (e.message, e.message_zh), hint=(e.hint, e.hint_zh)) from None
        if fn.fold is not None:
            return fn.fold(args)
        return Call(result, name, args)

    # -- helpers -----------------------------------------------------------------
    def want_bool(self, where: ast.AST, n: Node, what: str) -> None:
        if n.type is not Type.BOOL:
            raise self.fail(where, ew.both("needs_bool", what=what, what_zh=_WHAT_ZH.get(
                what, what), got=n.type), hint=ew.both("compare_it"))

    def comparable(self, la: ast.AST, left: Node, op: str, ra: ast.AST, right: Node) -> None:
        if left.type.numeric and right.type.numeric:
            return
        if left.type is not right.type:
            raise self.fail(ra, ew.both("cannot_compare", left=left.type, right=right.type))
        if left.type in (Type.STRING, Type.BOOL) and op not in ("==", "!="):
            raise self.fail(ra, ew.both("only_equality", kind=left.type))
        for fact_side, lit_side, lit_ast in ((left, right, ra), (right, left, la)):
            if isinstance(fact_side, Name) and isinstance(lit_side, Const):
                values = self.scope.names[fact_side.name].values
                if values and lit_side.value not in values:
                    hint = did_you_mean_both(lit_side.value, values)
                    if not hint[0]:
                        hint = ew.both("allowed", values=one_of(values),
                                       values_zh=one_of(values, words=_ZH_LIST))
                    raise self.fail(lit_ast, ew.both("not_a_value", value=repr(lit_side.value),
                                                     fact=fact_side.name), hint=hint)


def check(text: str, scope: Scope, expect: Type | None = None) -> Node:
    """Parse and check one expression; raise :class:`ExpressionError` if it is not valid."""
    if not isinstance(text, str):
        raise ExpressionError("an expression must be text")
    if len(text) > MAX_LENGTH:
        raise ExpressionError(f"expression is longer than {MAX_LENGTH} characters")
    if not text.strip():
        raise ExpressionError.said(ew.both("empty"))
    lead = len(text) - len(text.lstrip())  # offsets are reported in the text as written
    if "\n" in text.strip() or "\r" in text:
        text, lead = " ".join(text.split()), 0
    text = text.strip()
    _refuse_comments(text, lead)
    try:
        with warnings.catch_warnings():  # Python's own SyntaxWarnings are not for officers
            warnings.simplefilter("ignore")
            tree = ast.parse(text, mode="eval")
    except SyntaxError as e:
        hint = ew.both("single_equals") if _SINGLE_EQUALS.search(
            re.sub(r"\"[^\"]*\"|'[^']*'", "", text)) else ("", "")
        raise ExpressionError.said(ew.both("not_valid", msg=e.msg, msg_zh=ew.syntax_zh(e.msg)),
                                   hint, offset=lead + _error_column(text, e)) from None
    except (ValueError, RecursionError, MemoryError):
        raise ExpressionError("expression cannot be parsed (too deeply nested?)") from None
    try:
        return _check_tree(tree, text, scope, expect)
    except ExpressionError as e:
        e.offset += lead
        raise


_SINGLE_EQUALS = re.compile(r"(?<![=<>!])=(?!=)")
"""An ``=`` that is not part of ``== <= >= !=``: an officer's comparison, written as in
a spreadsheet (``tidy = "good"``)."""


def _error_column(text: str, error: SyntaxError) -> int:
    """The character (0-based) a syntax error of ``text`` points at.

    Python 3.11's tokenizer reports some errors' offsets in UTF-8 bytes (its parser, in
    characters), so after 年龄 a column would point past the culprit. The same text
    with every non-ASCII character written as one ASCII one (a letter where it can be
    part of a name, else a character that is invalid too) tokenizes alike, and there
    bytes and characters are the same: its error's offset is the column."""
    column = max((error.offset or 1) - 1, 0)
    if text.isascii():
        return column
    ascii_text = "".join(c if c.isascii() else ("x" if ("x" + c).isidentifier() else "$")
                         for c in text)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            ast.parse(ascii_text, mode="eval")
    except SyntaxError as e:
        if (e.lineno or 1) == (error.lineno or 1):
            return min(max((e.offset or 1) - 1, 0), len(text))
    return min(column, len(text))


def _refuse_comments(text: str, lead: int) -> None:
    """A '#' outside a text literal would silently drop the rest of the rule."""
    try:
        tokens = list(tokenize.generate_tokens(io.StringIO(text).readline))
    except (tokenize.TokenError, SyntaxError, IndentationError):
        return  # ast.parse reports the syntax error with its position
    for tok in tokens:
        if tok.type == tokenize.COMMENT:
            raise ExpressionError.said(ew.both("comment"), ew.both("comment_fix"),
                                       offset=lead + tok.start[1])


def _check_tree(tree: ast.Expression, text: str, scope: Scope, expect: Type | None) -> Node:
    count = sum(1 for _ in ast.walk(tree))
    if count > MAX_NODES:
        raise ExpressionError(f"expression has {count} parts; the limit is {MAX_NODES}",
                              hint="split it into several rules")
    checker = _Checker(text, scope)
    for sub in ast.walk(tree):  # the clearest message for attack shapes such as __import__
        name = getattr(sub, "id", None) if isinstance(sub, ast.Name) else getattr(
            sub, "attr", None) if isinstance(sub, ast.Attribute) else None
        if name is not None and name.startswith("_"):
            raise checker.fail(sub, f"name {name!r} is not allowed (names may not start "
                                    f"with '_')")
    node = checker.convert(tree.body)
    if expect is not None and node.type is not expect:
        if not (expect is Type.DECIMAL and node.type is Type.INT):
            raise ExpressionError.said(ew.both("must_give", where=scope.where, expect=expect,
                                               got=node.type))
    return node


def scope_of(facts: Mapping[str, Fact], functions: FunctionTable, where: str,
             extra: Mapping[str, Fact] | None = None,
             forbidden: Mapping[str, str | tuple[str, str]] | None = None) -> Scope:
    names = dict(facts)
    names.update(extra or {})
    return Scope(names, functions, where, forbidden or {})


def constant_value(node: Node) -> object:
    """The value of a literal-only expression, for load-time sanity checks."""
    return node.value if isinstance(node, Const) else None

