"""Look-alike ids are one id, in both engines and every scheme (issue 10).

"V1", full-width "Ｖ1", "V1" followed by a zero-width space, and the NFC and
NFD spellings of an accented id used to count as different volunteers and
households: they escaped duplicate checks, daily caps and liaison caseloads.
Every id field is now read by ``records.to_id`` (per record) and
``batch.frames.coerce_id`` (columns), both from one definition: format
characters (Unicode category Cf) dropped, NFKC, surrounding spaces stripped.
Outputs show the normalised id, so the same person is one row.
"""

from __future__ import annotations

import unicodedata
from pathlib import Path
from typing import Any

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

import civicscore
from civicscore.records import normal_id, to_id
from civicscore.testing import assert_evaluators_agree

from .conftest import AS_OF, EXAMPLE_POLICY

pl = pytest.importorskip("polars")
from civicscore.batch.frames import (  # noqa: E402
    PY_WHITESPACE,
    _category_classes,
    coerce_id,
    normal_ids,
)

ZWSP, ZWJ, BOM, RLO, SHY = "\u200b", "\u200d", "\ufeff", "\u202e", "\u00ad"
#: Four spellings of one id that a person cannot tell apart.
LOOK_ALIKES = ["V1", "Ｖ1", "V1" + ZWSP, BOM + "Ｖ１"]
NFC, NFD = "Zo\u00eb", "Zoe\u0308"


@pytest.fixture(scope="module")
def policy() -> civicscore.Policy:
    return civicscore.load(EXAMPLE_POLICY, today=AS_OF)


# --- the definition -------------------------------------------------------------------------


@pytest.mark.parametrize("text,expected", [
    ("V1", "V1"), ("  V1 \t", "V1"), ("Ｖ1", "V1"), ("Ｖ１", "V1"), ("V1" + ZWSP, "V1"),
    (BOM + "V1", "V1"), (RLO + "V1", "V1"), ("V" + SHY + "1", "V1"), ("V" + ZWJ + "1", "V1"),
    ("\u3000V1\u3000", "V1"),  # ideographic spaces, stripped as spaces
    ("①", "1"), ("ﬁ7", "fi7"), (NFC, NFC), (NFD, NFC),
    ("e" + ZWJ + "\u0301", "\u00e9"),  # the joiner goes first, so the accent composes
    ("v1", "v1"),  # case is kept
    ("张三（3）", "张三(3)"),  # full-width parentheses are compatibility forms
    (ZWSP, ""), (" " + ZWSP + " ", ""),
])
def test_normal_id(text: str, expected: str) -> None:
    assert normal_id(text) == expected
    assert normal_ids(pl.Series([text])).to_list() == [expected]


def test_an_id_with_nothing_visible_is_refused() -> None:
    with pytest.raises(civicscore.RecordError) as e:
        to_id(ZWSP + BOM, "row 3", "household_id")
    assert e.value.code == "INVALID_FIELD" and e.value.field == "household_id"
    assert str(e.value) == ("row 3: field 'household_id': '\\u200b\\ufeff' has no visible "
                            "characters once format characters (such as a zero-width space) "
                            "and spaces are removed; an id needs at least one")


def test_a_broken_surrogate_is_still_refused_as_text() -> None:
    with pytest.raises(civicscore.RecordError, match="not valid text"):
        to_id("V\ud800" + ZWSP, "row 1", "record_id")


def _python_and_polars_agree(text: str) -> None:
    expected = normal_id(text)
    assert normal_ids(pl.Series([text], dtype=pl.String)).to_list() == [expected]
    assert normal_id(expected) == expected  # idempotent: a normalised id stays itself


@settings(max_examples=300, deadline=None)
@given(st.text(st.characters(exclude_categories=("Cs",)), max_size=12))
@example("\ua7f1")  # unassigned in Python 3.11's Unicode 14, "S" in polars' newer one
@example("\U0001ccd6")  # the same: an outlined A from Unicode 16
@example("\u00b4V")  # NFKC gives " \u0301V": the space it makes is stripped
@example("e" + ZWJ + "\u0301")
@example(" " + ZWSP + "\u3000")
def test_python_and_polars_normalise_alike(text: str) -> None:
    _python_and_polars_agree(text)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.sampled_from(["V", "1", " ", "\u3000", ZWSP, ZWJ, BOM, "\u0301", "\u0308",
                                 "e", "Ｖ", "\u00b4", "\u1100", "\u1161", "\u11a8", "ﬁ"]),
                max_size=8).map("".join))
def test_python_and_polars_normalise_alike_on_tricky_mixtures(text: str) -> None:
    _python_and_polars_agree(text)


def test_every_code_point_normalises_alike() -> None:
    """All of Unicode through both: a newer or older Unicode in polars than in this Python
    shows up here, not in a user's caps. The character classes are checked on every code
    point at once; NFKC on every code point this Python knows (``normal_ids`` leaves the
    others to ``normal_id``)."""
    chars = [chr(c) for c in range(0x110000) if not 0xD800 <= c <= 0xDFFF]
    everything = pl.Series(["".join(chars)])
    for category, cls in _category_classes().items():
        kept = "".join(c for c in chars if unicodedata.category(c) != category)
        assert everything.str.replace_all(cls, "").item() == kept, category
    known = [c for c in chars if unicodedata.category(c) != "Cn"]
    python = [unicodedata.normalize("NFKC", c).strip() for c in known]
    polars = pl.Series(known).str.normalize("NFKC").str.strip_chars(PY_WHITESPACE).to_list()
    wrong = [(hex(ord(c)), p, q) for c, p, q in zip(known, python, polars, strict=True)
             if p != q]
    assert not wrong, wrong[:20]
    assert normal_ids(pl.Series(known)).to_list() == [normal_id(c) for c in known]


def test_coerce_id_codes_match_to_id() -> None:
    values = ["V1", "Ｖ1", ZWSP, "  ", None, 7, "V\ud800", [1]]
    frame = pl.DataFrame({"id": pl.Series(values, dtype=pl.Object)})
    got = coerce_id(frame, "id", missing_ok=True)
    expected: list[tuple[Any, Any]] = []
    for v in values:
        if v is None or (isinstance(v, str) and not v.strip()):
            expected.append(("missing", None))
            continue
        try:
            expected.append((to_id(v, "r", "id"), None))
        except civicscore.RecordError as e:
            expected.append((None, e.code))
    for (value, code), v, c in zip(expected, got.value.to_list(), got.code.to_list(),
                                   strict=True):
        assert c == code
        if value != "missing" and code is None:
            assert v == value


# --- both engines, every scheme -------------------------------------------------------------


def activity(n: int, volunteer: str, *, record: str | None = None, day: int = 3,
             hours: int = 2) -> dict[str, Any]:
    return {"record_id": record or f"A{n}", "volunteer_id": volunteer, "activity": "cleanup",
            "start": f"2025-11-{day:02d}T09:00", "end": f"2025-11-{day:02d}T{9 + hours:02d}:00",
            "confirmed": "yes", "submitted_at": f"2025-11-{day:02d}T20:00"}


def household(hid: str, **more: Any) -> dict[str, Any]:
    return {"household_id": hid, "age_oldest": 70, "law_violations": 0,
            "covenant_signed": "yes", "review_date": "2025-06-30", **more}


def subject(sid: str) -> dict[str, Any]:
    return {"subject_id": sid, **dict.fromkeys(
        ("tasks_completed_pct", "requests_resolved_pct", "satisfaction_staff",
         "satisfaction_users", "satisfaction_departments", "satisfaction_leaders"), 90)}


RECORDS = {
    "volunteer": lambda ident: activity(0, "V9", record=ident),
    "civility": household,
    "visits": household,
    "appraisal": subject,
}
ID_FIELD = {"volunteer": "record_id", "civility": "household_id", "visits": "household_id",
            "appraisal": "subject_id"}


@pytest.mark.parametrize("scheme", list(RECORDS))
def test_look_alike_ids_are_duplicates_in_both_engines(policy: civicscore.Policy,
                                                       scheme: str) -> None:
    records = [RECORDS[scheme](ident) for ident in [*LOOK_ALIKES, NFC, NFD]]
    for i, r in enumerate(records):  # distinct days, so only the ids can clash
        if scheme == "volunteer":
            r.update(activity(i, "V9", record=r["record_id"], day=i + 1))
    result = assert_evaluators_agree(policy, scheme, records, as_of=AS_OF)
    rejected = result.rejected_rows()
    assert [r["row"] for r in rejected] == [2, 3, 4, 6]
    assert all(r["reason_codes"] == ["DUPLICATE_RECORD"] for r in rejected)
    assert [r["id"] for r in rejected] == ["V1", "V1", "V1", NFC]  # the normalised id
    assert "already appears in row 1" in rejected[0]["reasons"][0]
    assert "already appears in row 5" in rejected[-1]["reasons"][0]


@pytest.mark.parametrize("scheme,field", [
    *[(s, f) for s, f in ID_FIELD.items()], ("volunteer", "volunteer_id"),
    ("visits", "liaison_id")])
@pytest.mark.parametrize("blank", [ZWSP, BOM + " " + RLO])
def test_an_invisible_id_is_rejected_alike(policy: civicscore.Policy, scheme: str, field: str,
                                           blank: str) -> None:
    good = RECORDS[scheme]("ok1")
    bad = {**RECORDS[scheme]("ok2"), field: blank}
    if scheme == "volunteer":
        bad = {**activity(2, "V2", day=4), field: blank}
    result = assert_evaluators_agree(policy, scheme, [good, bad], as_of=AS_OF)
    [row] = result.rejected_rows()
    assert row["row"] == 2 and row["reason_codes"] == ["INVALID_FIELD"]
    assert f"field {field!r}" in row["reasons"][0] and "no visible characters" in row["reasons"][0]


def test_a_daily_cap_holds_across_look_alike_volunteers(policy: civicscore.Policy) -> None:
    """hours_per_day = 6: three 3-hour records of one volunteer on one day count 6 h (6
    points at 1 point per hour), however the volunteer's id was typed."""
    records = [activity(i, vid, day=5, hours=3) for i, vid in enumerate(LOOK_ALIKES[:3])]
    for i, r in enumerate(records):  # one after the other, not overlapping
        r["start"], r["end"] = f"2025-11-05T{8 + 3 * i:02d}:00", f"2025-11-05T{11 + 3 * i:02d}:00"
    result = assert_evaluators_agree(policy, "volunteer", records, as_of=AS_OF)
    statements = list(result.output_rows())
    assert [s["volunteer_id"] for s in statements] == ["V1"]
    assert statements[0]["earned"] == 6
    details = list(result.detail_rows())
    assert {d["volunteer_id"] for d in details} == {"V1"}
    assert any("CAP_HOURS_DAY" in d["reason_codes"] for d in details)


def test_a_redemption_draws_on_the_look_alike_volunteer(policy: civicscore.Policy) -> None:
    records = [activity(1, "V1", hours=4)]
    redemptions = [{"redemption_id": "R1" + ZWSP, "volunteer_id": "Ｖ1", "date": "2025-12-01",
                    "points": 1}]
    result = assert_evaluators_agree(policy, "volunteer", records, as_of=AS_OF,
                                     redemptions=redemptions)
    [statement] = result.output_rows()
    assert statement["volunteer_id"] == "V1" and statement["redeemed"] == 1
    assert not result.rejected_rows()


def test_a_liaison_caseload_counts_look_alike_liaisons_once(tmp_path: Path) -> None:
    path = tmp_path / "policy.toml"
    path.write_text(EXAMPLE_POLICY.read_text(encoding="utf-8").replace(
        "households_per_liaison = 300", "households_per_liaison = 2"), encoding="utf-8")
    policy = civicscore.load(path, today=AS_OF)
    records = [household(f"H{i}", liaison_id=lid) for i, lid in enumerate(LOOK_ALIKES[:3])]
    result = assert_evaluators_agree(policy, "visits", records, as_of=AS_OF)
    [caseload] = result.detail_rows()
    assert caseload["liaison_id"] == "V1" and caseload["households"] == 3
    assert caseload["warning_codes"]
    assert {r["liaison_id"] for r in result.output_rows()} == {"V1"}


@pytest.mark.parametrize("dtype", ["string", "object", "categorical"])
def test_a_frame_of_look_alikes_is_read_as_the_records_are(policy: civicscore.Policy,
                                                           dtype: str) -> None:
    ids = [*LOOK_ALIKES, NFD, "W2"]
    column: Any
    if dtype == "object":
        column = pl.Series(ids, dtype=pl.Object)
    elif dtype == "categorical":
        column = pl.Series(ids, dtype=pl.Categorical)
    else:
        column = pl.Series(ids, dtype=pl.String)
    records = [subject(i) for i in ids]
    frame = pl.DataFrame([r for r in records]).with_columns(column.alias("subject_id"))
    batch = policy.appraisal.batch(frame, as_of=AS_OF)
    per_record = policy.appraisal.run(records, as_of=AS_OF)
    assert batch.rejected_rows() == per_record.rejected_rows()
    assert list(batch.output_rows()) == list(per_record.output_rows())
    assert [r["subject_id"] for r in batch.output_rows()] == ["V1"] * 4 + [NFC, "W2"]



@pytest.mark.parametrize("fmt", ["csv", "parquet"])
def test_a_file_of_look_alikes_scores_alike_on_both_engines(tmp_path: Path, fmt: str) -> None:
    """From a file, through each engine's own reader: the same rows written, the ids
    normalised, the look-alike rows rejected as duplicates."""
    from click.testing import CliRunner

    from civicscore.cli import main

    ids = [*LOOK_ALIKES, NFC, NFD]
    frame = pl.DataFrame({"subject_id": ids, **{p: [90] * len(ids) for p in subject("x")
                                                if p != "subject_id"}})
    source = tmp_path / f"subjects.{fmt}"
    if fmt == "csv":
        frame.write_csv(source)
    else:
        frame.write_parquet(source)
    written = {}
    for engine in ("per-record", "batch"):
        out, rejects = tmp_path / f"{engine}.csv", tmp_path / f"{engine}-rejects.csv"
        result = CliRunner().invoke(main, [
            "score", str(EXAMPLE_POLICY), str(source), "--scheme", "appraisal", "--as-of",
            str(AS_OF), "--engine", engine, "-o", str(out), "--rejects", str(rejects)])
        assert result.exit_code == 0, result.output
        written[engine] = (out.read_text(encoding="utf-8"), rejects.read_text(encoding="utf-8"))
    assert written["per-record"] == written["batch"]
    output = pl.read_csv(tmp_path / "batch.csv")
    assert output["subject_id"].to_list() == ["V1"] * 4 + [NFC] * 2
    assert pl.read_csv(tmp_path / "batch-rejects.csv")["row"].to_list() == [2, 3, 4, 6]
