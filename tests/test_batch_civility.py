"""Civility stars: the batch evaluator decides every household exactly as the per-record one.

Households are generated with every kind of value a spreadsheet produces
(typed values, text needing coercion such as " 12 ", "1,200" or "是", blanks,
typos, out of range, duplicate ids, revocations without a reason, reviews
after the as-of date, rows that are not records), in columns of one type (as
a typed frame or a CSV gives them: the vectorised paths) or of mixed types
(the per-value paths). The policy has a criterion that divides by zero, one
that short-circuits around the division, date functions, rounding, an enum
and a care-need fact it may not read. Both evaluators must agree row by row
on every column of ``to_row()`` (status, stars, title, review, bar, stars
met, reason codes), on the detail rows, and on the rejected rows (row
numbers, codes, messages); input rows must equal scored plus rejected rows.
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

from .conftest import EXAMPLE_POLICY

pl = pytest.importorskip("polars")

OUTPUT_SCHEMA = pl.Schema({
    "row": pl.Int64, "household_id": pl.String, "status": pl.String, "stars": pl.Int64,
    "max_stars": pl.Int64, "title": pl.String, "title_en": pl.String,
    "review_due": pl.Boolean, "next_review": pl.Date, "barred_until": pl.Date,
    "stars_met": pl.List(pl.String), "reason_codes": pl.List(pl.String),
    "reasons": pl.List(pl.Categorical()), "policy_id": pl.String, "policy_version": pl.String,
    "policy_hash": pl.String, "as_of": pl.Date})

POLICY = """
[policy]
id = "civility-batch"
version = "1"

[facts.household]
age_oldest = {{ type = "int", min = 0, max = 130, care_need = true, concept = "age" }}
law_violations = {{ type = "int", min = 0, default = 0 }}
hygiene_passed = {{ type = "int", min = 0, max = 12 }}
volunteer_hours = {{ type = "decimal", min = 0, default = 1.5 }}
meetings = {{ type = "int", min = 0, default = 1 }}
covenant_signed = {{ type = "bool", default = false }}
tidy = {{ type = "enum", values = ["good", "fair", "poor"], default = "fair" }}
commended_on = {{ type = "date", optional = true }}

[civility]
review_years = {review}
bar_years = {bar}

[[civility.stars]]
id = "law"
label = "遵纪守法星"
label_en = "Law-abiding"
when = "law_violations == 0"

[[civility.stars]]
id = "clean"
label_en = "Clean home"
when = "hygiene_passed >= 10 and tidy != \\"poor\\""

[[civility.stars]]
id = "covenant"
label = "签约星"
when = "covenant_signed"

[[civility.stars]]
id = "recent"
when = "days_between(commended_on, as_of) <= 365 and month(add_days(commended_on, 1)) != 2"

[[civility.stars]]
id = "busy"
when = "volunteer_hours / meetings >= 2.5"

[[civility.stars]]
id = "steady"
when = "meetings > 3 or volunteer_hours / (meetings - 3) < 1"

[[civility.stars]]
id = "rounded"
when = "round_half_up(volunteer_hours, 1) >= 20.5 or tidy in [\\"good\\"]"
{titles}
"""

TITLES = """
[[civility.titles]]
min_stars = 6
label = "文明户"
label_en = "Civilised household"

[[civility.titles]]
min_stars = 3
label_en = "Improving household"

[[civility.titles]]
min_stars = 0
label = "参与户"
"""

#: (review_years, bar_years, titles) of the policies the properties run under; without
#: the 0-star title a household can reach no title (NO_TITLE).
VARIANTS = {"titles": (1, 1, TITLES), "no-bar-no-titles": (2, 0, ""),
            "long-bar": (1, 3, TITLES.split("\n\n[[civility.titles]]\nmin_stars = 0")[0])}


@pytest.fixture(scope="module")
def policies(tmp_path_factory: pytest.TempPathFactory) -> dict[str, civicscore.Policy]:
    tmp = tmp_path_factory.mktemp("civility-batch")
    out = {}
    for name, (review, bar, titles) in VARIANTS.items():
        path = tmp / f"{name}.toml"
        path.write_text(POLICY.format(review=review, bar=bar, titles=titles), encoding="utf-8")
        out[name] = civicscore.load(path)
    return out


# --- households -------------------------------------------------------------------------------

LEAPS = st.sampled_from([dt.date(2024, 2, 29), dt.date(2025, 2, 28), dt.date(2025, 3, 1),
                         dt.date(2026, 3, 1)])
DATES = st.one_of(st.dates(dt.date(2023, 1, 1), dt.date(2027, 12, 31)), LEAPS)
PAST = st.one_of(st.dates(dt.date(2023, 1, 1), dt.date(2026, 6, 30)), LEAPS)

#: field -> (natural values, odd values: other types, odd spellings, out of range, typos)
FIELDS: dict[str, tuple[st.SearchStrategy[Any], st.SearchStrategy[Any]]] = {
    "household_id": (st.integers(0, 30).map(lambda i: f"H{i}"),
                     st.one_of(st.integers(1, 3), st.sampled_from([" H1 ", 1.5, True]))),
    "review_date": (PAST, st.one_of(DATES, st.sampled_from(
        ["2025-02-30", "soon", "2025-06-01T10:00", 20250101, dt.datetime(2025, 1, 1, 23, 0),
         dt.date(9999, 12, 31)]))),
    "revoked_on": (DATES, st.sampled_from(["2025-13-01", "2024-02-29", 7, dt.date.min,
                                           dt.date(9999, 6, 1)])),
    "revocation_reason": (st.sampled_from(["law violation", "fraud"]),
                          st.sampled_from([3, True, " fraud "])),
    "law_violations": (st.integers(0, 2), st.sampled_from(["1,200", "two", 1.0, 1.5, True,
                                                           " 0 ", 2**60, -1])),
    "hygiene_passed": (st.integers(8, 12), st.sampled_from(["10.0", "x", 11.0, "1,0", 13])),
    "volunteer_hours": (st.sampled_from([0.0, 2.5, 3.0, 20.45, 20.5, 30.0]),
                        st.sampled_from(["1,200.5", "nan", "inf", "-1", 3, "2.5e1", True,
                                         -1.0])),
    "meetings": (st.integers(0, 5), st.sampled_from(["3", " 4 ", "3.0", 3.5, "many"])),
    "covenant_signed": (st.booleans(), st.sampled_from(["yes", "是", "否", 1, 2, "x", "TRUE"])),
    "tidy": (st.sampled_from(["good", "fair", "poor"]), st.sampled_from(["gud", " good", 1])),
    "commended_on": (DATES, st.sampled_from(["2026-02-29", "never", 0])),
    "age_oldest": (st.integers(0, 130), st.sampled_from(["old", 200, -1])),
    "note": (st.sampled_from(["a", "b"]), st.integers(0, 3)),
}
BLANK = st.sampled_from([None, None, "", "  "])
#: Fields a record must give (no default): never left out of a column on purpose.
REQUIRED = {"household_id", "hygiene_passed"}


def _as_text(v: Any) -> Any:
    if v is None or isinstance(v, str):
        return v
    if isinstance(v, bool):
        return "true" if v else "false"
    return v.isoformat() if isinstance(v, dt.date) else str(v)


@st.composite
def _column(draw: st.DrawFn, name: str, n: int) -> list[Any]:
    """One field for ``n`` rows: natural values (a typed column), text (as a CSV gives
    them, padded or not), or anything (a mixed column), with blanks and gaps."""
    natural, odd = FIELDS[name]
    mode = draw(st.sampled_from(["natural", "text", "mixed"]))
    if mode == "natural":
        good, bad = natural, st.none()
    elif mode == "text":
        good = st.one_of(natural.map(_as_text), natural.map(lambda v: f" {_as_text(v)} "))
        bad = st.one_of(odd.map(_as_text), BLANK)
    else:
        good, bad = st.one_of(natural, natural.map(_as_text)), st.one_of(odd, BLANK)
    # mostly good values (1 in 25 odd), so that most rows are scored and every later step
    # is exercised; in a sparse column about half the cells are left out. One integer per
    # cell picks which (cheaper to draw than a flatmap per cell).
    sparse = name not in REQUIRED and draw(st.booleans())
    picks = draw(st.lists(st.integers(0, 49 if sparse else 24), min_size=n, max_size=n))
    return [None if k > 24 else draw(bad if k == 0 else good) for k in picks]


@st.composite
def households(draw: st.DrawFn, max_size: int = 20) -> list[Any]:
    n = draw(st.integers(0, max_size))
    present = draw(st.sets(st.sampled_from(list(FIELDS))))
    present |= REQUIRED | {"review_date"}
    columns = {name: draw(_column(name, n)) for name in present}
    if "revoked_on" in columns:  # a revocation mostly comes with its reason
        why = columns.get("revocation_reason", [None] * n)
        columns["revocation_reason"] = [
            w if w is not None or r is None or i % 7 == 0 else "fraud"
            for i, (r, w) in enumerate(zip(columns["revoked_on"], why, strict=True))]
    items: list[Any] = []
    for i in range(n):
        record = {k: v[i] for k, v in columns.items() if v[i] is not None or i % 3}
        items.append(record)
    for i in draw(st.lists(st.integers(0, max(n - 1, 0)), max_size=2)):
        if i < n:
            items[i] = draw(st.sampled_from([UnreadableRow(i + 1, f"row {i + 1}: ragged"),
                                             "junk", 3]))
    return items


AS_OF = st.sampled_from([dt.date(2025, 6, 30), dt.date(2026, 3, 1), dt.date(2026, 12, 31)])


# --- the comparison ---------------------------------------------------------------------------


def assert_same(policy: civicscore.Policy, source: Any, items: list[Any],
                as_of: dt.date) -> Any:
    """``batch(source)`` equals ``evaluate_many(items)`` row by row; returns the batch."""
    scheme = policy.civility
    per = scheme.evaluate_many(items, as_of=as_of)
    batch = scheme.batch(source, as_of=as_of)
    out = batch.output
    assert out.height == len(items) == batch.rows_in
    assert batch.scored_count + batch.rejected.height == len(items)
    assert batch.scored_count == len(per.scored)
    # one output, any engine: the very rows, columns in order, no input column copied
    want_rows = list(per.output_rows())
    if want_rows:
        assert out.columns == list(want_rows[0])
    assert out.schema == OUTPUT_SCHEMA
    assert out.to_dicts() == want_rows
    assert batch.rejected.select(REJECT_COLUMNS).to_dicts() == per.rejected_rows()
    assert batch.rejected["row"].to_list() == [d.row for d in per.rejected]
    for d, r in zip(per.rejected, batch.rejected.iter_rows(named=True), strict=True):
        assert r["reason_codes"] == list(d.reason_codes)
        assert r["reasons"] == [x.message for x in d.reasons]
        assert r["id"] == d.household_id
    assert batch.details.to_dicts() == list(per.detail_rows())
    return batch


# Each example costs about 0.1 s, nearly all of it batch's fixed cost per call, whatever
# the number of rows: so few examples (every policy variant gets its own), each of up to
# 40 households (every kind of value, a mostly-good column and a column of odd values
# meet in one frame), find what 150 examples of up to 20 found, in a fifth of the time.
@pytest.mark.parametrize("variant", list(VARIANTS))
@settings(max_examples=10, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(items=households(max_size=40), as_of=AS_OF)
def test_batch_equals_per_record(policies: dict[str, civicscore.Policy], variant: str,
                                 items: list[Any], as_of: dt.date) -> None:
    assert_same(policies[variant], items, items, as_of)


@pytest.mark.parametrize("variant", ["titles", "long-bar"])
@settings(max_examples=5, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(items=households(max_size=40), as_of=AS_OF)
def test_batch_equals_per_record_in_chinese(policies: dict[str, civicscore.Policy],
                                            variant: str, items: list[Any],
                                            as_of: dt.date) -> None:
    """The Chinese templates, rendered by both engines, give the same sentences."""
    from civicscore.messages import LANG

    token = LANG.set("zh")
    try:
        assert_same(policies[variant], items, items, as_of)
    finally:
        LANG.reset(token)


# --- chosen cases -----------------------------------------------------------------------------

AS_OF_DAY = dt.date(2026, 3, 1)


def test_division_by_zero_rejects_in_both(policies: dict[str, civicscore.Policy]) -> None:
    base = {"hygiene_passed": 10, "review_date": "2026-01-01"}
    items = [{"household_id": "Z", "meetings": 0, **base},  # busy: 1.5 / 0
             {"household_id": "Y", "meetings": 3, **base},  # steady: reached, 1.5 / 0
             {"household_id": "X", "meetings": 4, **base}]  # short-circuit: fine
    batch = assert_same(policies["titles"], items, items, AS_OF_DAY)
    assert batch.output["status"].to_list() == ["rejected", "rejected", "scored"]
    assert batch.rejected["reason_codes"].to_list() == [["CRITERION_ERROR"]] * 2


def test_revocations_and_leap_days(policies: dict[str, civicscore.Policy]) -> None:
    why = {"revocation_reason": "fraud", "hygiene_passed": 12, "review_date": "2024-02-29"}
    items = [{"household_id": "A", "revoked_on": "2025-03-01", **why},  # barred to 2026-03-01
             {"household_id": "B", "revoked_on": "2025-02-28", **why},  # ended 2026-02-28
             {"household_id": "C", "revoked_on": "2026-03-02", **why},  # pending
             {"household_id": "D", "revoked_on": "2024-02-29", **why},  # to 2025-02-28 / 2027
             {"household_id": "E", "revoked_on": "9999-06-01", **why},
             {"household_id": "F", "revoked_on": "2026-01-01"},  # no reason: rejected
             {"household_id": "G", "revocation_reason": "x"},  # no date: rejected
             {"household_id": "A", "hygiene_passed": 1}]  # a repeated id: rejected
    for policy in policies.values():
        for as_of in (dt.date(2025, 2, 28), dt.date(2026, 2, 28), AS_OF_DAY):
            assert_same(policy, items, items, as_of)


def test_minus_zero_is_worded_as_per_record(policies: dict[str, civicscore.Policy]) -> None:
    # 0.0 and -0.0 are one value to unique() and a hash join, but the per-record path
    # shows "0" and "-0": batch's details showed whichever came first for both
    policy = civicscore.load(EXAMPLE_POLICY)
    for first, second in ((-0.0, 0.0), (0.0, -0.0)):
        items = [{"household_id": "H1", "volunteer_hours": first},
                 {"household_id": "H2", "volunteer_hours": second}]
        assert_same(policy, items, items, AS_OF_DAY)


def test_empty_input(policies: dict[str, civicscore.Policy]) -> None:
    batch = assert_same(policies["titles"], [], [], AS_OF_DAY)
    assert batch.output.height == batch.rejected.height == 0


# --- sources: Parquet, CSV, frames --------------------------------------------------------------


def _frame(n: int) -> Any:
    return pl.DataFrame({
        "household_id": [f"H{i}" for i in range(n)],
        "review_date": [dt.date(2025, 1, 1) + dt.timedelta(days=7 * i) for i in range(n)],
        "revoked_on": [dt.date(2025, 1, 1) + dt.timedelta(days=i) if i % 17 == 0 else None
                       for i in range(n)],
        "revocation_reason": ["fraud" if i % 17 == 0 else None for i in range(n)],
        "law_violations": [i % 3 for i in range(n)],
        "hygiene_passed": [8 + i % 5 for i in range(n)],  # 12 is the maximum: 13 rejected
        "volunteer_hours": [i * 0.55 for i in range(n)],
        "meetings": [i % 6 for i in range(n)],
        "covenant_signed": [i % 2 == 0 for i in range(n)],
        "tidy": [("good", "fair", "poor")[i % 3] for i in range(n)],
        "commended_on": [dt.date(2025, 2, 1) + dt.timedelta(days=3 * i) if i % 4 else None
                         for i in range(n)],
    })


def test_parquet_round_trip(policies: dict[str, civicscore.Policy], tmp_path: Path) -> None:
    frame = _frame(300)
    frame.write_parquet(tmp_path / "h.parquet")
    policy = policies["titles"]
    items = frame.to_dicts()
    batch = assert_same(policy, tmp_path / "h.parquet", items, AS_OF_DAY)
    assert 0 < batch.rejected.height < 300 and batch.scored_count > 0
    assert batch.output.equals(policy.civility.batch(frame, as_of=AS_OF_DAY).output)


def test_sources_give_the_same_answer(policies: dict[str, civicscore.Policy],
                                      tmp_path: Path) -> None:
    frame = _frame(120)
    civility = policies["long-bar"].civility
    decided = [c for c in civility.batch(frame, as_of=AS_OF_DAY).output.columns
               if c not in frame.columns or c == "household_id"]
    want = civility.batch(frame, as_of=AS_OF_DAY).output.select(decided)
    frame.write_csv(tmp_path / "h.csv")
    frame.write_ndjson(tmp_path / "h.jsonl")
    for source in (tmp_path / "h.csv", tmp_path / "h.jsonl", frame.lazy(), frame.to_arrow(),
                   frame.to_dicts()):
        got = civility.batch(source, as_of=AS_OF_DAY).output.select(decided)
        assert got.equals(want), source
    from civicscore.io import read_records

    items = list(read_records(tmp_path / "h.csv"))
    assert_same(policies["long-bar"], tmp_path / "h.csv", items, AS_OF_DAY)


# --- the localities: their cases and example files ----------------------------------------------

LOCALITIES = ["karamay", "fangxian", "chengdu", "qingdao", "hengshui"]
PLUGINS = Path(__file__).parent.parent / "plugins"


@pytest.mark.parametrize("locality", LOCALITIES)
def test_locality_cases(locality: str) -> None:
    """Every ``[[case]]`` of the civility scheme, through both evaluators."""
    policy = civicscore.load(locality)
    if policy.civility is None:
        pytest.skip(f"{locality} has no [civility] section")
    cases = [c for c in policy.model.case if c.scheme == "civility"]
    for case in cases:
        items = [case.input] if case.input is not None else list(case.records)
        assert_same(policy, items, items, case.as_of)


@pytest.mark.parametrize("locality", LOCALITIES)
def test_locality_examples(locality: str) -> None:
    """Each locality's example household files, on two dates, through both evaluators."""
    from civicscore.io import read_records

    policy = civicscore.load(locality)
    if policy.civility is None:
        pytest.skip(f"{locality} has no [civility] section")
    root = PLUGINS / f"civicscore-{locality}" / "examples"
    files = [p for p in sorted(root.glob("*.csv"))
             if "household_id" in p.read_text(encoding="utf-8").splitlines()[0]]
    assert files, f"{locality}: no example households"
    for path in files:
        items = list(read_records(path))
        for as_of in (dt.date(2025, 12, 31), dt.date(2026, 6, 30)):
            assert_same(policy, path, items, as_of)


def test_step_one_rejections_are_worded_without_the_per_record_path(
        policies: dict[str, civicscore.Policy], monkeypatch: pytest.MonkeyPatch) -> None:
    """Rejected rows are worded in polars from the step-1 templates: the per-record path
    is asked only for a criterion that cannot be evaluated (CRITERION_ERROR)."""
    base = {"hygiene_passed": 10, "review_date": "2026-01-01", "meetings": 4}
    items: list[Any] = [
        {"household_id": "A", **base}, {"household_id": "A", **base},  # duplicate
        {**base}, {"household_id": 1.5, **base},  # missing, refused id
        {"household_id": "B", **base, "hygiene_passed": "x", "tidy": "gud"},  # two facts
        {"household_id": "C", **base, "revoked_on": "2025-13-01"},  # bad date, no reason
        {"household_id": "D", **base, "revocation_reason": "fraud"},  # reason, no date
        {"household_id": "E", **base, "review_date": "2026-06-01"},  # after the as-of date
        {"household_id": "row 9", **base, "meetings": "many"},  # an id that looks like a row
        UnreadableRow(10, "row 10: ragged"), "junk"]
    civility = policies["titles"].civility
    want = civility.evaluate_many(items, as_of=AS_OF_DAY)

    def refuse(*args: Any) -> Any:
        raise AssertionError("the per-record path was asked for a step-1 rejection")

    monkeypatch.setattr(type(civility), "decide_one", refuse)
    batch = civility.batch(items, as_of=AS_OF_DAY)
    assert batch.rejected.select(REJECT_COLUMNS).to_dicts() == want.rejected_rows()
    assert batch.output.to_dicts() == list(want.output_rows())
    assert batch.rejected.height == 10
