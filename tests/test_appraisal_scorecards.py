"""Several appraisal scorecards in one policy, and a quota per cohort (``cohort_by``).

The meaning (``schemes/appraisal/cards.py``): a run is split into cohorts -- a
scorecard (the one whose ``applies_to`` holds, else [appraisal]'s own) and the
values of its quota's ``cohort_by`` -- and each cohort is appraised exactly as a
policy of that one scorecard appraises a whole run. So the properties here are:

* the batch engine gives the per-record engine's rows, on generated runs with
  broken records, duplicates across scorecards, missing cohort values and ties;
* a run equals the runs of its cohorts, each by a policy of that scorecard alone
  (a metamorphic test: the quota never crosses a scorecard or a street);
* the rejections (NO_SCORECARD, SCORECARD_AMBIGUOUS, COHORT_MISSING) name the
  record and the field, in English and Chinese, and the decision names its
  scorecard; the checks refuse what cannot work;
* the single [appraisal] form is compiled and hashed as before.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

import civicscore
from civicscore.messages import LANG
from civicscore.schemes.appraisal.cards import Scorecards
from civicscore.schemes.appraisal.scheme import AppraisalScheme
from civicscore.testing import assert_evaluators_agree

from .test_batch_appraisal import assert_agree

pytest.importorskip("polars")

AS_OF = dt.date(2025, 12, 31)

FACTS = """
[policy]
id = "cards"
version = "1"
locale = "zh-CN"

[facts.subject]
kind = { type = "enum", values = ["worker", "project", "other"], label = "类别", label_en = "Kind" }
street = { type = "string", optional_default, label = "街道", label_en = "Street" }
score = { type = "decimal", min = 0, max = 100, label = "得分", label_en = "Score" }
extra = { type = "int", min = 0, default = 0, label = "加分", label_en = "Extra" }
"""

WORKERS = """
[[appraisal.scorecard]]
id = "workers"
label = "社区工作者"
label_en = "Community workers"
applies_to = 'kind == "worker"'

[[appraisal.scorecard.indicators]]
id = "work"
weight = 0.8
value = "score"
normalise = { method = "none" }

[[appraisal.scorecard.indicators]]
id = "bonus"
weight = 0.2
value = "extra * 10"
normalise = { method = "linear", floor = 0, target = 50 }

[[appraisal.scorecard.grades]]
id = "excellent"
label = "优秀"
min_score = 80

[[appraisal.scorecard.grades]]
id = "good"
min_score = 60

[[appraisal.scorecard.grades]]
id = "pass"
min_score = 0

[[appraisal.scorecard.vetoes]]
id = "zero"
when = "score == 0"

[appraisal.scorecard.quota]
grade = "excellent"
max_share = 0.4
rounding = "round_half_up"
tie_break = ["total", "indicator:bonus", "subject_id"]
cohort_by = ["street"]
"""

PROJECTS = """
[[appraisal.scorecard]]
id = "projects"
label = "项目"
label_en = "Projects"
applies_to = 'kind == "project"'

[[appraisal.scorecard.indicators]]
id = "delivery"
weight = 1
value = "score"
normalise = { method = "thresholds", steps = [{ at = 90, score = 100 }, { at = 50, score = 70 },
  { at = 0, score = 10 }] }

[[appraisal.scorecard.grades]]
id = "good"
min_score = 70

[[appraisal.scorecard.grades]]
id = "poor"
min_score = 0

[appraisal.scorecard.quota]
grade = "good"
max_share = 0.5
"""

OWN = """
[appraisal]
id = "others"
label = "其他"
label_en = "Others"

[[appraisal.indicators]]
id = "plain"
weight = 1
value = "score"
normalise = { method = "none" }

[[appraisal.grades]]
id = "ok"
min_score = 50

[[appraisal.grades]]
id = "low"
min_score = 0
"""


def text(*parts: str, street: str = 'default = "-"') -> str:
    return (FACTS.replace("optional_default", street) + "\n[appraisal]\n"
            + "".join(parts)).lstrip()


def load(tmp_path: Path, body: str, name: str = "cards") -> civicscore.Policy:
    path = tmp_path / f"{name}.toml"
    path.write_text(body, encoding="utf-8")
    return civicscore.load(path, today=dt.date(2025, 1, 1))


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("cards")


@pytest.fixture(scope="module")
def two(folder: Path) -> civicscore.Policy:
    """Workers (quota per street; a street is required) and projects, nothing else."""
    return load(folder, text(WORKERS, PROJECTS, street='default = ""').replace(
        'street = { type = "string", default = "", ', 'street = { type = "string", '), "two")


@pytest.fixture(scope="module")
def three(folder: Path) -> civicscore.Policy:
    """Workers, projects, and [appraisal]'s own scorecard for everyone else."""
    return load(folder, (FACTS.replace("optional_default", 'default = "-"') + OWN
                         + WORKERS + PROJECTS).lstrip(), "three")


# --- generated runs ------------------------------------------------------------------------

KINDS = ["worker", "worker", "project", "other", " worker ", "wrker", None]
STREETS = ["A", "B", "A", " B ", None, ""]
SCORES = [0, 40, 55.5, 60, 79.99, 80, 90, 100, "85", 101, "n/a", None]


@st.composite
def subjects(draw: st.DrawFn) -> dict[str, Any]:
    record: dict[str, Any] = {"subject_id": draw(st.sampled_from(
        ["a", "b", "c", "d", "e", "f", "g", "h", "i", "j", None, " "]))}
    for name, values in (("kind", KINDS), ("street", STREETS), ("score", SCORES),
                         ("extra", [0, 1, 2, 5, 9, "x"])):
        value = draw(st.sampled_from(values))
        if value is not None:
            record[name] = value
    return record


RUNS = st.lists(st.one_of(subjects(), subjects(), subjects(), st.just("junk")), max_size=24)


@given(items=RUNS)
@example(items=[{"subject_id": "a", "kind": "worker", "street": "A", "score": 90},
                {"subject_id": "a", "kind": "project", "score": 90},  # a duplicate elsewhere
                {"subject_id": "b", "kind": "worker", "score": 90},   # no street
                {"subject_id": "b", "kind": "worker", "street": "A", "score": 95},
                {"subject_id": "c", "kind": "other", "score": 1}, "junk"])
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_the_engines_agree_on_several_scorecards(two: civicscore.Policy,
                                                 three: civicscore.Policy,
                                                 items: list[Any]) -> None:
    for policy in (two, three):
        assert_agree(policy.appraisal, items)
        assert_evaluators_agree(policy, "appraisal", items, as_of=AS_OF)  # summary, table


@given(items=RUNS)
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_the_engines_agree_in_chinese(three: civicscore.Policy, items: list[Any]) -> None:
    token = LANG.set("zh")
    try:
        assert_agree(three.appraisal, items)
    finally:
        LANG.reset(token)


def cohort_of(record: dict[str, Any]) -> tuple[str, str]:
    return record["kind"], record["street"]


@given(items=st.lists(st.fixed_dictionaries({
    "kind": st.sampled_from(["worker", "project"]), "street": st.sampled_from(["A", "B", "C"]),
    "score": st.sampled_from([60, 80, 80, 85.5, 90, 99.99, 100]),
    "extra": st.integers(0, 6)}), max_size=30))
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_a_run_is_the_runs_of_its_cohorts(two: civicscore.Policy, folder: Path,
                                          items: list[dict[str, Any]]) -> None:
    """Each scorecard's quota over each street is the quota of a policy of that scorecard
    alone over that street's subjects: nothing crosses a scorecard or a street."""
    rows = [{"subject_id": f"s{i:02d}", **r} for i, r in enumerate(items)]
    whole = {d.subject_id: d for d in two.appraisal.evaluate_many(rows, as_of=AS_OF).decisions}
    alone = {"worker": _alone(folder, WORKERS.replace('cohort_by = ["street"]', ""), "w"),
             "project": _alone(folder, PROJECTS, "p")}
    cohorts: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for r in rows:
        key = cohort_of(r) if r["kind"] == "worker" else (r["kind"], "")
        cohorts.setdefault(key, []).append(r)
    for (kind, _), members in cohorts.items():
        for d in alone[kind].appraisal.evaluate_many(members, as_of=AS_OF).decisions:
            mine = whole[d.subject_id]
            assert (mine.grade, mine.total, mine.rank, mine.reason_codes) == \
                (d.grade, d.total, d.rank, d.reason_codes)
            assert [r.message for r in mine.reasons] == [r.message for r in d.reasons]
            assert mine.scorecard == {"worker": "workers", "project": "projects"}[kind]


_ALONE: dict[str, civicscore.Policy] = {}


def _alone(folder: Path, card: str, name: str) -> civicscore.Policy:
    """A policy of ``card`` alone, as [appraisal]'s own scorecard (cached per name)."""
    if name not in _ALONE:
        own = (card.replace("[[appraisal.scorecard]]\n", "").replace("appraisal.scorecard.",
                                                                    "appraisal."))
        own = "\n".join(line for line in own.splitlines()
                        if not line.startswith(("id = \"workers\"", "id = \"projects\"",
                                                "applies_to", "label = \"社区工作者\"",
                                                "label_en = \"Community workers\"",
                                                "label = \"项目\"", "label_en = \"Projects\"")))
        _ALONE[name] = load(folder, text(own), f"alone-{name}")
        assert isinstance(_ALONE[name].appraisal, AppraisalScheme)
    return _ALONE[name]


def test_quota_places_per_cohort_are_exact(two: civicscore.Policy) -> None:
    """round_half_up(0.4 x 5) = 2 places per street, on decimals (0.4 x 5 is exactly 2),
    and exact totals: 100 x 0.8 + 20 * extra x 0.2."""
    rows = [{"subject_id": f"{s}{i}", "kind": "worker", "street": s, "score": 100,
             "extra": i} for s in "AB" for i in range(5)]
    result = two.appraisal.evaluate_many(rows, as_of=AS_OF)
    by_street = {q.cohort_key: (q.cohort, q.places, q.kept) for q in result.quotas}
    assert by_street == {("A",): (5, 2, ("A4", "A3")), ("B",): (5, 2, ("B4", "B3"))}
    assert [d.total for d in result.decisions[:5]] == [80, 84, 88, 92, 96]
    assert [d.grade for d in result.decisions[:5]] == ["good"] * 3 + ["excellent"] * 2


# --- rejections, words, checks -----------------------------------------------------------------


def test_rejections_name_the_record_and_the_field(two: civicscore.Policy) -> None:
    rows = [{"subject_id": "x", "kind": "other", "score": 50},
            {"subject_id": "y", "kind": "worker", "score": 50}]
    token = LANG.set("en")
    try:
        no_card, no_street = two.appraisal.evaluate_many(rows, as_of=AS_OF).decisions
    finally:
        LANG.reset(token)
    assert no_card.reason_codes == ("NO_SCORECARD",) and no_card.scorecard == ""
    assert no_card.reasons[0].message == (
        'record x: no scorecard applies to it (fields kind: workers: kind == "worker"; '
        'projects: kind == "project")')
    assert no_street.reason_codes == ("MISSING_FIELD", "COHORT_MISSING")
    assert no_street.reasons[-1].message == (
        "record y: field 'street' is required to place it in a quota cohort (cohort_by of "
        "scorecard workers) and is missing")
    assert no_street.reasons[-1].rule == "facts.subject.street"
    zh = LANG.set("zh")
    try:
        no_card, no_street = two.appraisal.evaluate_many(rows, as_of=AS_OF).decisions
    finally:
        LANG.reset(zh)
    assert no_card.reasons[0].message.startswith("记录 x：没有适用的考核表（字段 kind：")
    assert no_street.reasons[-1].message.startswith("记录 y：字段“street”缺失")
    assert "考核对象 x（第 1 行）未通过校验" in no_card.explain("zh")


def test_two_scorecards_that_both_apply_reject_the_subject(folder: Path) -> None:
    both = load(folder, text(WORKERS, PROJECTS.replace('kind == "project"',
                                                       'score >= 0')), "both")
    d = both.appraisal.evaluate_many([{"subject_id": "z", "kind": "worker", "score": 5}],
                                     as_of=AS_OF).decisions[0]
    assert d.reason_codes == ("SCORECARD_AMBIGUOUS",)
    assert "workers, projects" in d.reasons[0].message


def test_the_default_scorecard_takes_everyone_else(three: civicscore.Policy) -> None:
    rows = [{"subject_id": "o", "kind": "other", "score": 70},
            {"subject_id": "w", "kind": "worker", "score": 80, "street": "A"}]
    result = three.appraisal.evaluate_many(rows, as_of=AS_OF)
    other, worker = result.decisions
    assert (other.scorecard, other.grade) == ("others", "ok")
    assert (worker.scorecard, worker.grade) == ("workers", "good")
    assert "Scorecard: 其他 (Others)." in other.explain("en")
    assert "考核表：社区工作者（workers）。" in worker.explain("zh")
    assert other.to_row()["scorecard"] == "others"
    assert result.fired_rules() >= {"appraisal.grades.ok",
                                    "appraisal.scorecard.workers.grades.good",
                                    "appraisal.scorecard.workers.indicators.work"}
    assert three.appraisal.rule_ids() >= {"appraisal.indicators.plain",
                                          "appraisal.scorecard.projects.grades.poor"}


@pytest.mark.parametrize(("body", "message"), [
    (text(WORKERS, WORKERS), "scorecard id 'workers' is used twice"),
    (text(WORKERS, PROJECTS.replace('kind == "project"', 'kind == "worker"')),
     "applies to the same subjects as scorecard 'workers'"),
    (text(WORKERS.replace('cohort_by = ["street"]', 'cohort_by = ["stret"]')),
     "unknown fact 'stret' in cohort_by"),
    (text(WORKERS.replace('cohort_by = ["street"]', 'cohort_by = ["score"]')),
     "cohort_by fact 'score' is a decimal fact"),
    (text(PROJECTS.replace("applies_to = 'kind == \"project\"'", "applies_to = 'kind + 1'"))
     , "applies_to"),
    (text(WORKERS) + '\n[appraisal.groups.g]\nweight = 1\n', "put them inside each"),
])
def test_the_checks_refuse_what_cannot_work(folder: Path, body: str, message: str) -> None:
    with pytest.raises(civicscore.PolicyError) as e:
        load(folder, body, "bad")
    assert message in str(e.value)


def test_the_single_form_is_compiled_and_hashed_as_before(folder: Path) -> None:
    """No [[appraisal.scorecard]] and no cohort_by: the one scorecard of old, same hash."""
    own = load(folder, (FACTS.replace("optional_default", 'default = "-"') + OWN).lstrip(),
               "own")
    assert type(own.appraisal) is AppraisalScheme
    baseline = civicscore.load("baseline")
    assert type(baseline.appraisal) is AppraisalScheme
    d = own.appraisal.evaluate({"subject_id": "s", "score": 60}, as_of=AS_OF)
    assert d.scorecard is None and "scorecard" not in d.to_row()
    per_street = load(folder, (FACTS.replace("optional_default", 'default = "-"') + OWN
                               + '\n[appraisal.quota]\ngrade = "ok"\nmax_share = 0.5\n'
                               'cohort_by = ["street"]\n').lstrip(), "per-street")
    assert isinstance(per_street.appraisal, Scorecards)
    d = per_street.appraisal.evaluate({"subject_id": "s", "score": 60}, as_of=AS_OF)
    assert d.scorecard is None and "scorecard" not in d.to_row()
