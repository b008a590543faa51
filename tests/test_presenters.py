"""What a person reads of a run (its summary line and its table) is the same from either
engine, because both call the scheme's one presenter on the rows they produce alike."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

import civicscore
from civicscore.schemes.base import TABLE_ROWS, Presenter, column_of, presenter_of
from civicscore.schemes.builtins import BUILTIN_SCHEMES
from civicscore.testing import assert_evaluators_agree

AS_OF = dt.date(2025, 12, 31)
EXAMPLES = {"volunteer": "examples/volunteer-activities.csv",
            "civility": "examples/civility-households.csv",
            "visits": "examples/visits-households.csv",
            "appraisal": "examples/appraisal-subjects.csv"}


@pytest.fixture(scope="module")
def policy() -> civicscore.Policy:
    return civicscore.load("policies/example-district.toml")


@pytest.mark.parametrize("spec", BUILTIN_SCHEMES, ids=lambda s: s.name)
def test_a_presenter_words_its_scheme_as_its_registration_does(
        policy: civicscore.Policy, spec: Any) -> None:
    shown = presenter_of(policy.scheme(spec.name))
    assert type(shown) is not Presenter, "every built-in scheme has its own presenter"
    assert (shown.noun, shown.input_kind) == (spec.noun, spec.input_kind)
    assert shown.title and shown.columns


@pytest.mark.parametrize("scheme", sorted(EXAMPLES))
def test_summary_and_table_are_the_same_from_either_engine(policy: civicscore.Policy,
                                                            scheme: str) -> None:
    from civicscore.io import read_records

    extra = {"redemptions": list(read_records("examples/redemptions.csv"))} \
        if scheme == "volunteer" else {}
    batch = assert_evaluators_agree(policy, scheme, read_records(EXAMPLES[scheme]),
                                    as_of=AS_OF, **extra)
    line = batch.summary()
    assert line.endswith(f"policy {policy.ref}, as of {AS_OF}")
    title, columns, rows = batch.table()
    assert title == f"{type(presenter_of(policy.scheme(scheme))).title} as of {AS_OF} — " \
                    f"{policy.ref}"
    assert rows and all(len(r) == len(columns) for r in rows)


def test_the_summary_counts_what_the_rows_say(policy: civicscore.Policy) -> None:
    from civicscore.io import read_records

    run = policy.visits.run(read_records(EXAMPLES["visits"]), as_of=AS_OF)
    rows = list(run.output_rows())
    overdue = sum(bool(r["overdue"]) for r in rows)
    scored = sum(r["status"] == "scored" for r in rows)
    assert run.summary().startswith(
        f"{scored} of {len(rows)} households scored, {len(rows) - scored} rejected; "
        f"{overdue} overdue; {len(list(run.detail_rows()))} caseload(s); ")


def test_a_long_table_shows_its_first_rows_and_says_so(policy: civicscore.Policy) -> None:
    n = TABLE_ROWS + 5
    records = [{"subject_id": f"s{i}", "tasks_completed_pct": 90, "requests_resolved_pct": 90,
                "satisfaction_staff": 90, "satisfaction_users": 90,
                "satisfaction_departments": 90, "satisfaction_leaders": 90} for i in range(n)]
    batch = assert_evaluators_agree(policy, "appraisal", records, as_of=AS_OF)
    title, _, rows = batch.table()
    assert len(rows) == TABLE_ROWS
    assert title.endswith(f"(the first {TABLE_ROWS} of {n} rows)")


def test_the_default_presenter_uses_the_nouns_of_the_registration(
        policy: civicscore.Policy) -> None:
    spec = policy.spec("visits")
    shown = Presenter(object(), spec)
    line = shown.summary(rows_in=2, output=column_of([]), details=column_of([]),
                         detail_names=[], rejected=[{"input": "households"}], policy=policy.ref,
                         as_of=AS_OF)
    assert line == f"1 of 2 households scored, 1 rejected; policy {policy.ref}, as of {AS_OF}"
    assert shown.cells({"a": ["x", "y"], "b": None, "c": 3}) == ["x, y", "", "3"]
