"""Helpers for testing policies and plugins: the engines must agree, row for row.

A scheme runs on two engines: the per-record one (``scheme.run``) and the batch
one (``scheme.batch``, on polars). The engine may change the speed, never the
output. :func:`assert_evaluators_agree` is the check civicscore's own tests
make, offered to plugin authors so that a locality (or a plugin scheme) can
prove the same of its own records::

    from civicscore.testing import assert_evaluators_agree

    def test_engines_agree_on_my_households():
        policy = civicscore.load("my-locality")
        assert_evaluators_agree(policy, "visits", households, as_of=date(2025, 12, 31))

It compares the three things a run writes (the output rows, the detail rows and
the rejected rows), column by column and value by value, then what it shows a
person (its summary line and its ``--format table``), and fails on the
first difference with the row, the column and both values, so that a failure
says what to fix rather than that two large tables differ.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .policy.compile import Policy

__all__ = ["EvaluatorsDisagree", "assert_evaluators_agree", "first_difference"]


class EvaluatorsDisagree(AssertionError):
    """The per-record and the batch engine gave different results for the same input."""


def _plain(value: Any) -> Any:
    """A value as both engines can be compared on: tuples as lists, nested alike."""
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, Mapping):
        return {k: _plain(v) for k, v in value.items()}
    return value


def _same(a: Any, b: Any) -> bool:
    """Equal, and of the same kind: 1 and 1.0 and True are three different outputs."""
    if type(a) is not type(b) and not (a is None or b is None):
        if not (isinstance(a, list) and isinstance(b, list)):
            return False
    if isinstance(a, float) and isinstance(b, float) and a != a and b != b:
        return True  # NaN in both
    return bool(a == b)


def _rows(n: int) -> str:
    return "1 row" if n == 1 else f"{n} rows"


def first_difference(what: str, expected: Sequence[Mapping[str, Any]],
                     actual: Sequence[Mapping[str, Any]]) -> str | None:
    """A sentence naming the first difference between two lists of rows, or None."""
    if len(expected) != len(actual):
        return (f"{what}: the per-record engine gave {_rows(len(expected))}, the batch "
                f"engine {_rows(len(actual))}")
    for i, (e, a) in enumerate(zip(expected, actual, strict=True)):
        if list(e) != list(a):
            return (f"{what} row {i}: the columns differ\n  per-record: {list(e)}\n"
                    f"  batch:      {list(a)}")
        for column, value in e.items():
            mine, theirs = _plain(value), _plain(a[column])
            if not _same(mine, theirs):
                return (f"{what} row {i}, column {column!r}:\n  per-record: {mine!r} "
                        f"({type(mine).__name__})\n  batch:      {theirs!r} "
                        f"({type(theirs).__name__})")
    return None


def assert_evaluators_agree(policy: Policy, scheme: str, records: Iterable[Any], *,
                            as_of: dt.date, **extra: Iterable[Any]) -> Any:
    """Score ``records`` on both engines and raise :class:`EvaluatorsDisagree` at the first
    difference in the output, detail or rejected rows; return the batch result.

    ``extra`` are the scheme's extra inputs (``redemptions=...`` for volunteer points).
    The records are read once into a list, so a generator can be passed.
    """
    rows = list(records)
    more = {name: list(values) for name, values in extra.items()}
    compiled = policy.scheme(scheme)
    if not callable(getattr(compiled, "batch", None)):
        raise TypeError(f"scheme {scheme!r} has no batch engine (no batch() method): there is "
                        f"only one engine, so nothing to compare")
    per_record = compiled.run(list(rows), as_of=as_of, **{k: list(v) for k, v in more.items()})
    batch = compiled.batch(list(rows), as_of=as_of, **more)
    checks = (
        ("output", list(per_record.output_rows()), list(batch.output_rows())),
        ("details", list(per_record.detail_rows()), list(batch.detail_rows())),
        ("rejected", list(per_record.rejected_rows()), list(batch.rejected_rows())),
    )
    for what, expected, actual in checks:
        problem = first_difference(what, expected, actual)
        if problem is not None:
            raise EvaluatorsDisagree(f"{scheme} on {policy.ref}: {problem}")
    for what, mine, theirs in (("summary", per_record.summary(), batch.summary()),
                               ("table", per_record.table(), batch.table())):
        if mine != theirs:
            raise EvaluatorsDisagree(f"{scheme} on {policy.ref}: the {what} differs\n"
                                     f"  per-record: {mine!r}\n  batch:      {theirs!r}")
    return batch
