"""Issue 12, bounded check time: the search for shadowed visit tiers stops, and says so.

Under ``hit_policy = "first"`` a tier every household of which earlier tiers take can
never match, and ``check`` warns (expr/analysis.py decides it; tests/test_analysis.py
proves it against brute force). Earlier tiers that no index rules out are compared
with each later one; at most ``PAIRS_LIMIT`` pairs in all, then one warning says at
which tier the search stopped. Work is counted, never timed.
"""

from __future__ import annotations

import datetime as dt
import tempfile
import warnings
from pathlib import Path

import pytest

import civicscore
from civicscore.schemes.visits import scheme as visits_module

HEAD = """
[policy]
id = "shadows"
version = "1"

[facts.household]
age = { type = "int", min = 0, max = 130, care_need = true, concept = "age" }
alone = { type = "bool", default = false, care_need = true, concept = "lives_alone" }
income = { type = "decimal", min = 0, default = 0, care_need = true, concept = "economic_hardship" }

[visits]
hit_policy = "first"
default_tier = "routine"
"""

TAIL = """
[[visits.tiers]]
id = "routine"
cadence = "monthly"
"""


def policy_text(conditions: list[str]) -> str:
    tiers = "".join(f'\n[[visits.tiers]]\nid = "t{i}"\ncadence = "weekly"\nwhen = "{c}"\n'
                    for i, c in enumerate(conditions))
    return HEAD + tiers + TAIL


def never_match(conditions: list[str]) -> list[str]:
    """The 'can never match' warnings of a policy of these tiers, without its path."""
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "p.toml"
        path.write_text(policy_text(conditions), encoding="utf-8")
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            policy = civicscore.load(path, today=dt.date(2025, 1, 1))
    return [str(w).split("p.toml", 1)[1] for w in policy.warnings
            if "can never match" in str(w)]


def ranges(n: int) -> list[str]:
    """n tiers on a decimal fact (a range to the analysis, no list of values to index
    by): widening ranges, none inside an earlier one, then narrow ones inside the first."""
    return [f"income >= {n - i}" for i in range(n // 2)] + \
        [f"{n + i} <= income <= {n + i + 1}" for i in range(n // 2)]


def counted(monkeypatch: pytest.MonkeyPatch, conditions: list[str]) -> tuple[int, list[str]]:
    """How many pairs of boxes the check compares, and its warnings."""
    calls = 0
    meets = visits_module.meets

    def counting(*args: object) -> bool:
        nonlocal calls
        calls += 1
        return meets(*args)  # type: ignore[arg-type]

    with monkeypatch.context() as m:
        m.setattr(visits_module, "meets", counting)
        got = never_match(conditions)
    return calls, got


def test_the_first_of_several_earlier_ranges_is_named() -> None:
    got = never_match(["income >= 90", "income >= 50", "income >= 40", "60 <= income <= 70"])
    assert len(got) == 1
    assert "tier 't3' can never match" in got[0] and "earlier tier 't1'" in got[0]


def test_every_shadowed_range_is_found_within_the_limit(monkeypatch: pytest.MonkeyPatch
                                                        ) -> None:
    calls, got = counted(monkeypatch, ranges(200))
    assert len(got) == 100 and calls <= visits_module.PAIRS_LIMIT
    assert not any("stopped" in w for w in got)


def test_past_the_limit_the_search_stops_and_says_where(monkeypatch: pytest.MonkeyPatch
                                                        ) -> None:
    monkeypatch.setattr(visits_module, "PAIRS_LIMIT", 1_000)
    small_calls, _ = counted(monkeypatch, ranges(100))
    large_calls, got = counted(monkeypatch, ranges(800))
    # 8x the tiers: the comparisons stay within the limit (pairs would make 64x as many)
    assert small_calls <= 1_000 and large_calls <= 1_000 + 800
    stopped = [w for w in got if "check stopped looking" in w]
    assert len(stopped) == 1 and "after 1,000 comparisons" in stopped[0]
    at = int(stopped[0].split("at tier 't", 1)[1].split("'", 1)[0])
    # nothing is claimed about the tiers from there on
    assert not any(f"tier 't{i}' can never match: every" in w for w in got
                   for i in range(at, 800))
