"""Volunteer points: the batch (polars) evaluator agrees with the per-record one.

Every record's status, hours, points, expiry and reason codes; every
rejected row's number and codes; every statement; row conservation.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import civicscore
from civicscore.schemes.base import REJECT_COLUMNS

from .conftest import AS_OF
from .strategies import BASE, activity_records, redemption_records
from .test_volunteer import POLICY

pl = pytest.importorskip("polars")

ROOT = Path(__file__).resolve().parents[1]

#: A second policy: nearest rounding, max rule, dated caps and coefficients, a multiplier
#: that reads the counted hours and can fail (division), no confirmation, overlaps allowed.
POLICY_B = """
[policy]
id = "vol-b"
version = "1"

[facts.activity]
team_size = { type = "int", min = 0, max = 50, default = 1 }
weight = { type = "decimal", default = 1.0 }

[volunteer]
rounding_minutes = 10
rounding = "nearest"
points_decimals = 1
confirmation_required = false
multiplier_rule = "max"
star_hours = "service"
point_expiry_months = 2

[volunteer.caps]
hours_per_day = { 2025-01-01 = 6, 2025-01-12 = 5 }
points_per_month = { 2025-01-05 = 30 }

[volunteer.categories.safety]
coefficient = { 2025-01-03 = 1.3 }

[volunteer.activities.patrol]
category = "safety"
points_per_hour = 1.7
max_hours = { 2025-01-02 = 4.5 }

[volunteer.activities.cleanup]
points_per_hour = { 2025-01-01 = 0.9 }

[volunteer.activities.talk]
points_per_event = 2.5

[[volunteer.multipliers]]
id = "team"
when = "team_size >= 3"
factor = 1.5

[[volunteer.multipliers]]
id = "per_member"
when = "weight / team_size > 0.4"
factor = { 2025-01-08 = 1.2 }

[[volunteer.multipliers]]
id = "short"
when = "10 / hours > 4"
factor = 1.25

[[volunteer.star_levels]]
stars = 1
hours = 5

[[volunteer.star_levels]]
stars = 2
hours = 20.5
"""


def _load(tmp: Path, text: str, name: str) -> civicscore.Policy:
    path = tmp / f"{name}.toml"
    path.write_text(text, encoding="utf-8")
    return civicscore.load(path)


@pytest.fixture(scope="module")
def policies(tmp_path_factory: pytest.TempPathFactory) -> list[civicscore.Policy]:
    tmp = tmp_path_factory.mktemp("batch-vol")
    return [_load(tmp, POLICY, "a"), _load(tmp, POLICY_B, "b")]


def assert_same(scheme: Any, records: Any, as_of: dt.date,
                redemptions: Any = None) -> Any:
    """Both evaluators on the same input give one output: the batch frames equal the
    per-record rows exactly (statements, every record's decision with its reasons, every
    rejected row), and the summary is the same."""
    extra = {"redemptions": redemptions} if redemptions is not None else {}
    per = scheme.run(records, as_of=as_of, **extra)
    batch = scheme.batch(records, as_of=as_of, **extra)
    assert_one_output(per, batch)
    return batch


def assert_one_output(per: Any, batch: Any) -> None:
    assert batch.output.to_dicts() == list(per.output_rows())
    assert batch.details.to_dicts() == list(per.detail_rows())
    assert batch.rejected.columns == list(REJECT_COLUMNS)
    assert batch.rejected.to_dicts() == per.rejected_rows()
    assert batch.rejected_rows() == per.rejected_rows()
    assert batch.rows_in == len(per.records)
    assert batch.summary() == per.summary()
    assert batch.table() == per.table()
    assert batch.redemptions.to_dicts() == [r.to_row() for r in per.redemptions]
    main, details = batch.cli_frames()
    assert main.to_dicts() == list(per.output_rows())
    assert details.to_dicts() == list(per.detail_rows())


# --- properties ----------------------------------------------------------------------------

ODD_VALUES = st.sampled_from([" 3 ", "1,200", "yes", "", None, "abc", 2.5, -1, 7, True])


@st.composite
def messy_records(draw: st.DrawFn) -> list[Any]:
    """The shared strategy's records, with odd values, B's facts, and unreadable rows."""
    records: list[Any] = draw(activity_records(max_size=30))
    for r in records:
        if draw(st.integers(0, 4)) == 0:
            r["team_size"] = draw(st.sampled_from([0, 1, 3, 5, " 4 ", "x", None, 60]))
        if draw(st.integers(0, 4)) == 0:
            r["weight"] = draw(st.sampled_from([0.5, 2, "1,5", " 0.7 ", None]))
        if draw(st.integers(0, 10)) == 0:
            r[draw(st.sampled_from(["record_id", "activity", "confirmed", "end"]))] = \
                draw(ODD_VALUES)
        if draw(st.integers(0, 10)) == 0:  # a 7:05 start: nearest-rounding and caps
            start = BASE + dt.timedelta(days=draw(st.integers(0, 20)), minutes=65)
            r["start"] = start.isoformat(sep=" ")
    if records and draw(st.integers(0, 5)) == 0:
        records.insert(draw(st.integers(0, len(records))), ["not", "a", "record"])
    return records


@st.composite
def scenarios(draw: st.DrawFn) -> tuple[list[Any], list[Any]]:
    """Several independent scenarios in one input (ids prefixed so they cannot collide):
    one batch call then covers them all, which keeps polars' per-call overhead small."""
    records: list[Any] = []
    redemptions: list[Any] = []
    for i in range(draw(st.integers(1, 4))):
        for r in draw(messy_records()):
            if isinstance(r, dict):
                for key in ("record_id", "volunteer_id"):
                    if isinstance(r.get(key), str) and r[key].strip():
                        r[key] = f"s{i}-{r[key]}"
            records.append(r)
        for x in draw(redemption_records()):
            x["volunteer_id"] = f"s{i}-{x['volunteer_id']}"
            x["redemption_id"] = f"s{i}-{x['redemption_id']}"
            redemptions.append(x)
    return records, redemptions


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(case=scenarios(), days=st.integers(-3, 60))
def test_policy_a_agrees(policies: list[civicscore.Policy], case: tuple[list[Any], list[Any]],
                         days: int) -> None:
    records, redemptions = case
    scheme = policies[0].volunteer
    assert_same(scheme, records, BASE.date() + dt.timedelta(days=days))
    assert_same(scheme, records, AS_OF, redemptions)


@settings(max_examples=6, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(case=scenarios(), which=st.sampled_from([0, 1]))
def test_chinese_reasons_agree(policies: list[civicscore.Policy],
                               case: tuple[list[Any], list[Any]], which: int) -> None:
    """The Chinese templates (caps, rates, rounding, multipliers, statements) give the
    same sentences in both engines."""
    from civicscore.messages import LANG

    records, redemptions = case
    token = LANG.set("zh")
    try:
        assert_same(policies[which].volunteer, records, AS_OF, redemptions)
    finally:
        LANG.reset(token)


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(case=scenarios(), days=st.integers(-3, 60))
def test_policy_b_agrees(policies: list[civicscore.Policy], case: tuple[list[Any], list[Any]],
                         days: int) -> None:
    """Dated caps and coefficients, nearest rounding, the max rule, a multiplier on counted
    hours that can divide by zero, overlaps allowed."""
    records, redemptions = case
    scheme = policies[1].volunteer
    assert_same(scheme, records, BASE.date() + dt.timedelta(days=days))
    assert_same(scheme, records, AS_OF, redemptions)


def test_overlap_chain_and_caps(policies: list[civicscore.Policy]) -> None:
    """A chain of overlaps: which records are scored depends on which earlier ones were."""
    def rec(rid: str, start: str, end: str, vid: str = "v1") -> dict[str, Any]:
        return {"record_id": rid, "volunteer_id": vid, "activity": "cleanup",
                "start": f"2025-03-04T{start}", "end": f"2025-03-04T{end}",
                "confirmed": True, "submitted_at": f"2025-03-04T{end}"}
    records = [rec("a", "08:00", "10:00"), rec("b", "09:00", "11:00"),
               rec("c", "10:30", "12:00"), rec("d", "11:30", "13:00"),
               rec("e", "12:30", "18:00"), rec("f", "08:00", "20:00", "v2")]
    batch = assert_same(policies[0].volunteer, records, AS_OF)
    assert batch.details["status"].to_list() == ["scored", "rejected", "scored", "rejected",
                                                "scored", "scored"]


# --- the localities' cases and examples ----------------------------------------------------

LOCALITIES = ("chengdu", "fangxian", "karamay", "qingdao", "hengshui", "baseline")


def _volunteer_policies() -> list[str]:
    out = []
    for name in LOCALITIES:
        try:
            if "volunteer" in civicscore.load(name).schemes:
                out.append(name)
        except Exception:  # a locality that is not installed
            continue
    return out


@pytest.mark.parametrize("name", _volunteer_policies())
def test_locality_cases_agree(name: str) -> None:
    policy = civicscore.load(name)
    scheme = policy.scheme("volunteer")
    cases = [c for c in policy.model.case if c.scheme == "volunteer"]
    for case in cases:
        records = [case.input] if case.input is not None else list(case.records)
        assert_same(scheme, records, case.as_of,
                    list(case.redemptions) if case.redemptions else None)


def _example_files() -> list[tuple[str, Path]]:
    out = []
    for name in _volunteer_policies():
        for path in sorted((ROOT / "plugins").glob(f"*-{name}/examples/*.csv")):
            header = path.read_text(encoding="utf-8").splitlines()[0].split(",")
            if {"start", "end", "activity"} <= set(header):
                out.append((name, path))
    return out


@pytest.mark.parametrize(("name", "path"), _example_files())
def test_locality_examples_agree(name: str, path: Path) -> None:
    from civicscore.io import read_records

    scheme = civicscore.load(name).scheme("volunteer")
    records = list(read_records(path))
    assert_one_output(scheme.run(records, as_of=AS_OF), scheme.batch(path, as_of=AS_OF))


def test_bundled_examples_give_one_output() -> None:
    """examples/volunteer-activities.csv and examples/redemptions.csv under the example
    district: the files themselves, read by each engine's own reader."""
    from civicscore.io import read_records

    scheme = civicscore.load(ROOT / "policies" / "example-district.toml").volunteer
    activities, redemptions = ROOT / "examples" / "volunteer-activities.csv", \
        ROOT / "examples" / "redemptions.csv"
    per = scheme.run(list(read_records(activities)), as_of=AS_OF,
                     redemptions=list(read_records(redemptions)))
    batch = scheme.batch(activities, as_of=AS_OF, redemptions=redemptions)
    assert_one_output(per, batch)
    assert batch.output.height and batch.details.height


def test_parquet_round_trip(policies: list[civicscore.Policy], tmp_path: Path) -> None:
    rows = [{"record_id": f"r{i}", "volunteer_id": f"v{i % 3}", "activity": "patrol",
             "start": dt.datetime(2025, 3, 1 + i, 9, 0), "end": dt.datetime(2025, 3, 1 + i, 12, 5),
             "confirmed": i % 4 != 0, "submitted_at": dt.datetime(2025, 3, 2 + i, 9, 0),
             "holiday_bonus": i % 2 == 0} for i in range(12)]
    target = tmp_path / "activities.parquet"
    pl.DataFrame(rows).write_parquet(target)
    scheme = policies[0].volunteer
    per = scheme.run(rows, as_of=AS_OF)
    batch = scheme.batch(target, as_of=AS_OF)
    assert_one_output(per, batch)
    assert batch.rejected["row"].to_list() == [d.row for d in per.rejected]


def test_cli_writes_one_output_with_either_engine(tmp_path: Path) -> None:
    """``score --engine batch`` and ``--engine per-record`` write the same statements,
    details, rejects and summary (compared as parsed CSV: the writers' line endings and
    quoting of empty cells are the CLI's, not the scheme's)."""
    import csv

    from click.testing import CliRunner

    from civicscore.cli import main

    def run(engine: str) -> tuple[list[list[list[str]]], str]:
        paths = [tmp_path / f"{kind}-{engine}.csv" for kind in ("out", "details", "rejects")]
        result = CliRunner().invoke(main, [
            "score", str(ROOT / "policies" / "example-district.toml"),
            str(ROOT / "examples" / "volunteer-activities.csv"), "--scheme", "volunteer",
            "--as-of", "2025-12-31", "--redemptions", str(ROOT / "examples" / "redemptions.csv"),
            "-o", str(paths[0]), "--details", str(paths[1]), "--rejects", str(paths[2]),
            "--engine", engine])
        assert result.exit_code == 0, result.output
        frames = [list(csv.reader(p.read_text(encoding="utf-8").splitlines())) for p in paths]
        return frames, result.stderr.replace(engine, "ENGINE")

    assert run("batch") == run("per-record")


# --- caps that change inside a month, and month caps that cut within a day ----------------

#: Month caps whose value changes mid-month, and a day cap above what the month leaves:
#: the batch engine handed such volunteers to the per-record code before the cap scan.
POLICY_C = """
[policy]
id = "vol-c"
version = "1"

[volunteer]
rounding_minutes = 15
rounding = "down"
points_decimals = 2
confirmation_required = false

[volunteer.caps]
hours_per_day = 5
hours_per_month = { 2025-01-01 = 12, 2025-01-15 = 8 }
points_per_day = 9
points_per_month = { 2025-01-01 = 20, 2025-01-20 = 14.5 }

[volunteer.activities.cleanup]
points_per_hour = 1.5

[volunteer.activities.talk]
points_per_event = 2.25
"""


@st.composite
def january(draw: st.DrawFn) -> list[dict[str, Any]]:
    """Records of three volunteers in January 2025, several a day, some overlapping."""
    out = []
    for n in range(draw(st.integers(1, 30))):
        start = dt.datetime(2025, 1, draw(st.integers(1, 31)), draw(st.integers(6, 18)),
                            draw(st.sampled_from([0, 20, 40])))
        end = start + dt.timedelta(minutes=draw(st.integers(10, 400)))
        out.append({"record_id": f"r{n}", "volunteer_id": f"v{draw(st.integers(0, 2))}",
                    "activity": draw(st.sampled_from(["cleanup", "cleanup", "talk"])),
                    "start": start.isoformat(), "end": end.isoformat()})
    return out


@pytest.fixture(scope="module")
def policy_c(tmp_path_factory: pytest.TempPathFactory) -> civicscore.Policy:
    return _load(tmp_path_factory.mktemp("batch-vol-c"), POLICY_C, "c")


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(records=january())
def test_caps_changing_inside_a_month_agree(policy_c: civicscore.Policy,
                                            records: list[dict[str, Any]]) -> None:
    assert_same(policy_c.volunteer, records, AS_OF)


def test_a_month_cap_cut_early_in_a_day(policy_c: civicscore.Policy) -> None:
    """11 h of the 12 h month cap used by 14 January; on the 14th, 2 h then 3 h: the first
    is cut to 1 h by the month, the second finds nothing left (the day has 4 h left)."""
    def rec(rid: str, day: int, start: str, end: str) -> dict[str, Any]:
        return {"record_id": rid, "volunteer_id": "v", "activity": "cleanup",
                "start": f"2025-01-{day:02d}T{start}", "end": f"2025-01-{day:02d}T{end}"}
    records = [rec("a", 2, "08:00", "13:00"), rec("b", 3, "08:00", "13:00"),
               rec("c", 4, "08:00", "09:00"), rec("d", 14, "08:00", "10:00"),
               rec("e", 14, "11:00", "14:00")]
    batch = assert_same(policy_c.volunteer, records, AS_OF)
    assert batch.details["counted_hours"].to_list() == [5.0, 5.0, 1.0, 1.0, 0.0]
