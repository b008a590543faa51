"""Visit tiers under every DMN hit policy: which tier a household gets, why, and what
the loader refuses.

Each policy is loaded from TOML and run per record and in batch over the same
households; both must agree (reasons word for word), and the tier must be the
one the hit policy's DMN meaning gives for a household that needs one cadence.
"""

from __future__ import annotations

import datetime as dt
import warnings
from decimal import Decimal
from pathlib import Path

import pytest

import civicscore
from civicscore.errors import PolicyError
from civicscore.messages import LANG
from civicscore.schemes.visits import hits
from civicscore.schemes.visits.scheme import DAYS_PER_MONTH

pl = pytest.importorskip("polars")

AS_OF = dt.date(2026, 3, 1)

POLICY = """[policy]
id = "hit-demo"
version = "1"

[facts.household]
age = {{ type = "int", min = 0, max = 130, care_need = true, concept = "age" }}
alone = {{ type = "bool", default = false, care_need = true, concept = "lives_alone" }}

[visits]
hit_policy = "{hit}"
{aggregation}
default_tier = "routine"

[[visits.tiers]]
id = "elderly"
cadence = "P1M"
when = "age >= 80"
{p1}

[[visits.tiers]]
id = "alone"
cadence = "weekly"
when = "alone"
{p2}

[[visits.tiers]]
id = "old_alone"
cadence = "P7D"
when = "age >= 80 and alone"
{p3}

[[visits.tiers]]
id = "routine"
cadence = "quarterly"
"""

HOUSEHOLDS = [
    {"household_id": "both", "age": 85, "alone": True, "last_visit": dt.date(2026, 1, 10)},
    {"household_id": "old", "age": 85, "alone": False},
    {"household_id": "lonely", "age": 40, "alone": True, "last_visit": dt.date(2026, 2, 20)},
    {"household_id": "neither", "age": 40, "alone": False,
     "last_visit": dt.date(2026, 1, 1)},
]


def load(tmp: Path, hit: str, aggregation: str = "", ranks: tuple[str, ...] = ("", "", "")
         ) -> civicscore.Policy:
    path = tmp / "hit.toml"
    path.write_text(POLICY.format(hit=hit, aggregation=aggregation, p1=ranks[0], p2=ranks[1],
                                  p3=ranks[2]), encoding="utf-8")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # old_alone is shadowed under "first"
        return civicscore.load(path)


def decide(policy: civicscore.Policy) -> dict[str, tuple[str, str, tuple[str, ...]]]:
    """Per household: status, tier and reason codes; and batch must say the same."""
    visits = policy.visits
    per = visits.decide_many(HOUSEHOLDS, as_of=AS_OF)
    batch = visits.batch(HOUSEHOLDS, as_of=AS_OF)
    assert batch.output.to_dicts() == list(per.output_rows())
    assert batch.scored_count + batch.rejected.height == len(HOUSEHOLDS)
    return {d.household_id: (d.status, d.tier, d.reason_codes) for d in per.decisions}


def first_reason(policy: civicscore.Policy, hid: str) -> str:
    d = next(d for d in policy.visits.decide_many(HOUSEHOLDS, as_of=AS_OF).decisions
             if d.household_id == hid)
    return d.reasons[0].message


def test_any_takes_the_one_cadence_or_rejects(tmp_path: Path) -> None:
    got = decide(load(tmp_path, "any"))
    # "both" matches elderly (P1M), alone (weekly) and old_alone (P7D): weekly and P7D
    # are one cadence in words, but P1M is not, so the policy does not say which
    assert got["both"] == ("rejected", "", ("ANY_VIOLATION",))
    assert got["old"][1] == "elderly" and got["lonely"][1] == "alone"
    assert got["neither"][1] == "routine"
    policy = load(tmp_path, "any")
    d = policy.visits.decide(HOUSEHOLDS[0], as_of=AS_OF)
    assert d.reasons[0].rule == "visits.hit_policy"
    assert d.reasons[0].message == (
        "household both: 3 tiers match with different cadences, but hit_policy = 'any' "
        "needs them to agree: elderly (visits every month, P1M); alone (visits every "
        "week, weekly); old_alone (visits every week, P7D)")


def test_any_with_one_cadence_names_the_first_and_the_others(tmp_path: Path) -> None:
    text = POLICY.format(hit="any", aggregation="", p1="", p2="", p3="").replace(
        'cadence = "P1M"', 'cadence = "P7D"').replace('cadence = "weekly"', 'cadence = "P7D"')
    path = tmp_path / "any.toml"
    path.write_text(text, encoding="utf-8")
    policy = civicscore.load(path)
    assert decide(policy)["both"][:2] == ("scored", "elderly")
    assert first_reason(policy, "both") == (
        "tier elderly [elderly] applies because its condition holds: age >= 80 (age = 85); "
        "hit_policy 'any': every matching tier visits at this cadence, and the first in the "
        "policy is named: elderly, alone, old_alone")


def test_rule_order_places_in_the_first_and_lists_every_match(tmp_path: Path) -> None:
    policy = load(tmp_path, "rule order")
    got = decide(policy)
    assert {h: t for h, (_, t, _) in got.items()} == {
        "both": "elderly", "old": "elderly", "lonely": "alone", "neither": "routine"}
    assert first_reason(policy, "both").endswith(
        "; hit_policy 'rule order' lists the matching tiers in policy order and places the "
        "household in the first: elderly, alone, old_alone")
    assert "hit_policy" not in first_reason(policy, "old")  # one tier matched: no list


def test_output_order_lists_by_priority(tmp_path: Path) -> None:
    policy = load(tmp_path, "output order", ranks=("priority = 1", "priority = 3",
                                                   "priority = 2"))
    assert decide(policy)["both"][1] == "alone"
    assert first_reason(policy, "both").endswith(
        "; hit_policy 'output order' lists the matching tiers by priority, highest first, "
        "and places the household in the first: alone (3), old_alone (2), elderly (1)")


def test_collect_max_is_the_most_care_and_min_the_least(tmp_path: Path) -> None:
    most = load(tmp_path, "collect", 'aggregation = "max"')
    # alone (weekly) and old_alone (P7D) tie at 7 days: the earlier tier
    assert decide(most)["both"][1] == "alone"
    assert first_reason(most, "both").endswith(
        "; hit_policy 'collect' with aggregation 'max': of the matching tiers it visits "
        "most often (the most care any of them calls for): elderly (P1M), alone (weekly), "
        "old_alone (P7D)")
    least = load(tmp_path, "collect", 'aggregation = "min"')
    assert decide(least)["both"][1] == "elderly"
    assert decide(least)["lonely"][1] == "alone"  # one match: min and max agree


def test_the_reasons_say_it_in_chinese(tmp_path: Path) -> None:
    token = LANG.set("zh")
    try:
        policy = load(tmp_path, "collect", 'aggregation = "max"')
        decide(policy)
        assert "hit_policy 'collect'（aggregation 'max'）：在条件成立的各档中它探访最频繁" \
            in first_reason(policy, "both")
        policy = load(tmp_path, "any")
        decide(policy)
        message = policy.visits.decide(HOUSEHOLDS[0], as_of=AS_OF).reasons[0].message
        assert message.startswith("住户 both：有 3 个档次的条件成立，但探访频率不同")
    finally:
        LANG.reset(token)


def test_only_first_warns_of_a_shadowed_tier(tmp_path: Path) -> None:
    """old_alone's households are all elderly's: under first it is never chosen; under
    collect max it is (it visits more often than elderly), so nothing is said."""
    for hit, aggregation, shadowed in (("first", "", True), ("collect", 'aggregation = "max"',
                                                            False), ("rule order", "", False)):
        path = tmp_path / "shadow.toml"
        path.write_text(POLICY.format(hit=hit, aggregation=aggregation, p1="", p2="", p3=""),
                        encoding="utf-8")
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            civicscore.load(path)
        said = [str(w.message) for w in caught if "can never match" in str(w.message)]
        assert bool(said) is shadowed, (hit, said)


@pytest.mark.parametrize(("hit", "aggregation", "where", "words"), [
    ("collect", "", "10:14", "hit_policy = 'collect' without an aggregation gives a list of "
                             "tiers, and a household is visited at one cadence "
                             "[visits.hit_policy] (use aggregation = \"max\""),
    ("collect", 'aggregation = "sum"', "11:15", "aggregation = 'sum' adds up the matching "
                                                "tiers' cadences: that is not a cadence"),
    ("collect", 'aggregation = "count"', "11:15", "aggregation = 'count' counts the matching "
                                                  "tiers: that is not a cadence"),
    ("first", 'aggregation = "max"', "11:15", "aggregation is only used with hit_policy = "
                                              "'collect' (now 'first') [visits.aggregation]"),
    ("output order", "", "14:1", "tier 'elderly' needs a priority (hit_policy = 'output "
                                 "order') [visits.tiers[0]] (add priority = <number>; the "
                                 "matching tiers are listed by it"),
    ("rule_order", "", "10:14", "expected 'first', 'priority', 'unique', 'any', 'rule order', "
                                "'output order' or 'collect', got text 'rule_order' "
                                "[visits.hit_policy] (did you mean 'rule order'?)"),
])
def test_a_hit_policy_that_gives_no_cadence_is_refused_where_it_is_written(
        tmp_path: Path, hit: str, aggregation: str, where: str, words: str) -> None:
    with pytest.raises(PolicyError) as e:
        load(tmp_path, hit, aggregation)
    text = str(e.value)
    assert f"hit.toml:{where}: {words}" in text, text


def test_the_month_is_the_caseload_month() -> None:
    assert hits._MONTH_DAYS == Decimal(repr(DAYS_PER_MONTH))
