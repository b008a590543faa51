"""The volunteer reasons' templates and their batch helpers.

``plan.words.say_coded`` gives each sentence's code beside it; ``quotient`` is Python's ``int / int``; the templates are built once per policy
and say, for a trace row, what the per-record reasons say (the engines' parity over
whole runs is ``test_batch_volunteer``'s).
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

import civicscore
from civicscore.plan.words import Choose, Say, Slot, Words, say_coded, say_frame, say_row
from civicscore.schemes.volunteer.words import code_entries, month_text, quotient

from .test_volunteer import POLICY

pl = pytest.importorskip("polars")

ENTRIES = (
    Say(Words.of("a ", Slot("x", "fact"), " b"), "k"),
    Choose("i", (Words.of("zero"), Words.of("one ", Slot("d", "text")), Words.of(""))),
    Say(Words.of("always ", Slot("n", "int"))),
    Say(Words.of(Slot("x", "fact")), "j"),
)

rows = st.fixed_dictionaries({
    "k": st.booleans() | st.none(), "j": st.booleans(),
    "x": st.floats(allow_nan=False, allow_infinity=False) | st.none(),
    "i": st.sampled_from([0, 1, 2, None]), "n": st.integers(-10**6, 10**6),
    "d": st.dates(dt.date(1, 1, 1), dt.date(9999, 12, 31))})


@settings(max_examples=40, deadline=None)
@given(st.lists(rows, min_size=0, max_size=12))
def test_codes_travel_beside_their_sentences(data: list[dict[str, object]]) -> None:
    frame = pl.DataFrame(data, schema={"k": pl.Boolean, "j": pl.Boolean, "x": pl.Float64,
                                       "i": pl.Int64, "n": pl.Int64, "d": pl.Date})
    coded = [(f"C{i}", e) for i, e in enumerate(ENTRIES)]
    codes, reasons = say_coded(coded, frame)
    assert reasons.to_list() == say_frame(ENTRIES, frame).to_list()
    assert codes.to_list() == say_frame(code_entries(coded), frame).to_list()
    for row, said in zip(data, say_frame(ENTRIES, frame).to_list(), strict=True):
        assert said == say_row(ENTRIES, {**row, "k": bool(row["k"])})


@settings(max_examples=40, deadline=None)
@given(st.lists(st.tuples(st.integers(-2**70, 2**70), st.integers(1, 2**70)), max_size=8))
@example([(2**53 + 1, 3), (9007199254740993, 60), (267, 100)])
def test_quotient_is_python_division(pairs: list[tuple[int, int]]) -> None:
    num = pl.Series([a for a, _ in pairs], dtype=pl.Int128)
    den = pl.Series([b for _, b in pairs], dtype=pl.Int128)
    assert quotient(num, den).to_list() == [a / b for a, b in pairs]


def test_templates_built_once_from_the_policy(tmp_path: Path) -> None:
    path = tmp_path / "policy.toml"
    path.write_text(POLICY, encoding="utf-8")
    scheme = civicscore.load(path).schemes.get("volunteer")
    words = scheme.words
    assert words is scheme.words  # built at compile time, not per record
    codes = [code for code, _ in words.entries()]
    assert codes[-1] == "CAP_POINTS_MONTH" and "RATE" in codes
    assert month_text(dt.date(25, 3, 9)) == "25-03"


def test_step1_rejections_worded_in_batch_as_per_record(tmp_path: Path) -> None:
    """Every step-1 rejection batch words from templates (rows whose fields all parsed),
    beside one it leaves to the per-record code, says what the per-record path says:
    microsecond and far-off times, a misspelt activity, a rate not yet in force, several
    reasons on one row."""
    from .test_batch_volunteer import assert_same

    path = tmp_path / "policy.toml"
    path.write_text(POLICY, encoding="utf-8")
    scheme = civicscore.load(path).schemes.get("volunteer")

    def rec(rid: str, **kw: object) -> dict[str, object]:
        base: dict[str, object] = {
            "record_id": rid, "volunteer_id": "V1", "activity": "cleanup",
            "start": "2025-01-21 09:00", "end": "2025-01-21 11:00", "confirmed": True,
            "submitted_at": "2025-01-22 08:00"}
        return {**base, **kw}

    records = [
        rec("A1"), rec("A1"), rec("A2", activity="cleanupp"), rec("A3", activity="zzz"),
        rec("A4", end="2025-01-21 08:59:59.250000"), rec("A5", confirmed=False),
        rec("A6", end="2025-02-20 10:00", submitted_at="2025-02-21 10:00"),
        rec("A7", submitted_at="2025-01-21 10:00:00.5"),
        rec("A8", submitted_at="2025-03-30 10:00"),
        rec("A9", activity="patrol", start="2023-06-01 09:00", end="2023-06-01 10:00",
            submitted_at="2023-06-02 09:00"),
        rec("A9", activity="cleanupp", end="2025-01-20 09:00", confirmed=False,
            submitted_at="2025-01-19 09:00"),
        rec("B1", start="0999-01-01 09:00", end="0999-01-01 08:00"),
        rec("B2", start="x"),  # a field that does not parse: the per-record code words it
    ]
    batch = assert_same(scheme, records, dt.date(2025, 2, 1))
    codes = {c for cs in batch.rejected["reason_codes"].to_list() for c in cs}
    assert {"DUPLICATE_RECORD", "UNKNOWN_ACTIVITY", "END_NOT_AFTER_START", "AFTER_AS_OF",
            "NOT_CONFIRMED", "SUBMITTED_BEFORE_END", "LATE_SUBMISSION",
            "RATE_NOT_IN_FORCE"} <= codes


def test_statements_worded_in_batch_as_per_record(tmp_path: Path) -> None:
    """Statements from columns: a star level reached exactly, one short of the next,
    none yet, points expired, a volunteer known only from a redemption."""
    from .test_batch_volunteer import POLICY_B, assert_same

    path = tmp_path / "b.toml"
    path.write_text(POLICY_B, encoding="utf-8")
    scheme = civicscore.load(path).schemes.get("volunteer")

    def rec(rid: str, vid: str, day: int, hours: float) -> dict[str, object]:
        start = dt.datetime(2025, 1, day, 9, 0)
        return {"record_id": rid, "volunteer_id": vid, "activity": "cleanup",
                "start": start.isoformat(sep=" "),
                "end": (start + dt.timedelta(hours=hours)).isoformat(sep=" ")}

    records = [rec("A1", "V1", 10, 5), rec("A2", "V2", 10, 4.5), rec("A3", "V2", 11, 0.5),
               rec("A4", "V3", 12, 1), *(rec(f"B{d}", "V4", d, 4.5) for d in range(1, 6))]
    redemptions = [{"redemption_id": "R1", "volunteer_id": "V9", "date": "2025-03-01",
                    "points": 1}]
    batch = assert_same(scheme, records, dt.date(2025, 4, 1), redemptions)
    codes = {c for cs in batch.output["reason_codes"].to_list() for c in cs}
    assert {"STAR_LEVEL", "NEXT_STAR", "EXPIRED"} <= codes
    assert "V9" in batch.output["volunteer_id"].to_list()


def test_reasons_in_chinese_by_the_policys_locale(monkeypatch: pytest.MonkeyPatch) -> None:
    """karamay's locale is zh-CN: with no language asked, a record's and a statement's
    reasons are Chinese in both engines; ``--lang en`` (the LANG context) gives English."""
    import datetime as dt

    import civicscore
    from civicscore.messages import LANG

    monkeypatch.delenv("CIVICSCORE_LANG", raising=False)
    scheme = civicscore.load("karamay").volunteer
    records = [{"record_id": "R1", "volunteer_id": "V1", "activity": "patrol",
                "start": "2025-03-03T09:00:00", "end": "2025-03-03T11:40:00",
                "submitted_at": "2025-03-04T09:00:00", "confirmed": True}]
    as_of = dt.date(2025, 12, 31)
    per = scheme.decide_many(records, as_of=as_of)
    said = [r.message for r in per.records[0].reasons]
    assert any(m.startswith("160 分钟的服务按 150 分钟计") for m in said), said
    assert any("：每小时 1 分 x 2.5 计入小时 = 2.5" in m for m in said), said
    batch = scheme.batch(records, as_of=as_of)
    assert batch.output.to_dicts() == list(per.output_rows())
    assert batch.details.to_dicts() == list(per.detail_rows())
    token = LANG.set("en")
    try:
        english = [r.message for r in scheme.decide_many(records, as_of=as_of).records[0].reasons]
    finally:
        LANG.reset(token)
    assert any("minutes of service counted as 150 minutes" in m for m in english), english
    record, statement = per.records[0], per.statements["V1"]
    assert record.explain().startswith("记录 R1（patrol，志愿者 V1，2025-03-03）计入 2.5 小时")
    assert record.explain("en").startswith("Record R1 (patrol, volunteer V1, 2025-03-03)")
    assert statement.explain().startswith("志愿者 V1，截至 2025-12-31：余额 ")
