"""Appraisal: the batch (polars) evaluator agrees with the per-record one, row for row.

"One meaning, two evaluators": on generated cohorts (valid and broken records,
odd spellings, duplicates, unreadable rows, expression errors, ties for the
quota), on every locality's cases and example CSVs, and through Parquet.
"""

from __future__ import annotations

import datetime as dt
import math
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

import civicscore
from civicscore.io import read_records

pl = pytest.importorskip("polars")

AS_OF = dt.date(2025, 12, 31)
ROOT = Path(__file__).resolve().parents[1]
COLUMNS = ("row", "subject_id", "status", "total", "computed_grade", "grade", "grade_label",
           "grade_status",
           "rank", "vetoed", "needs_confirmation", "reason_codes", "reasons", "policy_id",
           "policy_version", "policy_hash", "as_of")
REJECT_COLUMNS = ("input", "row", "id", "reason_codes", "reasons")

POLICY = """
[policy]
id = "appr-batch"
version = "1"

[facts.subject]
done = {{ type = "decimal", min = 0, max = 100 }}
complaints = {{ type = "int", min = 0, default = 0 }}
visits = {{ type = "int", min = 0, default = 10 }}
planned = {{ type = "int", min = 0, default = 10 }}
sat_staff = {{ type = "decimal", min = 0, max = 100, default = 100 }}
sat_users = {{ type = "int", min = 0, max = 100, default = 100 }}
self_score = {{ type = "decimal", default = 100 }}
errors = {{ type = "decimal", default = 0 }}
incidents = {{ type = "int", min = 0, default = 0 }}
fraud = {{ type = "bool", default = false }}
kind = {{ type = "enum", values = ["city", "rural"], default = "city" }}
reviewed = {{ type = "date", optional = true }}

[appraisal]

[appraisal.groups.work]
weight = 0.7

[appraisal.groups.people]
weight = 0.3

[[appraisal.indicators]]
id = "completion"
group = "work"
weight = 0.4
value = "done"
normalise = {{ method = "linear", floor = 50, target = 100 }}

[[appraisal.indicators]]
id = "complaints"
group = "work"
weight = 0.2
value = "complaints"
normalise = {{ method = "thresholds", higher_is_better = false, steps = [
  {{ at = 0, score = 100 }}, {{ at = 2, score = 60 }}, {{ at = 5, score = 20 }}] }}

[[appraisal.indicators]]
id = "visit_rate"
group = "work"
weight = 0.3
value = "visits / planned * 100"
normalise = {{ method = "bands", bands = [
  {{ from = 0, to = 50, score = 20 }}, {{ from = 50, to = 80, score = 60 }},
  {{ from = 80, to = 100, score = 100 }}] }}

[[appraisal.indicators]]
id = "errors"
group = "work"
weight = 0.1
value = "errors * 3"
normalise = {{ method = "linear", higher_is_better = false, floor = 30, target = 0 }}

[[appraisal.indicators]]
id = "satisfaction"
group = "people"
weight = 0.3
raters = {{ sat_staff = 1, sat_users = 2 }}
normalise = {{ method = "linear", floor = 60, target = 100 }}

[[appraisal.indicators]]
id = "self"
group = "people"
weight = 0.3
value = "self_score"
normalise = {{ method = "none" }}

[[appraisal.indicators]]
id = "reach"
group = "people"
weight = 0.2
value = "(50 if kind == 'rural' else 0) + round_half_up(done / 3, 1)"
normalise = {{ method = "thresholds", steps = [{{ at = 20, score = 40 }}, {{ at = 30, score = 80 }},
  {{ at = 60, score = 100 }}] }}

[[appraisal.indicators]]
id = "recent"
group = "people"
weight = 0.2
value = "days_between(reviewed, as_of)"
normalise = {{ method = "thresholds", higher_is_better = false, steps = [
  {{ at = 90, score = 100 }}, {{ at = 365, score = 50 }}] }}

[[appraisal.grades]]
id = "top"
label = "优秀"
min_score = 85

[[appraisal.grades]]
id = "good"
label = "良好"
min_score = 70

[[appraisal.grades]]
id = "ok"
min_score = 50

[[appraisal.grades]]
id = "poor"
min_score = 0

[[appraisal.vetoes]]
id = "incident"
when = "incidents > 0"

[[appraisal.vetoes]]
id = "fraud"
when = "fraud"

[[appraisal.vetoes]]
id = "ratio"
when = "complaints > 0 and complaints * 10 / visits > 40"
{quota}
"""

QUOTAS = {
    "none": "",
    "good-share": """
[appraisal.quota]
grade = "good"
max_share = 0.3
rounding = "round_half_up"
tie_break = ["indicator:complaints", "total"]
""",
    "top-ceil": """
[appraisal.quota]
grade = "top"
max_share = 0.15
rounding = "ceil"
tie_break = ["subject_id"]
""",
    "top-default": """
[appraisal.quota]
grade = "top"
max_share = 0.5
tie_break = ["total", "indicator:errors", "indicator:recent"]
""",
}


@pytest.fixture(scope="module")
def policies(tmp_path_factory: pytest.TempPathFactory) -> dict[str, civicscore.Policy]:
    out = {}
    for name, quota in QUOTAS.items():
        path = tmp_path_factory.mktemp("appr-batch") / f"{name}.toml"
        path.write_text(POLICY.format(quota=quota).lstrip("\n"), encoding="utf-8")
        out[name] = civicscore.load(path, today=dt.date(2025, 1, 1))
    return out


# --- strategies --------------------------------------------------------------------------

#: Values each field may plainly take (spelled as spreadsheets spell them), chosen so
#: that totals tie often (the quota's tie-break matters) and expressions can fail
#: (planned = 0 divides by zero, errors = 1e308 overflows, self_score 101 is no score).
VALID: dict[str, list[Any]] = {
    "done": [50, 55.5, 60, 75, 82.5, 90, 100, " 90 ", "66.7", 0],
    "complaints": [0, 0, 1, 2, 3, 5, 6, " 2 "],
    "visits": [0, 5, 8, 10, 12, "10"],
    "planned": [10, 10, 8, 0, "1,200"],
    "sat_staff": [60, 90, 100, 75.5],
    "sat_users": [60, 81, 100, "95"],
    "self_score": [0, 70, 100, 99.99, 101, -3],
    "errors": [0, 1, 2.5, 10, 1e308],
    "incidents": [0, 0, 0, 1, " 0 "],
    "fraud": [False, "no", "是", "否", True],
    "kind": ["city", "rural", " rural "],
    "reviewed": ["2025-12-01", "2025-06-30", dt.date(2025, 11, 30), "2024-01-01", None],
}
#: Values that are wrong for some field (missing, mistyped, out of range, typos).
ODD: list[Any] = [None, "", "  ", "abc", True, "yes", "1,2", -1, [1], math.nan, 1e309,
                  "rurl", "2025-13-01", 2.5, 200]
IDS = ["a", "b", "c", "d", "é", "B", "a1", "10", "9", " a ", 7, *"efghijklmnopqrstuvwxyz"]
SUBJECT_IDS = st.one_of(st.sampled_from(IDS), st.sampled_from(IDS), st.sampled_from(IDS),
                        st.sampled_from([None, "", 7.5, False]))


@st.composite
def records(draw: st.DrawFn) -> dict[str, Any]:
    record: dict[str, Any] = {"subject_id": draw(SUBJECT_IDS),
                              "done": draw(st.sampled_from(VALID["done"]))}
    for name in draw(st.sets(st.sampled_from(sorted(VALID)))):
        record[name] = draw(st.sampled_from(VALID[name]))
    if draw(st.integers(0, 3)) == 0:  # a broken record
        for name in draw(st.sets(st.sampled_from(sorted(VALID)), min_size=1, max_size=2)):
            record[name] = draw(st.sampled_from(ODD))
    return record


@st.composite
def cohorts(draw: st.DrawFn) -> list[Any]:
    items: list[Any] = draw(st.lists(records(), min_size=0, max_size=25))
    if items and draw(st.integers(0, 4)) == 0:  # a row that is not a record at all
        items.insert(draw(st.integers(0, len(items))), draw(st.sampled_from(["junk", 42])))
    return items


# --- comparing the two evaluators -----------------------------------------------------------


def assert_agree(scheme: Any, items: list[Any], source: Any = None) -> None:
    expected = scheme.evaluate_many(items, as_of=AS_OF)
    got = scheme.batch(items if source is None else source, as_of=AS_OF)
    want_rows = list(expected.output_rows())
    got_rows = got.output.to_dicts()
    assert len(got_rows) == len(want_rows)
    # One output, any engine: the same columns in the same order, nothing else (and the
    # scorecard that appraised each subject, for a policy of several scorecards).
    columns = COLUMNS + (("scorecard",) if getattr(scheme, "several", False) else ())
    assert tuple(got.output.columns) == columns
    for want, row in zip(want_rows, got_rows, strict=True):
        assert tuple(want) == columns
        assert row == want, want["row"]
    want_rejected = expected.rejected_rows()
    got_rejected = got.rejected.select(REJECT_COLUMNS).to_dicts()
    assert got_rejected == want_rejected
    assert got.rows_in == len(items)
    assert got.scored_count + got.rejected.height == got.rows_in
    assert got.scored_count == len(expected.scored)
    assert got.details.to_dicts() == list(expected.detail_rows())


@given(items=cohorts(), which=st.sampled_from(sorted(QUOTAS)))
@example(items=[], which="good-share")
@example(items=["junk"], which="top-ceil")
@example(items=[{"subject_id": "a", "done": 90}, {"subject_id": "a", "done": 80},
                {"subject_id": "b", "done": 90, "errors": 1e308},
                {"subject_id": "c", "done": 90, "planned": 0}, 42], which="top-default")
@settings(max_examples=30, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture,
                                 HealthCheck.too_slow])
def test_batch_agrees_with_per_record(policies: dict[str, civicscore.Policy],
                                      items: list[Any], which: str) -> None:
    """Random cohorts of every kind of record under every quota. 30 draws (the suite is
    at its time budget; a batch run over a few rows costs a fixed ~0.1 s of query
    building and planning) and, pinned, the small cohorts a draw may miss: none, one
    row that is not a record, a duplicate id, an overflow, a division by zero."""
    assert_agree(policies[which].scheme("appraisal"), items)


@given(items=st.lists(st.fixed_dictionaries({
    "subject_id": st.sampled_from(["a", "b", "c", "d", "e", "f", "g", "h"]),
    "done": st.sampled_from([80, 90, 100]), "complaints": st.sampled_from([0, 1, 3]),
    "errors": st.sampled_from([0, 1, 2]), "reviewed": st.sampled_from(["2025-12-01", None]),
}), max_size=12), which=st.sampled_from(sorted(QUOTAS)))
@settings(max_examples=30, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_quota_ties_agree(policies: dict[str, civicscore.Policy], items: list[Any],
                          which: str) -> None:
    """Mostly valid, heavily tied cohorts: the quota's ranking decides the grades."""
    assert_agree(policies[which].scheme("appraisal"), items)


@given(items=st.lists(st.fixed_dictionaries({
    "subject_id": st.sampled_from(["a", "b", "c", "d", "e", "f", "g", "h"]),
    "done": st.sampled_from([80, 90, 100]), "complaints": st.sampled_from([0, 1, 3]),
    "errors": st.sampled_from([0, 1, 2]), "reviewed": st.sampled_from(["2025-12-01", None]),
}), max_size=12), which=st.sampled_from(sorted(QUOTAS)))
@settings(max_examples=10, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_chinese_reasons_agree(policies: dict[str, civicscore.Policy], items: list[Any],
                               which: str) -> None:
    """The Chinese templates (how each score was found, the quota's ranking included)
    give the same sentences in both engines."""
    from civicscore.messages import LANG

    token = LANG.set("zh")
    try:
        assert_agree(policies[which].scheme("appraisal"), items)
    finally:
        LANG.reset(token)


def test_reasons_and_explain_in_chinese(monkeypatch: pytest.MonkeyPatch) -> None:
    """karamay's locale is zh-CN: with no language asked, its subjects' reasons and
    account are Chinese; the trace's ``how`` stays the English data of the details."""
    monkeypatch.delenv("CIVICSCORE_LANG", raising=False)
    scheme = civicscore.load("karamay").appraisal
    subject = {"subject_id": "L1", "tasks_completed_pct": 91.97, "grid_households": 87,
               "households_visited": 82, "households_known": 81,
               "requests_resolved_pct": 88.41, "difficulties_reported": 6,
               "difficulties_solved": 5, "satisfaction_staff": 88.17,
               "satisfaction_users": 86.46, "satisfaction_departments": 89.09,
               "satisfaction_leaders": 86.95, "major_safety_incidents": 0,
               "financial_irregularities": False, "privacy_breaches": 0}
    d = scheme.decide(subject, as_of=dt.date(2025, 12, 31))
    assert not d.rejected, d.reasons
    messages = [r.message for r in d.reasons]
    assert messages[0].startswith("任务完成率：tasks_completed_pct = 91.97 -> 79.925（线性：")
    assert messages[-2].startswith("总分 = ") and messages[-2].endswith("（四舍五入保留 2 位小数）")
    assert d.indicators[0].how.startswith("linear: ")
    assert d.explain().startswith("考核对象 L1（第 1 行）：总分 ")
    assert d.explain("en").startswith("Subject L1 (row 1): total ")
    assert scheme.batch([subject], as_of=dt.date(2025, 12, 31)).output["reasons"].to_list() \
        == [messages]


def test_batch_output_echoes_no_input_columns_and_details(
        policies: dict[str, civicscore.Policy]) -> None:
    scheme = policies["good-share"].scheme("appraisal")
    items = [{"subject_id": "a", "done": 90, "note": "x"},
             {"subject_id": "b", "done": 80, "planned": 0, "note": "y"}]
    got = scheme.batch(items, as_of=AS_OF)
    assert tuple(got.output.columns) == COLUMNS  # 'note', 'done' are not copied in
    assert got.output["status"].to_list() == ["scored", "rejected"]
    assert got.rejected["reason_codes"].to_list() == [["EXPR_ERROR"]]
    assert got.details.to_dicts() == list(scheme.evaluate_many(items, as_of=AS_OF)
                                          .detail_rows())
    assert got.details["how"].to_list()[:2] == ["linear: 50 scores 0, 100 scores 100",
                                                "thresholds: at most 0 scores 100"]
    assert "; quota on good: " in got.summary()


# --- the localities' cases and examples --------------------------------------------------------

LOCALITIES = ["karamay", "fangxian", "chengdu", "qingdao", "hengshui"]
EXAMPLES = {
    "baseline": ROOT / "examples" / "appraisal-subjects.csv",
    "chengdu": ROOT / "plugins" / "civicscore-chengdu" / "examples" / "wuhou-contracts.csv",
    "fangxian": ROOT / "plugins" / "civicscore-fangxian" / "examples"
    / "appraisal-communities.csv",
    "hengshui": ROOT / "plugins" / "civicscore-hengshui" / "examples" / "communities.csv",
    "karamay": ROOT / "plugins" / "civicscore-karamay" / "examples" / "liaisons.csv",
    # the deprecated name of karamay (a warning), on the projects scorecard's example
    "karamay-projects": ROOT / "plugins" / "civicscore-karamay" / "examples" / "projects.csv",
    "qingdao": ROOT / "plugins" / "civicscore-qingdao" / "examples" / "grid-workers.csv",
}


@pytest.mark.parametrize("name", LOCALITIES)
def test_locality_cases_agree(name: str) -> None:
    policy = civicscore.load(name)
    cases = [c for c in policy.model.case if c.scheme == "appraisal"]
    assert cases
    scheme = policy.scheme("appraisal")
    for case in cases:
        items = [case.input] if case.input is not None else list(case.records)
        expected = scheme.evaluate_many(items, as_of=case.as_of)
        got = scheme.batch(items, as_of=case.as_of)
        want = [{c: r[c] for c in COLUMNS if c != "as_of"} for r in expected.output_rows()]
        have = [{c: r[c] for c in COLUMNS if c != "as_of"} for r in got.output.to_dicts()]
        assert have == want, case.name


@pytest.mark.parametrize("name", sorted(EXAMPLES))
def test_locality_example_csv_agrees(name: str) -> None:
    scheme = civicscore.load(name).scheme("appraisal")
    path = EXAMPLES[name]
    assert_agree(scheme, list(read_records(path)), source=path)


def test_parquet_round_trip(policies: dict[str, civicscore.Policy], tmp_path: Path) -> None:
    scheme = policies["top-default"].scheme("appraisal")
    items = [{"subject_id": f"s{i:02d}", "done": 60.0 + i * 2.5, "complaints": i % 4,
              "errors": float(i % 3), "visits": 10 - i % 11, "planned": 10,
              "reviewed": "2025-12-01" if i % 2 else None} for i in range(30)]
    items[3]["subject_id"] = "s01"  # a duplicate
    path = tmp_path / "subjects.parquet"
    pl.DataFrame(items).write_parquet(path)
    assert_agree(scheme, items, source=path)
    from_frame = scheme.batch(pl.read_parquet(path), as_of=AS_OF)
    assert from_frame.output.equals(scheme.batch(path, as_of=AS_OF).output)


@given(items=cohorts(), which=st.sampled_from(sorted(QUOTAS)), chunk=st.integers(1, 7))
@settings(max_examples=25, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture,
                                 HealthCheck.too_slow])
def test_reasons_worded_in_slices_agree(policies: dict[str, civicscore.Policy],
                                        items: list[Any], which: str, chunk: int,
                                        monkeypatch: pytest.MonkeyPatch) -> None:
    """The reasons are worded ``CHUNK`` rows at a time (to bound the memory of a large
    cohort); a cohort cut into many slices is still worded as the per-record run words
    it, the quota's ranks included (they are the whole cohort's, not a slice's)."""
    from civicscore.schemes.appraisal import batch as appraisal

    monkeypatch.setattr(appraisal, "CHUNK", chunk)
    assert_agree(policies[which].scheme("appraisal"), items)


def test_output_is_built_when_first_read(policies: dict[str, civicscore.Policy]) -> None:
    """The counts need no reasons: ``scored_count`` is known before ``output`` is built."""
    scheme = policies["good-share"].scheme("appraisal")
    items = [{"subject_id": "a", "done": 90}, {"subject_id": "b", "done": 80, "planned": 0}]
    got = scheme.batch(items, as_of=AS_OF)
    assert callable(got.__dict__["_output"])
    assert got.scored_count == 1 and got.rejected.height == 1
    assert got.output["status"].to_list() == ["scored", "rejected"]
    assert got.output is got.output


def test_reasons_are_plain_text_lists(policies: dict[str, civicscore.Policy]) -> None:
    """An appraisal's sentences quote each subject's scores (nearly all distinct), so
    its frames keep them as List(String); every other scheme's are List(Categorical)."""
    import polars as pl

    scheme = policies["good-share"].scheme("appraisal")
    items = [{"subject_id": "a", "done": 90}, {"subject_id": "b", "done": 80, "planned": 0}]
    got = scheme.batch(items, as_of=AS_OF)
    assert not got.categorical_reasons
    for frame in (got.output, got.rejected, got.details):
        if "reasons" in frame.columns:
            assert frame.schema["reasons"] == pl.List(pl.String)
    per = scheme.decide_many(items, as_of=AS_OF)
    assert got.output["reasons"].to_list() == [row["reasons"] for row in per.output_rows()]
