"""Running the ``[[case]]`` tables of a policy: policy tests as data.

As OpenFisca keeps its tests in YAML beside its parameters, a civicscore
policy keeps worked examples beside its rules: an input, an as-of date and
the expected output. Running them proves that the policy does what its
officers say it does, and *coverage* shows which rules (tiers, stars,
activities, indicators, ...) no case exercises yet.

Comparison rules: numbers within ``tolerance``; dates by their ISO text;
``reason_codes`` and other lists of codes by inclusion (every expected code
must be present, so adding a reason does not break a case), except that an
empty list means "none at all"; everything else by equality.
"""

from __future__ import annotations

import datetime as dt
import fnmatch
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from .messages import LANG, locale_language
from .policy.compile import Policy
from .policy.model import Case

INCLUSIVE_KEYS = ("reason_codes", "stars_met", "triggers", "vetoed")


@dataclass(frozen=True)
class CaseResult:
    """The outcome of one case."""

    policy: str
    case: Case
    passed: bool
    mismatches: tuple[str, ...]
    explanation: str
    fired: frozenset[str] = frozenset()

    @property
    def name(self) -> str:
        return self.case.name


@dataclass
class Coverage:
    """Which of a policy's rules the cases exercised."""

    rules: set[str] = field(default_factory=set)
    exercised: set[str] = field(default_factory=set)

    @property
    def missing(self) -> list[str]:
        return sorted(self.rules - self.exercised)

    @property
    def percent(self) -> float:
        if not self.rules:
            return 100.0
        return 100.0 * len(self.rules & self.exercised) / len(self.rules)


def _same(expected: Any, actual: Any, tolerance: float, key: str) -> bool:
    if isinstance(expected, bool) or isinstance(actual, bool):
        return isinstance(expected, bool) and isinstance(actual, bool) and expected == actual
    if isinstance(expected, (int, float)) and isinstance(actual, (int, float)):
        return abs(expected - actual) <= tolerance + 1e-9
    if isinstance(expected, (dt.date, dt.datetime)):
        expected = expected.isoformat()
    if isinstance(actual, (dt.date, dt.datetime)):
        actual = actual.isoformat()
    if isinstance(expected, list) and isinstance(actual, (list, tuple)):
        if key in INCLUSIVE_KEYS:  # [] means "none at all"; otherwise "at least these"
            return not actual if not expected else all(e in actual for e in expected)
        return len(expected) == len(actual) and all(
            _same(e, a, tolerance, key) for e, a in zip(expected, actual, strict=True))
    return bool(expected == actual)


def compare(expected: Mapping[str, Any] | Sequence[Mapping[str, Any]],
            rows: Sequence[Mapping[str, Any]], tolerance: float, what: str) -> list[str]:
    """Differences between expected rows and actual rows, as sentences."""
    wanted = [expected] if isinstance(expected, Mapping) else list(expected)
    if len(wanted) != len(rows):
        return [f"expected {len(wanted)} {what} row(s), got {len(rows)}"]
    out: list[str] = []
    for i, (exp, row) in enumerate(zip(wanted, rows, strict=True)):
        where = f"{what} row {i + 1}: " if len(rows) > 1 else f"{what}: "
        for key, value in exp.items():
            if key not in row:
                out.append(f"{where}no field {key!r} (fields: {', '.join(row)})")
            elif not _same(value, row[key], tolerance, key):
                out.append(f"{where}{key} expected {value!r}, got {row[key]!r}")
    return out


def case_language(policy: Policy, case: Case) -> str:
    """The language a case's expected reasons are written in: its ``lang``, else the
    policy's ``locale`` (``zh-CN``: Chinese), else English."""
    return case.lang or locale_language(policy.model.policy.locale) or "en"


def run_case(policy: Policy, case: Case, label: str = "") -> CaseResult:
    """Run one case and compare its output; never raises for a failing expectation."""
    scheme = policy.scheme(case.scheme)
    records = [case.input] if case.input is not None else list(case.records)
    extra: dict[str, Any] = {name: list(rows) for name, rows in case.inputs.items()}
    if case.redemptions:
        extra["redemptions"] = list(case.redemptions)
    # decided and compared in the language the case is written in, whatever the officer's
    # --lang or CIVICSCORE_LANG: a worked example means one thing on every machine
    token = LANG.set(case_language(policy, case))
    try:
        result = scheme.run(records, as_of=case.as_of, **extra)
        mismatches = compare(case.expect, list(result.output_rows()), case.tolerance,
                             "output")
        if case.expect_details is not None:
            mismatches += compare(case.expect_details, list(result.detail_rows()),
                                  case.tolerance, "detail")
    finally:
        LANG.reset(token)
    explanation = ""
    if mismatches:
        explanation = "\n".join(scheme.explain_record(r, as_of=case.as_of) for r in records)
    fired = frozenset(getattr(result, "fired_rules", lambda: set())())
    return CaseResult(label or policy.ref.id, case, not mismatches, tuple(mismatches),
                      explanation, fired)


def run_cases(policy: Policy, pattern: str | None = None,
              label: str = "") -> tuple[list[CaseResult], Coverage]:
    """Run a policy's cases (those whose name or tags match ``pattern``, if given)."""
    results = [run_case(policy, c, label) for c in policy.model.case if _selected(c, pattern)]
    coverage = Coverage(rules=rule_ids(policy))
    for r in results:
        coverage.exercised |= r.fired
    return results, coverage


def rule_ids(policy: Policy) -> set[str]:
    """Every rule of every scheme a policy defines, as ``scheme.kind.id``."""
    out: set[str] = set()
    for scheme in policy.schemes.values():
        out |= set(getattr(scheme, "rule_ids", lambda: set())())
    return out


def _selected(case: Case, pattern: str | None) -> bool:
    if not pattern:
        return True
    names = [case.name, *case.tags]
    if any(c in pattern for c in "*?["):
        return any(fnmatch.fnmatch(n, pattern) for n in names)
    return any(pattern.lower() in n.lower() for n in names)


def all_fired(results: Iterable[CaseResult]) -> set[str]:
    fired: set[str] = set()
    for r in results:
        fired |= r.fired
    return fired
