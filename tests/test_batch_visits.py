"""Visit tiers: the batch evaluator decides every household exactly as the per-record one.

Households are generated with every kind of value a spreadsheet produces
(typed, text needing coercion, blanks, typos, out of range, duplicates, rows
that are not records), under policies with each hit policy, triggers, and a
condition that can divide by zero. Both evaluators must agree row by row on
status, tier, next due date, overdue, triggers and reason codes; rejected
rows must carry the same reason codes; the caseloads must be equal; and
input rows must equal scored plus rejected rows.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import civicscore
from civicscore.records import UnreadableRow
from civicscore.schemes.base import REJECT_COLUMNS

pl = pytest.importorskip("polars")
from civicscore.schemes.visits.batch import CASELOAD_SCHEMA  # noqa: E402

AS_OF = dt.date(2026, 3, 1)

POLICY = """
[policy]
id = "visits-batch"
version = "1"

[facts.household]
age = {{ type = "int", min = 0, max = 130, care_need = true, concept = "age" }}
alone = {{ type = "bool", default = false, care_need = true, concept = "lives_alone" }}
illness = {{ type = "bool", default = false, care_need = true, concept = "end_of_life" }}
mobility = {{ type = "enum", values = ["good", "limited", "bedbound"], default = "good", \
care_need = true, concept = "bedridden" }}
income_need = {{ type = "decimal", min = 0, default = 1.5, care_need = true, concept = "economic_hardship" }}
helpers = {{ type = "int", min = 0, max = 20, default = 1, care_need = true, concept = "caregivers" }}
agreed = {{ type = "bool", default = true, concept = "visit_consent" }}
discharged_on = {{ type = "date", optional = true, care_need = true, concept = "hospital_discharge" }}
fall_on = {{ type = "date", optional = true, care_need = true, concept = "fall" }}

[visits]
hit_policy = "{hit}"
default_tier = "routine"

[[visits.tiers]]
id = "intensive"
cadence = "P3D"
when = "(mobility == \\"bedbound\\" or (illness and alone)) and agreed"
{p1}

[[visits.tiers]]
id = "weekly"
cadence = "weekly"
when = "age >= 80 and alone"
{p2}

[[visits.tiers]]
id = "strained"
cadence = "P1M2D"
when = "income_need / helpers > 2.5"
{p3}

[[visits.tiers]]
id = "monthly"
cadence = "P1M"
when = "70 <= age < 80 or round_half_up(income_need, 1) >= 3.5"
{p4}

[[visits.tiers]]
id = "routine"
cadence = "quarterly"

[[visits.triggers]]
id = "discharge"
event = "discharged_on"
when = "True"
within_days = 3

[[visits.triggers]]
id = "fall"
event = "add_days(fall_on, 1)"
when = "age >= 60 and weekday(fall_on) != 7"
within_days = 7
"""


#: Every hit policy a [visits] section takes (collect with each aggregation that gives a
#: cadence), as ``hit_policy`` and the line after it.
HITS = {"first": "first", "priority": "priority", "unique": "unique", "any": "any",
        "rule order": "rule order", "output order": "output order",
        "collect max": 'collect"\naggregation = "max', "collect min": 'collect"\naggregation = "min'}


def _policy(tmp: Path, hit: str) -> civicscore.Policy:
    ranks = ["priority = 40", "priority = 30", "priority = 20", "priority = 10"]
    lines = ranks if hit == "priority" else ranks[::-1] if hit == "output order" else [""] * 4
    text = POLICY.format(hit=HITS[hit], p1=lines[0], p2=lines[1], p3=lines[2], p4=lines[3])
    path = tmp / f"visits-{hit.replace(' ', '-')}.toml"
    path.write_text(text, encoding="utf-8")
    return civicscore.load(path)


@pytest.fixture(scope="module")
def policies(tmp_path_factory: pytest.TempPathFactory) -> dict[str, civicscore.Policy]:
    tmp = tmp_path_factory.mktemp("visits-batch")
    return {hit: _policy(tmp, hit) for hit in HITS}


# --- households -----------------------------------------------------------------------------

dates = st.one_of(st.dates(dt.date(2025, 1, 1), dt.date(2026, 4, 1)),
                  st.sampled_from([dt.date.min, dt.date(9999, 12, 30), dt.date(2026, 3, 1)]))


def spelled(values: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    """A value as it is, as text, padded text, blank or missing."""
    return st.one_of(values, values.map(str), values.map(lambda v: f" {v} "),
                     st.sampled_from(["", None, "  "]))


FIELDS: dict[str, st.SearchStrategy[Any]] = {
    "household_id": st.one_of(st.sampled_from(["H1", "H2", "H3", "H4", " H5 "]),
                              st.integers(1, 4), st.sampled_from(["", None, 1.5])),
    "liaison_id": st.one_of(st.sampled_from(["L1", "L2", "", None]), st.integers(7, 8)),
    "last_visit": spelled(dates).filter(lambda v: not (isinstance(v, str) and "0001" in v)),
    "age": st.one_of(spelled(st.integers(-1, 131)), st.sampled_from(["1,2", "eighty", 80.0,
                                                                      80.5, True])),
    "alone": st.one_of(spelled(st.booleans()), st.sampled_from(["yes", "是", "否", 1, 2, "x"])),
    "illness": spelled(st.booleans()),
    "mobility": st.one_of(st.sampled_from(["good", "limited", "bedbound", "bedbund", " good"]),
                          st.just(None)),
    "income_need": st.one_of(spelled(st.sampled_from([0.0, 1.5, 2.5, 3.45, 3.5, 7.25, 60.0])),
                             st.sampled_from(["1,200.5", "-1", "nan", "inf", 3])),
    "helpers": st.one_of(spelled(st.integers(0, 3)), st.just(21)),
    "discharged_on": spelled(dates),
    "fall_on": st.one_of(spelled(dates), st.just("2026-02-30")),
}

messy = st.fixed_dictionaries({}, optional=FIELDS)
clean = st.fixed_dictionaries({
    "household_id": st.text("ABCDEFGHJK", min_size=2, max_size=3),
    "liaison_id": st.sampled_from(["L1", "L2", "L3"]),
    "age": st.integers(0, 130),
    "mobility": st.sampled_from(["good", "limited", "bedbound"]),
}, optional={
    "last_visit": st.dates(dt.date(2025, 1, 1), AS_OF),
    "alone": st.booleans(), "illness": st.booleans(),
    "income_need": st.sampled_from([0.0, 1.5, 2.5, 3.45, 3.5, 7.25, 60.0]),
    "helpers": st.integers(0, 3),
    "discharged_on": st.one_of(dates, st.dates(dt.date(2026, 2, 1), AS_OF)),
    "fall_on": st.one_of(dates, st.dates(dt.date(2026, 2, 1), AS_OF)),
})
rows = st.lists(st.one_of(clean, clean, clean, messy,
                          st.just(UnreadableRow(0, "row 0 cannot be read"))),
                min_size=1, max_size=25)


def _as_input(items: list[Any]) -> list[Any]:
    """Unreadable rows carry the row number they have in the list."""
    return [UnreadableRow(i, f"row {i} cannot be read: test") if isinstance(x, UnreadableRow)
            else x for i, x in enumerate(items, start=1)]


def assert_same(policy: civicscore.Policy, items: list[Any], as_of: dt.date = AS_OF) -> None:
    """One output, any engine: the batch frames equal the per-record rows exactly
    (columns, order, types, values, reasons word for word; no input column copied)."""
    per = policy.visits.evaluate_many(items, as_of=as_of)
    batch = policy.visits.batch(items, as_of=as_of)
    assert batch.rows_in == len(items)
    assert batch.scored_count + batch.rejected.height == len(items)
    want = list(per.output_rows())
    out = batch.output
    assert out.height == len(items)
    if want:
        assert out.columns == list(want[0])
    assert out.schema == OUTPUT_SCHEMA
    assert out.to_dicts() == want
    assert batch.details.to_dicts() == list(per.detail_rows())
    assert batch.details.schema == CASELOAD_SCHEMA
    assert batch.rejected.select(REJECT_COLUMNS).to_dicts() == per.rejected_rows()
    assert batch.scored_count == len(per.scored)


OUTPUT_SCHEMA = pl.Schema({
    "row": pl.Int64, "household_id": pl.String, "liaison_id": pl.String,
    "status": pl.String, "tier": pl.String, "tier_label": pl.String,
    "tier_label_en": pl.String, "cadence": pl.String, "last_visit": pl.Date,
    "next_due": pl.Date, "overdue": pl.Boolean, "triggers": pl.List(pl.String),
    "reason_codes": pl.List(pl.String), "reasons": pl.List(pl.Categorical()),
    "policy_id": pl.String, "policy_version": pl.String, "policy_hash": pl.String,
    "as_of": pl.Date})


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                   HealthCheck.data_too_large])
@given(hit=st.sampled_from(sorted(HITS)), items=rows)
def test_batch_equals_per_record(policies: dict[str, civicscore.Policy], hit: str,
                                 items: list[Any]) -> None:
    assert_same(policies[hit], _as_input(items))


def test_division_by_zero_rejects_in_both(policies: dict[str, civicscore.Policy]) -> None:
    items = [{"household_id": "Z", "age": 50, "helpers": 0},
             {"household_id": "Y", "age": 50, "helpers": 0, "mobility": "bedbound"}]
    assert_same(policies["first"], items)
    batch = policies["first"].visits.batch(items, as_of=AS_OF)
    assert batch.output["status"].to_list() == ["rejected", "scored"]  # short-circuit
    assert batch.rejected["reason_codes"].to_list() == [["EXPR_ERROR"]]


def test_sources_give_the_same_answer(policies: dict[str, civicscore.Policy],
                                      tmp_path: Path) -> None:
    items = [{"household_id": f"H{i}", "liaison_id": f"L{i % 3}", "age": 60 + i % 40,
              "alone": i % 2 == 0, "last_visit": dt.date(2026, 1, 1 + i % 28),
              "fall_on": dt.date(2026, 2, 1 + i % 27)} for i in range(200)]
    frame = pl.DataFrame(items)
    visits = policies["first"].visits
    want = visits.batch(frame, as_of=AS_OF).output
    frame.write_parquet(tmp_path / "h.parquet")
    frame.write_csv(tmp_path / "h.csv")
    frame.write_ndjson(tmp_path / "h.jsonl")
    for source in (tmp_path / "h.parquet", tmp_path / "h.csv", tmp_path / "h.jsonl",
                   frame.lazy(), frame.to_arrow(), items):
        got = visits.batch(source, as_of=AS_OF).output
        assert got.equals(want), source
    assert_same(policies["first"], items)


@pytest.mark.parametrize("locality", ["karamay", "fangxian", "chengdu", "qingdao", "hengshui"])
def test_locality_examples(locality: str) -> None:
    """Each locality's example households, on two dates, through both evaluators."""
    from civicscore.io import read_records

    policy = civicscore.load(locality)
    if policy.visits is None:
        pytest.skip(f"{locality} has no [visits] section")
    root = Path(__file__).parent.parent / "plugins" / f"civicscore-{locality}" / "examples"
    files = [p for p in sorted(root.glob("*.csv"))
             if "household_id" in p.read_text(encoding="utf-8").splitlines()[0]
             and "civility" not in p.name]
    assert files, f"{locality}: no example households"
    for path in files:
        items = list(read_records(path))
        for as_of in (dt.date(2025, 12, 31), dt.date(2026, 6, 30)):
            assert_same(policy, items, as_of)


@pytest.mark.parametrize("locality", ["baseline", "karamay", "fangxian", "chengdu", "qingdao",
                                      "hengshui"])
def test_locality_cases(locality: str) -> None:
    """Every ``[[case]]`` of the visits scheme, through both evaluators."""
    policy = civicscore.load(locality)
    cases = [c for c in policy.model.case if c.scheme == "visits"]
    if not cases:
        pytest.skip(f"{locality} has no visits cases")
    for case in cases:
        items = [case.input] if case.input is not None else list(case.records)
        assert_same(policy, items, case.as_of)
