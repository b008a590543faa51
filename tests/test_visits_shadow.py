"""Issue 12, bounded check time: shadowed visit tiers found without comparing all pairs.

Under ``hit_policy = "first"`` a tier every household of which an earlier tier takes
can never match, and ``check`` warns, naming the first such earlier tier. The
warnings must be exactly those of comparing every pair (the reference: the same
analysis with the range index turned off), and the work must grow like n log n in
the number of tiers, not n^2 (counted, never timed).
"""

from __future__ import annotations

import datetime as dt
import tempfile
import warnings
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

import civicscore
from civicscore.schemes import visits as visits_module

HEAD = """
[policy]
id = "shadows"
version = "1"

[facts.household]
age = { type = "int", min = 0, max = 130, care_need = true, concept = "age" }
alone = { type = "bool", default = false, care_need = true, concept = "lives_alone" }
income = { type = "decimal", min = 0, default = 0, care_need = true, concept = "economic_hardship" }
seen_on = { type = "date", optional = true, care_need = true, concept = "fall" }

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


def shadow_warnings(conditions: list[str]) -> list[str]:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "p.toml"
        path.write_text(policy_text(conditions), encoding="utf-8")
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            policy = civicscore.load(path, today=dt.date(2025, 1, 1))
    # without the temporary directory's name
    return [str(w).split("p.toml", 1)[1] for w in policy.warnings
            if "can never match" in str(w)]


def pairwise(monkeypatch: pytest.MonkeyPatch, conditions: list[str]) -> list[str]:
    """The reference: every earlier tier compared with every later one."""
    with monkeypatch.context() as m:
        m.setattr(visits_module, "_one_range", lambda sets: None)
        m.setattr(visits_module, "_range_containers", lambda sets, domains: [None] * len(sets))
        return shadow_warnings(conditions)


def _range(draw: st.DrawFn) -> str:
    # age's 131 values are a finite set to the analysis; income's are a range
    x = draw(st.sampled_from(["age", "income", "income"]))
    lo, hi = sorted(draw(st.lists(st.integers(0, 130), min_size=2, max_size=2)))
    form = draw(st.sampled_from(["ge", "gt", "le", "lt", "between", "open", "not_eq"]))
    return {"ge": f"{x} >= {lo}", "gt": f"{x} > {lo}", "le": f"{x} <= {hi}",
            "lt": f"{x} < {hi}", "between": f"{lo} <= {x} <= {hi}",
            "open": f"{lo} < {x} < {hi}", "not_eq": f"{x} != {lo}"}[form]


@st.composite
def condition(draw: st.DrawFn) -> str:
    kind = draw(st.sampled_from(["age", "age", "income", "date", "age_and", "alone", "or"]))
    if kind == "age":
        return _range(draw)
    if kind == "income":
        x = draw(st.sampled_from(["0", "99.5", "100", "1000"]))
        return f"income {draw(st.sampled_from(['<', '<=', '>', '>=']))} {x}"
    if kind == "date":
        day = draw(st.sampled_from(["2025-01-01", "2025-06-01", "2024-12-31"]))
        return f"seen_on {draw(st.sampled_from(['<', '>=']))} date(\\\"{day}\\\")"
    if kind == "age_and":
        return f"{_range(draw)} and income < 500"
    if kind == "alone":
        return draw(st.sampled_from(["alone", "alone and age >= 60", "not alone"]))
    return f"{_range(draw)} or alone"


@settings(max_examples=40, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(conditions=st.lists(condition(), min_size=1, max_size=14))
@example(conditions=["age >= 80", "age >= 85", "70 <= age < 80", "age >= 75"])
@example(conditions=["age > 80", "age >= 80", "age != 3", "age >= 80", "age < 2"])
@example(conditions=["income > 80", "income >= 80", "income != 90", "income >= 90",
                     "80 < income <= 85", "income < 2", "income <= 2", "income > 100 or alone"])
@example(conditions=["alone", "age >= 85 and alone", "age >= 90", "age >= 80 or alone"])
def test_the_same_warnings_as_comparing_every_pair(monkeypatch: pytest.MonkeyPatch,
                                                    conditions: list[str]) -> None:
    assert shadow_warnings(conditions) == pairwise(monkeypatch, conditions)


def test_the_first_of_several_earlier_ranges_is_named() -> None:
    got = shadow_warnings(["age >= 90", "age >= 50", "age >= 40", "60 <= age <= 70"])
    assert len(got) == 1
    assert "tier 't3' can never match" in got[0] and "earlier tier 't1'" in got[0]


def _counted_work(monkeypatch: pytest.MonkeyPatch, n: int) -> int:
    """How many set comparisons ``check`` makes for ``n`` range tiers, half of them
    shadowed (each later range inside an earlier one) and half not."""
    calls = 0
    within = visits_module._Values.within

    def counting(self: Any, other: Any) -> bool:
        nonlocal calls
        calls += 1
        return within(self, other)

    # widening ranges (none inside an earlier one), then narrow ones inside the first
    conditions = [f"income >= {n - i}" for i in range(n // 2)]
    conditions += [f"{n + i} <= income <= {n + i + 1}" for i in range(n // 2)]
    with monkeypatch.context() as m:
        m.setattr(visits_module._Values, "within", counting)
        got = shadow_warnings(conditions)
    assert len(got) == n // 2  # every narrow one, inside the first range
    return calls


def test_the_work_grows_like_n_log_n_not_n_squared(monkeypatch: pytest.MonkeyPatch) -> None:
    small, large = _counted_work(monkeypatch, 100), _counted_work(monkeypatch, 800)
    assert large <= 8 * 2 * small + 800  # 8x the tiers: about 8x the work, not 64x
    # the same tiers compared pair by pair (what check did before): 64x
    with monkeypatch.context() as m:
        m.setattr(visits_module, "_one_range", lambda sets: None)
        m.setattr(visits_module, "_range_containers", lambda sets, domains: [None] * len(sets))
        assert _counted_work(m, 800) >= 40 * _counted_work(m, 100)


def test_pairs_no_index_holds_are_compared_within_a_stated_bound(
        monkeypatch: pytest.MonkeyPatch) -> None:
    # two facts to ranges in every tier: no index holds them, so they are compared pair by
    # pair, and past the limit check says where it stopped instead of going on
    conditions = [f"income >= {100 - i} and seen_on >= date(\\\"2025-01-01\\\")"
                  for i in range(40)] + ["income >= 200 and seen_on >= date(\\\"2025-02-01\\\")"]
    assert shadow_warnings(conditions)[-1].endswith("or narrow 't0')")  # all compared
    monkeypatch.setattr(visits_module, "_PAIRS_LIMIT", 100)
    got = shadow_warnings(conditions)
    assert "check stopped looking for tiers that can never match after 100 comparisons, " \
           "at tier 't14'" in got[-1]
    assert not any("tier 't40' can never match" in w for w in got)
