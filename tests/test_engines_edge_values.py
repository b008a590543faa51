"""Values at the edges of what Python and polars can hold: the engines agree, or both refuse.

Found by a reliability pass (issue 10): a lone UTF-16 surrogate in an id
crashed the batch engine while the per-record one rejected the record; a
Parquet date in the year 10000 (polars holds it, Python cannot) crashed the
batch engine while the per-record one refused the file; a leap second.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import CliRunner

import civicscore
from civicscore.cli import main
from civicscore.testing import assert_evaluators_agree

pl = pytest.importorskip("polars")
pa = pytest.importorskip("pyarrow")
pq = pytest.importorskip("pyarrow.parquet")

ROOT = Path(__file__).resolve().parent.parent
POLICY = ROOT / "policies" / "example-district.toml"
AS_OF = dt.date(2025, 12, 31)
ACTIVITY = {"record_id": "A1", "volunteer_id": "V1", "activity": "cleanup",
            "start": "2025-10-01T09:00", "end": "2025-10-01T12:00", "confirmed": True,
            "submitted_at": "2025-10-01T13:00"}
BROKEN = "V\ud800"  # a lone surrogate: not valid text, cannot be written as UTF-8


@pytest.fixture(scope="module")
def policy() -> civicscore.Policy:
    return civicscore.load(POLICY)


@pytest.mark.parametrize("scheme,record", [
    ("volunteer", {**ACTIVITY, "volunteer_id": BROKEN}),
    ("volunteer", {**ACTIVITY, "record_id": BROKEN}),
    ("visits", {"household_id": BROKEN, "age_oldest": 80}),
    ("visits", {"household_id": "h1", "liaison_id": BROKEN, "age_oldest": 80}),
    ("civility", {"household_id": BROKEN}),
    ("appraisal", {"subject_id": BROKEN}),
])
def test_a_broken_surrogate_is_rejected_alike(policy: civicscore.Policy, scheme: str,
                                              record: dict[str, object]) -> None:
    good = {**record, **{k: "ok1" for k, v in record.items() if v == BROKEN}}
    result = assert_evaluators_agree(policy, scheme, [record, good], as_of=AS_OF)
    first = result.rejected_rows()[0]
    assert first["row"] == 1
    assert any("not valid text" in m for m in first["reasons"])


def test_a_leap_second_is_decided_alike(policy: civicscore.Policy) -> None:
    record = {**ACTIVITY, "end": "2025-06-30T23:59:60"}
    result = assert_evaluators_agree(policy, "volunteer", [record], as_of=AS_OF)
    assert result.rejected_rows()[0]["reason_codes"] == ["INVALID_DATETIME"]


def _year_10000(tmp_path: Path) -> Path:
    days = (dt.date(9999, 12, 31) - dt.date(1970, 1, 1)).days + 400
    table = pa.table({"household_id": ["h1", "h2"],
                      "last_visit": pa.array([days, 100], pa.date32())})
    path = tmp_path / "households.parquet"
    pq.write_table(table, path)
    return path


@pytest.mark.parametrize("engine", ["per-record", "batch"])
def test_a_date_past_9999_is_refused_alike(tmp_path: Path, engine: str) -> None:
    path = _year_10000(tmp_path)
    result = CliRunner().invoke(main, ["score", str(POLICY), str(path), "--scheme", "visits",
                                       "--as-of", "2025-12-31", "--engine", engine])
    assert result.exit_code == 2, result.output
    assert f"{path}: column 'last_visit' holds a date outside the years 1 to 9999" \
        in result.output
    assert "internal error" not in result.output


def test_a_frame_with_a_date_past_9999_is_refused(policy: civicscore.Policy,
                                                  tmp_path: Path) -> None:
    frame = pl.read_parquet(_year_10000(tmp_path))
    with pytest.raises(civicscore.InputError, match="column 'last_visit' holds a date outside"):
        policy.visits.batch(frame, as_of=AS_OF)


def test_a_nan_among_mixed_values_is_a_blank_cell_in_both_engines(
        load_text: Callable[..., civicscore.Policy]) -> None:
    """A column holding NaN, text and booleans (a pandas object column) is read value by
    value; its NaN is a blank cell, as ``records.is_missing`` says, in the columnar reader
    too. It was "required and missing" there, so with confirmation not required the batch
    engine rejected a record the per-record one scored, and stopped with an internal
    error."""
    policy = load_text('[policy]\nid = "no-confirm"\nversion = "1"\ntitle = "t"\n'
                       'extends = "baseline"\noverrides = ["volunteer.confirmation_required"]\n'
                       '[volunteer]\nconfirmation_required = false\n')
    records = [{**ACTIVITY, "record_id": f"A{i}", "confirmed": value,
                "start": f"2025-10-0{i}T09:00", "end": f"2025-10-0{i}T12:00",
                "submitted_at": f"2025-10-0{i}T13:00"}
               for i, value in enumerate([math.nan, "yes", True], start=1)]
    result = assert_evaluators_agree(policy, "volunteer", records, as_of=AS_OF)
    assert not result.rejected_rows()


def test_the_columnar_reader_strips_what_python_strips() -> None:
    """``frames.PY_WHITESPACE`` is exactly what ``str.strip`` removes, so a cell of only
    such characters is blank, and text is stripped alike, in both engines."""
    from civicscore.batch.frames import PY_WHITESPACE

    stripped = {chr(c) for c in range(0x110000)
                if not 0xD800 <= c <= 0xDFFF and not chr(c).strip()}
    assert set(PY_WHITESPACE) == stripped


@pytest.mark.parametrize("cells", [[math.nan, "2025-10-02T13:00", dt.datetime(2025, 10, 3, 13)],
                                   [math.nan, math.nan]], ids=["mixed", "all-nan"])
def test_a_nan_submission_time_is_a_blank_cell_in_both_engines(
        load_text: Callable[..., civicscore.Policy], cells: list[object]) -> None:
    """The same for the times the volunteer batch reads itself: with no submission window,
    a blank ``submitted_at`` (NaN, alone in a float column or among times) is allowed by
    both engines; the batch one called it an unreadable time."""
    baseline = ROOT / "src" / "civicscore" / "policies" / "baseline.toml"
    text = "".join(line for line in baseline.read_text(encoding="utf-8").splitlines(True)
                   if not line.startswith("submission_window_days"))
    policy = load_text(text)
    assert policy.volunteer.rules.submission_window_days is None
    records = [{**ACTIVITY, "record_id": f"A{i}", "submitted_at": value,
                "start": f"2025-10-0{i}T09:00", "end": f"2025-10-0{i}T12:00"}
               for i, value in enumerate(cells, start=1)]
    result = assert_evaluators_agree(policy, "volunteer", records, as_of=AS_OF)
    assert not result.rejected_rows()
