"""Appraisal arithmetic is exact decimal arithmetic, the same in both engines.

A total equals the calculation an officer does on paper with the numbers as
written: a decimal oracle (Python's :mod:`decimal`, written here from the
policy's own numbers and the documented rounding rule) recomputes every
generated subject and both engines must agree with it, and with each other,
on every output column, the reasons' words, the details and the rejects.
"""

from __future__ import annotations

import datetime as dt
import decimal
import math
import struct
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

import civicscore
from civicscore.io import read_records

from .conftest import EXAMPLE_POLICY, EXAMPLES

pl = pytest.importorskip("polars")

AS_OF = dt.date(2025, 12, 31)
ROOT = Path(__file__).resolve().parents[1]
REJECT_COLUMNS = ("input", "row", "id", "reason_codes", "reasons")
RATERS = ("satisfaction_staff", "satisfaction_users", "satisfaction_departments",
          "satisfaction_leaders")


@pytest.fixture(scope="module")
def baseline() -> civicscore.Policy:
    return civicscore.load("baseline")


def subject(sid: str, task: Any, requests: Any, satisfaction: Any, **more: Any
            ) -> dict[str, Any]:
    """A baseline subject whose four raters all give ``satisfaction``."""
    return {"subject_id": sid, "tasks_completed_pct": task, "requests_resolved_pct": requests,
            **dict.fromkeys(RATERS, satisfaction), **more}


def assert_engines_agree(scheme: Any, items: list[Any], source: Any = None) -> Any:
    """``batch`` gives exactly the per-record output, details and rejects."""
    expected = scheme.decide_many(items, as_of=AS_OF)
    got = scheme.batch(items if source is None else source, as_of=AS_OF)
    want = list(expected.output_rows())
    assert got.output.to_dicts() == want
    if want:
        assert got.output.columns == list(want[0])
    assert got.rejected.select(REJECT_COLUMNS).to_dicts() == expected.rejected_rows()
    assert got.details.to_dicts() == list(expected.detail_rows())
    return expected


# --- the two subjects of the issue ----------------------------------------------------------


@pytest.mark.parametrize(("scores", "total", "grade", "words"), [
    ((92.82, 96, 94.35), 90.0, "excellent", "total = 32.82 + 40 + 17.175 = 90 (rounded"),
    ((81.1, 75, 81.79), 60.0, "pass", "total = 21.1 + 28 + 10.895 = 60 (rounded"),
    (("92.82", "96", "94.35"), 90.0, "excellent", "= 90 (rounded"),
])
def test_baseline_totals_are_the_totals_on_paper(baseline: civicscore.Policy,
                                                 scores: tuple[Any, ...], total: float,
                                                 grade: str, words: str) -> None:
    record = subject("s1", *scores)
    d = baseline.appraisal.decide(record, as_of=AS_OF)
    assert (d.total, d.computed_grade, d.grade) == (total, grade, grade)
    assert any(r.code == "TOTAL" and words in r.message for r in d.reasons)
    # (in a cohort of one the quota, 20 % rounded down, leaves no excellent place)
    got = baseline.appraisal.batch([record], as_of=AS_OF).output.to_dicts()[0]
    assert (got["total"], got["computed_grade"]) == (total, grade)
    assert got == next(baseline.appraisal.decide_many([record], as_of=AS_OF).output_rows())


def test_grade_reason_words_the_exact_total(baseline: civicscore.Policy) -> None:
    d = baseline.appraisal.decide(subject("s", 92.82, 96, 94.35), as_of=AS_OF)
    grade = next(r.message for r in d.reasons if r.code == "GRADE")
    assert grade.startswith("a total of 90 reaches 90, the lowest score for 优秀")
    sat = next(r.message for r in d.reasons if r.rule.endswith("satisfaction"))
    assert "= 94.35 -> 85.875 (linear" in sat and sat.endswith("= 17.175")


# --- the decimal oracle -----------------------------------------------------------------------

ORACLE = decimal.Context(prec=1000, rounding=ROUND_HALF_UP)
SIX = Decimal("0.000001")


def written(x: Any) -> Decimal:
    """The number as written: a float by its shortest spelling, text by its digits."""
    if isinstance(x, str):
        return Decimal(x.strip())
    if isinstance(x, float):
        return Decimal(repr(x))
    return Decimal(x)


def oracle(scheme: Any, record: dict[str, Any]) -> tuple[Decimal, str]:
    """The total and band of one valid subject, on paper (indicators read one fact or
    rate by raters; the rule of the scheme's docstring: divisions to 6 decimals, the
    total to 2, everything else exact)."""
    with decimal.localcontext(ORACLE):
        total = Decimal(0)
        for ind in scheme.rules.indicators:
            if ind.raters:
                num = sum(Decimal(repr(w)) * written(record[f]) for f, w in ind.raters.items())
                den = sum(Decimal(repr(w)) for w in ind.raters.values())
                raw = (num / den).quantize(SIX)
            else:
                raw = written(record[ind.value])
            n = ind.normalise
            if n.method == "linear":
                floor, target = Decimal(repr(n.floor)), Decimal(repr(n.target))
                score = ((raw - floor) * 100 / (target - floor)).quantize(SIX)
                score = min(max(score, Decimal(0)), Decimal(100))
            elif n.method == "thresholds":
                reached = [s for s in n.steps if (Decimal(repr(s.at)) <= raw
                                                  if n.higher_is_better
                                                  else Decimal(repr(s.at)) >= raw)]
                best = (max if n.higher_is_better else min)(reached, key=lambda s: s.at,
                                                            default=None)
                score = Decimal(repr(best.score)) if best else Decimal(0)
            else:
                score = raw
            weight = Decimal(repr(ind.weight))
            if ind.group is not None:
                weight *= Decimal(repr(scheme.rules.groups[ind.group].weight))
            total += score * weight
        total = total.quantize(Decimal("0.01"))
        band = next(g.id for g in scheme.rules.grades if total >= Decimal(repr(g.min_score)))
    return total, band


#: Scores as a spreadsheet holds them: 2 decimals, any double in range, text.
SCORES = st.one_of(st.integers(0, 10000).map(lambda v: v / 100),
                   st.integers(0, 100),
                   st.floats(0, 100, allow_nan=False),
                   st.integers(0, 10000).map(lambda v: f"{v / 100}"),
                   st.sampled_from([2.5e-7, 1e-30, 99.99999999999999, 60.000000000000014]))


@st.composite
def baseline_cohorts(draw: st.DrawFn) -> list[dict[str, Any]]:
    n = draw(st.integers(1, 12))
    out = []
    for i in range(n):
        rec = {"subject_id": f"s{i:02d}", "tasks_completed_pct": draw(SCORES),
               "requests_resolved_pct": draw(SCORES),
               **{r: draw(SCORES) for r in RATERS}}
        if draw(st.integers(0, 9)) == 0:
            rec["major_safety_incidents"] = 1
        out.append(rec)
    return out


@given(items=baseline_cohorts())
@example(items=[subject("s1", 92.82, 96, 94.35), subject("s2", 81.1, 75, 81.79)])
@example(items=[subject("tiny", 2.5e-7, 1e-30, 1.2345678901234567e-05)])  # fall back
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_decimal_oracle_both_engines(baseline: civicscore.Policy,
                                     items: list[dict[str, Any]]) -> None:
    scheme = baseline.appraisal
    expected = assert_engines_agree(scheme, items)
    for record, d in zip(items, expected.decisions, strict=True):
        total, band = oracle(scheme, record)
        assert d.total == float(total) and Decimal(repr(d.total)) == total, record
        assert d.computed_grade == band, record


MIXED = """
[policy]
id = "exact-mixed"
version = "1"

[facts.subject]
a = { type = "decimal" }
b = { type = "decimal", min = 0, max = 100 }
c = { type = "int", min = 0, max = 100 }
r1 = { type = "decimal", min = 0, max = 100 }
r2 = { type = "decimal", min = 0, max = 100 }

[appraisal]

[appraisal.groups.g]
weight = 0.35

[appraisal.groups.h]
weight = 0.65

[[appraisal.indicators]]
id = "down"
group = "g"
weight = 0.3
value = "a"
normalise = { method = "linear", floor = 30.5, target = 0.7, higher_is_better = false }

[[appraisal.indicators]]
id = "steps"
group = "g"
weight = 0.7
value = "b / 3"
normalise = { method = "thresholds", steps = [{ at = 10.1, score = 33.3 },
  { at = 20.2, score = 66.65 }, { at = 30.3, score = 99.99 }] }

[[appraisal.indicators]]
id = "rated"
group = "h"
weight = 0.45
raters = { r1 = 0.7, r2 = 1.3 }
normalise = { method = "linear", floor = 55, target = 97 }

[[appraisal.indicators]]
id = "plain"
group = "h"
weight = 0.55
value = "c"
normalise = { method = "none" }

[[appraisal.grades]]
id = "top"
min_score = 80.005

[[appraisal.grades]]
id = "mid"
min_score = 45.5

[[appraisal.grades]]
id = "low"
min_score = 0

[appraisal.quota]
grade = "top"
max_share = 0.3
tie_break = ["total", "indicator:rated"]
"""


@pytest.fixture(scope="module")
def mixed(tmp_path_factory: pytest.TempPathFactory) -> civicscore.Policy:
    path = tmp_path_factory.mktemp("exact") / "mixed.toml"
    path.write_text(MIXED.lstrip("\n"), encoding="utf-8")
    return civicscore.load(path)


def mixed_oracle(record: dict[str, Any]) -> Decimal:
    """The mixed policy's total by hand, from its numbers as written."""
    with decimal.localcontext(ORACLE):
        a, c = written(record["a"]), written(record["c"])
        down = ((a - Decimal("30.5")) * 100 / (Decimal("0.7") - Decimal("30.5"))).quantize(SIX)
        down = min(max(down, Decimal(0)), Decimal(100))
        third = Decimal(repr(float(record["b"]) / 3))  # the expression is a double
        steps = next((Decimal(s) for at, s in (("30.3", "99.99"), ("20.2", "66.65"),
                                               ("10.1", "33.3")) if third >= Decimal(at)),
                     Decimal(0))
        mean = ((Decimal("0.7") * written(record["r1"]) + Decimal("1.3") * written(record["r2"]))
                / 2).quantize(SIX)
        rated = min(max(((mean - 55) * 100 / 42).quantize(SIX), Decimal(0)), Decimal(100))
        total = (down * Decimal("0.3") * Decimal("0.35") + steps * Decimal("0.7")
                 * Decimal("0.35") + rated * Decimal("0.45") * Decimal("0.65")
                 + c * Decimal("0.55") * Decimal("0.65"))
        return total.quantize(Decimal("0.01"))


FLOATS = st.one_of(st.floats(-50, 150, allow_nan=False), st.integers(-5000, 15000)
                   .map(lambda v: v / 100), st.sampled_from([0.7, 30.5, 1e-9, 3.3e-21]))
IN_RANGE = st.one_of(st.floats(0, 100, allow_nan=False), st.integers(0, 10000)
                     .map(lambda v: v / 100), st.sampled_from([55.0, 97.0, 60.6, 91.9]))


@given(items=st.lists(st.fixed_dictionaries({
    "a": FLOATS, "b": IN_RANGE, "c": st.integers(0, 100), "r1": IN_RANGE, "r2": IN_RANGE,
}), min_size=1, max_size=10))
@example(items=[{"a": 3.3e-21, "b": 60.6, "c": 100, "r1": 97.0, "r2": 91.9}])
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_decimal_oracle_every_method(mixed: civicscore.Policy,
                                     items: list[dict[str, Any]]) -> None:
    subjects = [{"subject_id": f"m{i}", **x} for i, x in enumerate(items)]
    expected = assert_engines_agree(mixed.appraisal, subjects)
    for record, d in zip(subjects, expected.decisions, strict=True):
        assert Decimal(repr(d.total)) == mixed_oracle(record), record


# --- rows and policies whose numbers a scaled integer cannot hold ---------------------------


def test_values_beyond_the_scaled_integers_fall_back(mixed: civicscore.Policy) -> None:
    subjects = [{"subject_id": "big", "a": 1e13, "b": 50, "c": 50, "r1": 60, "r2": 70},
                {"subject_id": "small", "a": 2.5e-7, "b": 1e-25, "c": 0, "r1": 1e-300,
                 "r2": 70},
                {"subject_id": "plain", "a": 10, "b": 50, "c": 50, "r1": 60, "r2": 70}]
    r = assert_engines_agree(mixed.appraisal, subjects)
    assert [d.status for d in r.decisions] == ["scored"] * 3


def test_a_policy_beyond_the_scaled_integers_is_scored_alike(tmp_path: Path) -> None:
    text = MIXED.replace("floor = 55, target = 97", "floor = 55, target = 1e13")
    path = tmp_path / "wide.toml"
    path.write_text(text.lstrip("\n"), encoding="utf-8")
    scheme = civicscore.load(path).appraisal
    subjects = [{"subject_id": f"w{i}", "a": i * 3.3, "b": 50 + i, "c": 10 * i, "r1": 60,
                 "r2": 70 + i} for i in range(8)]
    assert_engines_agree(scheme, subjects + [{"subject_id": "w1", "a": 1}])


# --- what the batch arithmetic relies on in polars -------------------------------------------


def _double(bits: int) -> float:
    return float(struct.unpack("<d", struct.pack("<Q", bits))[0])


@given(xs=st.lists(st.one_of(st.floats(allow_nan=False, allow_infinity=False),
                             st.integers(0, 2 ** 64 - 1).map(_double)), max_size=50))
@settings(max_examples=50, deadline=None)
def test_polars_writes_doubles_with_the_digits_of_repr(xs: list[float]) -> None:
    xs = [x for x in xs if math.isfinite(x)]
    texts = pl.Series(xs, dtype=pl.Float64).cast(pl.String).to_list()
    assert [Decimal(t) for t in texts] == [Decimal(repr(x)) for x in xs]


@given(digits=st.lists(st.tuples(st.integers(-10 ** 30, 10 ** 30), st.integers(0, 30)),
                       max_size=50))
@settings(max_examples=50, deadline=None)
def test_polars_reads_decimal_text_correctly_rounded(digits: list[tuple[int, int]]) -> None:
    texts = [f"{Decimal(n).scaleb(-s):f}" for n, s in digits]
    assert pl.Series(texts).cast(pl.Float64).to_list() == [float(Decimal(t)) for t in texts]


# --- one output, any engine: the bundled examples --------------------------------------------

BUNDLED = {
    "example-district": (EXAMPLE_POLICY, EXAMPLES / "appraisal-subjects.csv"),
    "baseline": ("baseline", EXAMPLES / "appraisal-subjects.csv"),
    "chengdu": ("chengdu", ROOT / "plugins" / "civicscore-chengdu" / "examples"
                / "wuhou-contracts.csv"),
    "fangxian": ("fangxian", ROOT / "plugins" / "civicscore-fangxian" / "examples"
                 / "appraisal-communities.csv"),
    "hengshui": ("hengshui", ROOT / "plugins" / "civicscore-hengshui" / "examples"
                 / "communities.csv"),
    "karamay": ("karamay", ROOT / "plugins" / "civicscore-karamay" / "examples"
                / "liaisons.csv"),
    "karamay-projects": ("karamay-projects", ROOT / "plugins" / "civicscore-karamay"
                         / "examples" / "projects.csv"),
    "qingdao": ("qingdao", ROOT / "plugins" / "civicscore-qingdao" / "examples"
                / "grid-workers.csv"),
}


@pytest.mark.parametrize("name", sorted(BUNDLED))
def test_bundled_examples_one_output_any_engine(name: str) -> None:
    policy, path = BUNDLED[name]
    scheme = civicscore.load(policy).appraisal
    records = list(read_records(path))
    assert_engines_agree(scheme, records, source=path)
    assert_engines_agree(scheme, records)


def test_details_are_built_when_first_read(baseline: civicscore.Policy) -> None:
    items = [subject("a", 92.82, 96, 94.35), subject("b", 81.1, 75, 81.79)]
    got = baseline.appraisal.batch(items, as_of=AS_OF)
    assert callable(got.__dict__["_details"])  # not built yet
    first = got.details
    assert got.details is first and isinstance(got.__dict__["_details"], pl.DataFrame)
    assert first.to_dicts() == list(baseline.appraisal.decide_many(items, as_of=AS_OF)
                                     .detail_rows())


def test_decide_and_decide_many_name_the_methods(baseline: civicscore.Policy) -> None:
    scheme = baseline.appraisal
    record = subject("a", 92.82, 96, 94.35)
    assert scheme.decide(record, as_of=AS_OF) == scheme.evaluate(record, as_of=AS_OF)
    many = scheme.decide_many([record], as_of=AS_OF)
    assert list(many.output_rows()) == list(scheme.evaluate_many([record], as_of=AS_OF)
                                            .output_rows())
    assert next(iter(many.output_rows()))["reasons"] == [r.message for r in
                                                         many.decisions[0].reasons]


@given(xs=st.lists(st.one_of(st.floats(-2e9, 2e9, allow_nan=False),
                             st.integers(-10 ** 11, 10 ** 11).map(lambda v: v / 100),
                             st.integers(-10 ** 13, 10 ** 13).map(lambda v: v / 10 ** 9),
                             st.sampled_from([0.1, 0.3, -0.0, 1e-9, 2.5e-7, 999999999.9])),
                   min_size=1, max_size=60))
@example(xs=[1.192092896e-07])
@settings(max_examples=80, deadline=None)
def test_batch_reads_doubles_at_their_written_decimal(xs: list[float]) -> None:
    """The scaled integer of a double (the plan's ``Exact`` in polars) is
    ``Decimal(repr(x)) x 10**S``. It is never
    another number; it may be missing only for a value Python spells with an exponent
    (below 0.0001: that row is then scored by the per-record path, see
    ``test_values_beyond_the_scaled_integers_fall_back``)."""
    from civicscore.plan.polars import LIMIT, _exact_floats
    from civicscore.plan.polars import SCALE as S

    got = _exact_floats(pl.Series(xs, dtype=pl.Float64)).to_list()
    want = []
    for x in xs:
        d = Decimal(repr(x))
        fits = abs(d) < LIMIT and -d.as_tuple().exponent <= S  # type: ignore[operator]
        want.append(int(d.scaleb(S)) if fits else None)
    for x, n, w in zip(xs, got, want, strict=True):
        assert n == w or (n is None and "e" in repr(x)), x


def test_a_value_holding_the_reason_separator_is_worded_alike(tmp_path: Path) -> None:
    text = MIXED.replace('r2 = { type = "decimal", min = 0, max = 100 }',
                         'r2 = { type = "decimal", min = 0, max = 100 }\n'
                         'note = { type = "string", default = "" }') + (
        '\n[[appraisal.vetoes]]\nid = "noted"\nwhen = "note != \'\'"\n')
    path = tmp_path / "noted.toml"
    path.write_text(text.lstrip("\n"), encoding="utf-8")
    scheme = civicscore.load(path).appraisal
    base = {"a": 10, "b": 50, "c": 50, "r1": 60, "r2": 70}
    r = assert_engines_agree(scheme, [{"subject_id": "x", **base, "note": "a\x1fb"},
                                      {"subject_id": "y", **base}])
    assert r.decisions[0].vetoed == ("noted",)
