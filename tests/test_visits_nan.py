"""A float NaN is a blank cell, in both evaluators, for visits and civility.

pandas, with its default dtypes, reads an empty cell of a number, date or
mixed column as ``float('nan')``. The per-record API used to refuse such a
blank optional date (INVALID_DATE) where the batch evaluator, given the
pandas frame, saw a null and accepted it. Now ``records.is_missing`` counts a
float NaN as blank: an optional date is "never", a fact with a default takes
it, and a required fact — a required decimal included — is refused as
MISSING_FIELD, the same in both evaluators, whether the NaN comes in dict
records (a float column or a column of mixed values) or in a polars frame
(NaN or null). The text "nan" stays a value, refused as not a finite number.
pandas is not a dependency: its test runs only where it is installed.
"""

from __future__ import annotations

import datetime as dt
import math
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import civicscore
from civicscore.records import is_missing

pl = pytest.importorskip("polars")

AS_OF = dt.date(2026, 3, 1)
NAN = math.nan

VISITS = """
[policy]
id = "nan-visits"
version = "1"

[facts.household]
age = { type = "int", min = 0, max = 130, care_need = true, concept = "age" }
need = { type = "decimal", min = 0, care_need = true, concept = "ability_level" }
income = { type = "decimal", min = 0, default = 1.5, care_need = true, concept = "economic_hardship" }
alone = { type = "bool", default = false, care_need = true, concept = "lives_alone" }
fall_on = { type = "date", optional = true, care_need = true, concept = "fall" }

[visits]
default_tier = "routine"

[[visits.tiers]]
id = "weekly"
cadence = "weekly"
when = "age >= 80 and alone or need > 2.5 or income > 3"

[[visits.tiers]]
id = "routine"
cadence = "quarterly"

[[visits.triggers]]
id = "fall"
event = "fall_on"
within_days = 3
"""

CIVILITY = """
[policy]
id = "nan-civility"
version = "1"

[facts.household]
law_violations = { type = "int", min = 0, default = 0 }
hours = { type = "decimal", min = 0 }
signed = { type = "bool", default = false }
commended_on = { type = "date", optional = true }

[civility]
review_years = 2
bar_years = 1

[[civility.stars]]
id = "law"
when = "law_violations == 0"

[[civility.stars]]
id = "busy"
when = "hours >= 2.5 and signed"

[[civility.stars]]
id = "recent"
when = "days_between(commended_on, as_of) <= 365"

[[civility.titles]]
min_stars = 2
label = "文明户"
"""


@pytest.fixture(scope="module")
def policies(tmp_path_factory: pytest.TempPathFactory) -> dict[str, civicscore.Policy]:
    tmp = tmp_path_factory.mktemp("nan")
    out = {}
    for name, text in (("visits", VISITS), ("civility", CIVILITY)):
        path = tmp / f"{name}.toml"
        path.write_text(text, encoding="utf-8")
        out[name] = civicscore.load(path)
    return out


def test_is_missing() -> None:
    import decimal

    assert is_missing(NAN) and is_missing(float("-nan")) and is_missing(None)
    assert is_missing("") and is_missing("  ")
    assert not any(is_missing(v) for v in (0, 0.0, False, "nan", "NaN", math.inf,
                                           decimal.Decimal("NaN"), dt.date.min))


def _scheme(policies: dict[str, civicscore.Policy], name: str) -> Any:
    scheme = getattr(policies[name], name)
    assert scheme is not None
    return scheme


def _agree(scheme: Any, items: list[dict[str, Any]], source: Any = None) -> list[list[str]]:
    """Both evaluators give one output; returns each row's reason codes."""
    per = scheme.evaluate_many(items, as_of=AS_OF)
    batch = scheme.batch(items if source is None else source, as_of=AS_OF)
    want = list(per.output_rows())
    assert batch.output.to_dicts() == want
    assert batch.rejected.select("input", "row", "id", "reason_codes", "reasons").to_dicts() \
        == per.rejected_rows()
    return [r["reason_codes"] for r in want]


VISIT_BASE = {"household_id": "H1", "liaison_id": "L1", "age": 70, "need": 1.0,
              "last_visit": dt.date(2026, 1, 10)}


@pytest.mark.parametrize(("field", "codes"), [
    ("last_visit", ["DEFAULT_TIER", "NEVER_VISITED"]),  # blank: never visited
    ("liaison_id", ["DEFAULT_TIER", "CADENCE"]),  # blank: no liaison
    ("fall_on", ["DEFAULT_TIER", "CADENCE"]),  # optional date: never
    ("income", ["DEFAULT_TIER", "CADENCE"]),  # default 1.5
    ("alone", ["DEFAULT_TIER", "CADENCE"]),  # default false
    ("need", ["MISSING_FIELD"]),  # a required decimal: refused, as a blank
    ("age", ["MISSING_FIELD"]),
    ("household_id", ["MISSING_FIELD"]),
])
def test_visits_nan_is_blank(policies: dict[str, civicscore.Policy], field: str,
                             codes: list[str]) -> None:
    visits = _scheme(policies, "visits")
    with_nan = {**VISIT_BASE, field: NAN}
    blank = {k: v for k, v in VISIT_BASE.items() if k != field}
    assert _agree(visits, [with_nan]) == [codes]
    assert _agree(visits, [blank]) == [codes]  # exactly as if the cell were absent
    # the same column as floats only (a Float64 column), and mixed with a value
    other = {**VISIT_BASE, "household_id": "H2"}
    assert _agree(visits, [with_nan, other])[0] == codes
    # a polars frame with the NaN, and one with a null, in a float column
    frame = pl.DataFrame({field: pl.Series([NAN, NAN], dtype=pl.Float64),
                          **{k: [v, v] for k, v in VISIT_BASE.items() if k != field}})
    per_codes = [list(d.reason_codes) for d in visits.evaluate_many(
        frame.to_dicts(), as_of=AS_OF).decisions]
    assert [r["reason_codes"] for r in visits.batch(frame, as_of=AS_OF).output.to_dicts()] \
        == per_codes
    nulls = frame.with_columns(pl.col(field).fill_nan(None))
    assert visits.batch(nulls, as_of=AS_OF).output.to_dicts() == \
        visits.batch(frame, as_of=AS_OF).output.to_dicts()


def test_visits_text_nan_is_still_refused(policies: dict[str, civicscore.Policy]) -> None:
    visits = _scheme(policies, "visits")
    assert _agree(visits, [{**VISIT_BASE, "need": "nan"}]) == [["INVALID_FIELD"]]
    assert _agree(visits, [{**VISIT_BASE, "need": math.inf}]) == [["INVALID_FIELD"]]


CIVILITY_BASE = {"household_id": "H1", "hours": 3.0, "signed": True,
                 "review_date": dt.date(2025, 6, 1)}


@pytest.mark.parametrize(("field", "codes"), [
    ("review_date", ["TITLE", "REVIEW_DUE"]),
    ("revoked_on", ["TITLE", "REVIEW_VALID"]),
    ("revocation_reason", ["TITLE", "REVIEW_VALID"]),
    ("commended_on", ["TITLE", "REVIEW_VALID"]),
    ("law_violations", ["TITLE", "REVIEW_VALID"]),
    ("signed", ["NO_TITLE", "REVIEW_VALID"]),
    ("hours", ["MISSING_FIELD"]),  # a required decimal
    ("household_id", ["MISSING_FIELD"]),
])
def test_civility_nan_is_blank(policies: dict[str, civicscore.Policy], field: str,
                               codes: list[str]) -> None:
    civility = _scheme(policies, "civility")
    with_nan = {**CIVILITY_BASE, field: NAN}
    blank = {k: v for k, v in CIVILITY_BASE.items() if k != field}
    assert _agree(civility, [with_nan]) == [codes]
    assert _agree(civility, [blank]) == [codes]
    other = {**CIVILITY_BASE, "household_id": "H2", "revoked_on": "2020-01-01",
             "revocation_reason": "x"}
    assert _agree(civility, [with_nan, other])[0] == codes


values = st.one_of(st.just(NAN), st.none(), st.just(""), st.just("2026-02-01"),
                   st.just(dt.date(2026, 2, 2)), st.just(2.0), st.just("nan"), st.just(85))


@settings(max_examples=60, deadline=None)
@given(rows=st.lists(st.fixed_dictionaries(
    {"household_id": st.sampled_from(["H1", "H2", "H3", NAN])},
    optional={k: values for k in ("last_visit", "liaison_id", "age", "need", "income",
                                  "alone", "fall_on")}), min_size=1, max_size=8))
def test_visits_nan_anywhere_agrees(policies: dict[str, civicscore.Policy],
                                    rows: list[dict[str, Any]]) -> None:
    _agree(_scheme(policies, "visits"), rows)


@settings(max_examples=60, deadline=None)
@given(rows=st.lists(st.fixed_dictionaries(
    {"household_id": st.sampled_from(["H1", "H2", NAN])},
    optional={k: values for k in ("hours", "signed", "law_violations", "commended_on",
                                  "review_date", "revoked_on", "revocation_reason")}),
    min_size=1, max_size=8))
def test_civility_nan_anywhere_agrees(policies: dict[str, civicscore.Policy],
                                      rows: list[dict[str, Any]]) -> None:
    _agree(_scheme(policies, "civility"), rows)


def test_pandas_default_dtypes(policies: dict[str, civicscore.Policy], tmp_path: Path) -> None:
    """Read with pandas' defaults, blanks are NaN: per-record records and the frame agree."""
    pd = pytest.importorskip("pandas")
    path = tmp_path / "households.csv"
    path.write_text("household_id,liaison_id,age,need,last_visit,fall_on\n"
                    "H1,L1,85,1.0,2026-01-10,\nH2,,70,,2026-01-10,2026-02-20\n"
                    "H3,L1,70,3.0,,\n", encoding="utf-8")
    frame = pd.read_csv(path)
    visits = _scheme(policies, "visits")
    records = frame.to_dict("records")
    assert _agree(visits, records, source=frame) == [
        ["DEFAULT_TIER", "CADENCE"], ["MISSING_FIELD"], ["TIER_MATCHED", "NEVER_VISITED"]]
