"""Caseloads are exact decimals: visits owed per month against Python's ``decimal``.

A caseload is the sum over a liaison's households of the visits each owes per
month (``1/n`` for a cadence of ``n`` months, ``30.44/d`` for ``d`` days,
``30.44/(30.44 n + d)`` for both), rounded ROUND_HALF_UP to one decimal
place. Summed in floats, an exact 114.15 came out 114.1; these tests pin such
sums and check the general rule against an oracle written with ``decimal``
(every rate over one common denominator, so the oracle itself loses nothing),
in the per-record and the batch evaluators alike.
"""

from __future__ import annotations

import datetime as dt
import math
from decimal import ROUND_HALF_UP, Decimal, localcontext
from pathlib import Path
from typing import Any

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

import civicscore
from civicscore.schemes.visits.scheme import parse_cadence, round_caseload

AS_OF = dt.date(2026, 3, 1)

#: One tier per cadence; a household's ``need`` picks its tier (need 0: the default).
CADENCES = ["P3M", "P4M", "P12D", "P1M2D", "weekly", "P1Y", "P13D", "P5Y", "P3044D", "P2M10D"]


def _policy_text(capacity: float | None = None) -> str:
    tiers = "".join(f'\n[[visits.tiers]]\nid = "t{i}"\ncadence = "{c}"\nwhen = "need == {i}"\n'
                    for i, c in enumerate(CADENCES) if i)
    cap = "" if capacity is None else f"\n[visits.capacity]\nvisits_per_month = {capacity}\n"
    return f"""
[policy]
id = "caseload-exact"
version = "1"

[facts.household]
need = {{ type = "int", min = 0, max = {len(CADENCES) - 1}, care_need = true, concept = "open_requests" }}

[visits]
default_tier = "t0"
{tiers}
[[visits.tiers]]
id = "t0"
cadence = "{CADENCES[0]}"
{cap}"""


@pytest.fixture(scope="module")
def policy(tmp_path_factory: pytest.TempPathFactory) -> civicscore.Policy:
    path = tmp_path_factory.mktemp("caseload") / "policy.toml"
    path.write_text(_policy_text(), encoding="utf-8")
    return civicscore.load(path)


def _rate_as_decimal_fraction(text: str) -> tuple[Decimal, Decimal]:
    """(numerator, denominator) of a cadence's visits per month, as decimals as written."""
    c = parse_cadence(text)
    days_per_month = Decimal("30.44")
    if c.days == 0:
        return Decimal(1), Decimal(c.months)
    return days_per_month, c.months * days_per_month + c.days


def oracle(counts: dict[str, int]) -> Decimal:
    """Sum of count * rate with ``decimal``: over one common denominator, one division,
    then ROUND_HALF_UP to one place."""
    with localcontext() as ctx:
        ctx.prec = 200
        parts = [(Decimal(n), *_rate_as_decimal_fraction(CADENCES[int(t[1:])]))
                 for t, n in counts.items()]
        # scale every denominator by 100 so all are integers, then a common one
        dens = [int(den * 100) for _, _, den in parts]
        common = math.lcm(*dens) if dens else 1
        top = sum(n * num * 100 * (common // d) for (n, num, _), d in zip(parts, dens,
                                                                          strict=True))
        total = Decimal(top) / Decimal(common)
        return total.quantize(Decimal("0.1"), rounding=ROUND_HALF_UP)


def _households(counts: dict[str, int]) -> list[dict[str, Any]]:
    out = []
    for tier, n in counts.items():
        need = int(tier[1:])
        out += [{"household_id": f"{tier}-{k}", "liaison_id": "L1", "need": need,
                 "last_visit": dt.date(2026, 2, 1)} for k in range(n)]
    return out


def _both_engines(policy: civicscore.Policy, counts: dict[str, int]) -> list[float]:
    """Visits owed per month of liaison L1 by each evaluator (and by the count function)."""
    visits = policy.visits
    assert visits is not None
    items = _households(counts)
    per = visits.evaluate_many(items, as_of=AS_OF).caseload["L1"].visits_per_month
    batch = visits.batch(items, as_of=AS_OF).details.to_dicts()[0]["visits_per_month"]
    direct = visits.caseload_from_counts({"L1": {t: (n, 0) for t, n in counts.items()}},
                                         AS_OF)["L1"].visits_per_month
    return [per, batch, direct]


@pytest.mark.parametrize(("counts", "want"), [
    ({"t1": 3}, 0.8),  # 3 x 1/4: exactly 0.75, half way, up
    ({"t5": 9}, 0.8),  # 9 x 1/12 = 0.75
    ({"t0": 1, "t5": 5}, 0.8),  # 1/3 + 5/12 = 0.75
    ({"t8": 75}, 0.8),  # 75 x 30.44/3044 = 0.75
    ({"t2": 45}, 114.2),  # 45 x 30.44/12 = 114.15 exactly: floats gave 114.1
    ({"t0": 3}, 1.0),  # 3 x 1/3: a third is not lost
    ({"t3": 1}, 0.9),  # 30.44 / (30.44 + 2) = 0.938...
])
def test_pinned_caseloads(policy: civicscore.Policy, counts: dict[str, int],
                          want: float) -> None:
    assert float(oracle(counts)) == want
    assert _both_engines(policy, counts) == [want] * 3


def test_round_caseload_is_half_up_on_the_exact_value() -> None:
    from fractions import Fraction

    assert round_caseload(Fraction(3, 4)) == Decimal("0.8")
    assert round_caseload(Fraction(149, 200)) == Decimal("0.7")  # 0.745
    assert round_caseload(Fraction(22830, 200)) == Decimal("114.2")  # 114.15
    assert round_caseload(Fraction(0)) == Decimal("0.0")
    assert str(round_caseload(Fraction(1, 3))) == "0.3"


counts_strategy = st.dictionaries(st.sampled_from([f"t{i}" for i in range(len(CADENCES))]),
                                  st.integers(1, 400), min_size=1, max_size=5)


@settings(max_examples=300, deadline=None)
@given(counts=counts_strategy)
@example(counts={"t2": 45})
@example(counts={"t2": 285})
@example(counts={"t1": 3})
@example(counts={"t0": 1, "t5": 5})
def test_caseload_equals_decimal_oracle(policy: civicscore.Policy,
                                        counts: dict[str, int]) -> None:
    visits = policy.visits
    assert visits is not None
    loads = visits.caseload_from_counts({"L1": {t: (n, 0) for t, n in counts.items()}}, AS_OF)
    assert Decimal(repr(loads["L1"].visits_per_month)) == oracle(counts)


@settings(max_examples=25, deadline=None)
@given(counts=st.dictionaries(st.sampled_from([f"t{i}" for i in range(len(CADENCES))]),
                              st.integers(1, 30), min_size=1, max_size=4))
def test_both_engines_equal_the_oracle(policy: civicscore.Policy,
                                       counts: dict[str, int]) -> None:
    want = float(oracle(counts))
    assert _both_engines(policy, counts) == [want] * 3


def test_capacity_compares_the_exact_caseload(tmp_path: Path) -> None:
    """0.75 rounds to 0.8, which is above a capacity of 0.75: a warning in both engines;
    a capacity of 0.8 is not exceeded."""
    for capacity, warned in ((0.75, True), (0.8, False)):
        path = tmp_path / f"cap-{capacity}.toml"
        path.write_text(_policy_text(capacity), encoding="utf-8")
        visits = civicscore.load(path).visits
        assert visits is not None
        items = _households({"t1": 3})
        per = visits.evaluate_many(items, as_of=AS_OF).caseload["L1"]
        batch = visits.batch(items, as_of=AS_OF).details.to_dicts()[0]
        assert per.exceeded is warned
        assert batch["warning_codes"] == (["CAPACITY_EXCEEDED"] if warned else [])
        assert batch["warnings"] == [w.message for w in per.warnings]


TRIGGERED = """
[policy]
id = "caseload-triggers"
version = "1"

[facts.household]
discharged_on = { type = "date", optional = true, care_need = true, concept = "hospital_discharge" }

[visits]
default_tier = "monthly"

[[visits.tiers]]
id = "monthly"
cadence = "monthly"

[[visits.triggers]]
id = "hospital_discharge"
event = "discharged_on"
within_days = 1

[visits.capacity]
visits_per_month = 3.5
"""


def test_a_visit_a_trigger_brings_forward_counts_in_the_caseload(tmp_path: Path) -> None:
    """Issue 11, item 2: a care event's visit is load the liaison carries. Each household a
    trigger brought forward owes one visit more than its tier's, in both engines, and
    the capacity warning counts it."""
    path = tmp_path / "triggers.toml"
    path.write_text(TRIGGERED, encoding="utf-8")
    visits = civicscore.load(path).visits
    homes = [{"household_id": f"h{i}", "liaison_id": "L1", "last_visit": "2026-02-20",
              "discharged_on": day} for i, day in
             enumerate(["2026-02-25", "2026-02-27", None])]
    homes.append({"household_id": "h9", "liaison_id": "L2", "last_visit": "2026-02-20",
                  "discharged_on": "2026-02-10"})  # before the last visit: no trigger
    per_record = [c.to_row() for c in visits.evaluate_many(homes, as_of=AS_OF).caseload.values()]
    batch = visits.batch(homes, as_of=AS_OF).details.to_dicts()
    for rows in (per_record, batch):
        by = {r["liaison_id"]: r for r in rows}
        assert (by["L1"]["households"], by["L1"]["trigger_visits"],
                by["L1"]["visits_per_month"]) == (3, 2, 5.0)
        assert (by["L2"]["trigger_visits"], by["L2"]["visits_per_month"]) == (0, 1.0)
        assert by["L1"]["warning_codes"] == ["CAPACITY_EXCEEDED"]
        assert "5 visits owed per month (2 of them brought forward by a trigger)" \
            in by["L1"]["warnings"][0]
        assert by["L2"]["warning_codes"] == []
