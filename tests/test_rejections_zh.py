"""A rejected record is told why in Chinese too, the same words from both engines.

``record_words`` holds every rejection sentence once per language; these tests pin the
Chinese an officer reads for the common mistakes (a field missing, a value that is not
a number or a date, an enum typo with its did-you-mean, an id seen before, a date after
the as-of date), that batch says word for word what the per-record path says, and that
the English words scripts match did not change.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

import civicscore
from civicscore import record_words as rw
from civicscore.errors import RecordError
from civicscore.io import read_records
from civicscore.messages import LANG
from civicscore.records import coerce_fact, to_date, to_decimal, to_id, to_int, to_text

from .conftest import EXAMPLE_POLICY
from .test_bad_records import AS_OF as BAD_AS_OF
from .test_bad_records import SCHEMES, csv_line, header_of, jsonl_line, valid
from .test_bad_records import policy as example_policy

pl = pytest.importorskip("polars")


@pytest.fixture
def zh() -> Iterator[None]:
    token = LANG.set("zh")
    try:
        yield
    finally:
        LANG.reset(token)


# --- the table ------------------------------------------------------------------------


def _slots(template: str) -> set[str]:
    return set(re.findall(r"\{(\w+)\}", template))


@pytest.mark.parametrize("kind", sorted(rw.DETAILS))
def test_every_detail_is_in_both_languages_with_the_same_slots(kind: str) -> None:
    texts = rw.DETAILS[kind]
    assert set(texts) == {"en", "zh"}
    assert _slots(texts["en"]) == _slots(texts["zh"])
    assert re.search(r"[\u4e00-\u9fff]", texts["zh"]), "the Chinese detail has no Chinese"


@pytest.mark.parametrize("name", sorted(rw.SENTENCES))
def test_every_sentence_is_in_both_languages(name: str) -> None:
    texts = rw.SENTENCES[name]
    assert set(texts) == {"en", "zh"}
    # a Chinese slot x_zh stands for the English x (its Chinese word)
    zh = {s[:-3] if s.endswith("_zh") else s for s in _slots(texts["zh"])}
    assert zh == _slots(texts["en"])


@pytest.mark.parametrize(("convert", "value", "en", "zh"), [
    (to_int, "eighty", "row 3: field 'x': expected a whole number, got 'eighty'",
     "第 3 行：字段“x”：应为整数，实际为 'eighty'"),
    (to_decimal, "1,5", "row 3: field 'x': expected a number, got '1,5'",
     "第 3 行：字段“x”：应为数字，实际为 '1,5'"),
    (to_date, "31/12/2025", "row 3: field 'x': expected a date YYYY-MM-DD, got '31/12/2025'",
     "第 3 行：字段“x”：应为日期，如 2025-03-01（也可写 2025/3/1 或 2025年3月1日），实际为 "
     "'31/12/2025'"),
    (to_text, 1.5, "row 3: field 'x': expected text, got 1.5",
     "第 3 行：字段“x”：应为文本，实际为 1.5"),
    (to_id, "\u200b ", "row 3: field 'x': '\\u200b ' has no visible characters once format "
     "characters (such as a zero-width space) and spaces are removed; an id needs at least one",
     "第 3 行：字段“x”：'\\u200b ' 去掉格式字符（如零宽空格）和空格后没有可见字符；"
     "编号至少要有一个可见字符"),
])
def test_a_refused_value_in_both_languages(convert: Any, value: Any, en: str, zh: str) -> None:
    with pytest.raises(RecordError) as e:
        convert(value, "row 3", "x")
    assert str(e.value) == e.value.text("en") == en
    assert e.value.text("zh") == zh


def test_a_refused_fact_names_the_record_by_its_id_and_offers_the_allowed_value() -> None:
    from civicscore.policy.model import FactSpec

    spec = FactSpec(type="enum", values=["good", "fair", "poor"])
    with pytest.raises(RecordError) as e:
        coerce_fact("tidy", spec, {"tidy": "Good"}, "H1")
    assert str(e.value) == ("record H1: field 'tidy': 'Good' is not an allowed value "
                            "(did you mean 'good'?)")
    assert e.value.text("zh") == "记录 H1：字段“tidy”：'Good' 不是允许的取值（是否想写 'good'？）"
    with pytest.raises(RecordError) as e:
        coerce_fact("tidy", spec, {"tidy": "zzzz"}, "H1")
    assert e.value.text("zh") == ("记录 H1：字段“tidy”：'zzzz' 不是允许的取值（允许的取值："
                                  "'fair'、'good' 或 'poor'）")
    assert "allowed: 'fair', 'good' or 'poor'" in str(e.value)
    spec = FactSpec(type="int", min=0, max=130)
    with pytest.raises(RecordError) as e:
        coerce_fact("age", spec, {}, "row 9")
    assert e.value.code == "MISSING_FIELD"
    assert e.value.text("zh") == "第 9 行：字段“age”：必填，但没有填写"
    with pytest.raises(RecordError) as e:
        coerce_fact("age", spec, {"age": 131}, "H2")
    assert e.value.text("zh") == "记录 H2：字段“age”：131 高于上限 130"


def test_a_record_error_keeps_both_languages_through_pickling() -> None:
    import pickle

    with pytest.raises(RecordError) as e:
        to_int("x", "H1", "age")
    again = pickle.loads(pickle.dumps(e.value))
    assert (again.text("zh"), str(again), again.code) == (
        e.value.text("zh"), str(e.value), e.value.code)


# --- civility: both engines ---------------------------------------------------------------

CIVILITY = """
[policy]
id = "civility-zh"
version = "1"
locale = "zh-CN"

[facts.household]
hygiene_passed = { type = "int", min = 0, max = 12, label = "卫生检查通过次数" }
tidy = { type = "enum", values = ["good", "fair", "poor"], default = "fair" }

[civility]
review_years = 1

[[civility.stars]]
id = "clean"
label = "卫生星"
when = "hygiene_passed >= 10 and tidy != \\"poor\\""
"""

AS_OF = dt.date(2026, 3, 1)

HOUSEHOLDS: list[dict[str, Any]] = [
    {"household_id": "H1", "hygiene_passed": 11},                        # scored
    {"hygiene_passed": 11},                                              # no id
    {"household_id": "H1", "hygiene_passed": 11},                        # duplicate
    {"household_id": "H3", "hygiene_passed": "十一"},                     # not a number
    {"household_id": "H4", "hygiene_passed": 11, "tidy": "Poor"},        # enum typo
    {"household_id": "H5", "hygiene_passed": 11, "revoked_on": "2026-01-02"},
    {"household_id": "H6", "hygiene_passed": 11, "review_date": "2026-04-01"},
    {"household_id": "H7", "hygiene_passed": 11, "review_date": "2026/13/01"},
]

CIVILITY_ZH = [
    ["第 2 行：字段“household_id”为必填项，但没有填写"],
    ["住户编号 H1 已在第 1 行出现"],
    ["记录 H3：字段“hygiene_passed”：应为整数，实际为 '十一'"],
    ["记录 H4：字段“tidy”：'Poor' 不是允许的取值（是否想写 'poor'？）"],
    ["记录 H5：填写了撤销日期（revoked_on）时，字段“revocation_reason”为必填项"],
    ["记录 H6：评议日期为 2026-04-01，晚于评定日期 2026-03-01"],
    ["记录 H7：字段“review_date”：应为日期，如 2025-03-01（也可写 2025/3/1 或 2025年3月1日），"
     "实际为 '2026/13/01'"],
]

CIVILITY_EN = [
    ["row 2: field 'household_id' is required and missing"],
    ["household id H1 already appears in row 1"],
    ["record H3: field 'hygiene_passed': expected a whole number, got '十一'"],
    ["record H4: field 'tidy': 'Poor' is not an allowed value (did you mean 'poor'?)"],
    ["record H5: field 'revocation_reason' is required when revoked_on is given"],
    ["record H6: reviewed on 2026-04-01, after the as-of date 2026-03-01"],
    ["record H7: field 'review_date': expected a date YYYY-MM-DD, got '2026/13/01'"],
]


def _civility_reasons(policy: civicscore.Policy) -> tuple[list[Any], list[Any]]:
    per = policy.civility.run(HOUSEHOLDS, as_of=AS_OF)
    batch = policy.civility.batch(pl.DataFrame(HOUSEHOLDS, infer_schema_length=None),
                                      as_of=AS_OF)
    return ([list(r["reasons"]) for r in per.rejected_rows()],
            [list(r) for r in batch.rejected["reasons"].to_list()])


def test_civility_rejections_in_chinese_from_both_engines(load_text: Any, zh: None) -> None:
    per, batch = _civility_reasons(load_text(CIVILITY))
    assert per == CIVILITY_ZH
    assert batch == per


def test_civility_rejections_in_english_are_unchanged(load_text: Any) -> None:
    per, batch = _civility_reasons(load_text(CIVILITY))
    assert per == CIVILITY_EN
    assert batch == per


# --- volunteer: both engines ------------------------------------------------------------

ACTIVITIES: list[dict[str, Any]] = [
    {"record_id": "A1", "volunteer_id": "V1", "activity": "patrol",
     "start": "2025-06-14T19:00", "end": "2025-06-14T21:00", "confirmed": "yes",
     "submitted_at": "2025-06-15T09:00"},
    {"record_id": "A1", "volunteer_id": "V1", "activity": "patrol",
     "start": "2025-06-15T19:00", "end": "2025-06-15T21:00", "confirmed": "yes",
     "submitted_at": "2025-06-16T09:00"},
    {"record_id": "A3", "volunteer_id": "V1", "activity": "patrl",
     "start": "2025-06-16T19:00", "end": "2025-06-16T21:00", "confirmed": "yes",
     "submitted_at": "2025-06-17T09:00"},
    {"record_id": "A4", "activity": "patrol",
     "start": "2025-06-17T19:00", "end": "2025-06-17T21:00", "confirmed": "yes",
     "submitted_at": "2025-06-18T09:00"},
    {"record_id": "A5", "volunteer_id": "V2", "activity": "patrol",
     "start": "2025-06-18T19:00", "end": "2025-06-18T18:00", "confirmed": "yes",
     "submitted_at": "2025-06-19T09:00"},
    {"record_id": "A6", "volunteer_id": "V2", "activity": "patrol",
     "start": "2026-06-18T19:00", "end": "2026-06-18T21:00", "confirmed": "yes",
     "submitted_at": "2026-06-19T09:00"},
]

VOLUNTEER_ZH = [
    ["记录编号 A1 已在第 1 行出现"],
    ["记录 A3：未知的活动 'patrl'（是否想写 'patrol'？）"],
    ["记录 A4：字段“volunteer_id”为必填项，但没有填写"],
    ["记录 A5：结束时间（2025-06-18 18:00:00）不晚于开始时间（2025-06-18 19:00:00）"],
    ["记录 A6：结束日期为 2026-06-18，晚于评定日期 2025-12-31"],
]


def test_volunteer_rejections_in_chinese_from_both_engines(zh: None) -> None:
    policy = civicscore.load(EXAMPLE_POLICY)
    as_of = dt.date(2025, 12, 31)
    per = policy.volunteer.run(ACTIVITIES, as_of=as_of)
    batch = policy.volunteer.batch(pl.DataFrame(ACTIVITIES), as_of=as_of)
    said = [list(r["reasons"]) for r in per.rejected_rows()]
    assert said == VOLUNTEER_ZH
    assert [list(r) for r in batch.rejected["reasons"].to_list()] == said


def test_volunteer_redemptions_in_chinese(zh: None) -> None:
    policy = civicscore.load(EXAMPLE_POLICY)
    as_of = dt.date(2025, 12, 31)
    redemptions = [{"redemption_id": "R1", "volunteer_id": "V1", "date": "2025-07-01",
                    "points": 500},
                   {"redemption_id": "R2", "volunteer_id": "V1", "date": "2026-02-01",
                    "points": 1},
                   {"redemption_id": "R3", "date": "2025-07-01", "points": 1}]
    result = policy.volunteer.run(ACTIVITIES[:1], as_of=as_of, redemptions=redemptions)
    said = {r["id"]: list(r["reasons"]) for r in result.rejected_rows()}
    assert said["R1"] == ["兑换 R1 于 2025-07-01 申请 500 分；当时未过期的积分只有 4 分"]
    assert said["R2"] == ["兑换 R2 的日期为 2026-02-01，晚于评定日期 2025-12-31"]
    assert said["R3"] == ["记录 R3：字段“volunteer_id”：必填，但没有填写"]


# --- worked examples: one language, whatever the officer's -----------------------------

CASES = """
[policy]
id = "cases-lang"
version = "1"
locale = "zh-CN"

[facts.household]
hygiene_passed = { type = "int", min = 0, max = 12 }

[civility]
review_years = 1

[[civility.stars]]
id = "clean"
label = "卫生星"
label_en = "Clean home"
when = "hygiene_passed >= 10"

[[case]]
name = "zh by the locale"
scheme = "civility"
as_of = 2026-03-01
input = { household_id = "H1", hygiene_passed = "x" }
expect = { status = "rejected", reasons = ["记录 H1：字段“hygiene_passed”：应为整数，实际为 'x'"] }

[[case]]
name = "en by its own lang"
scheme = "civility"
as_of = 2026-03-01
lang = "en"
input = { household_id = "H1", hygiene_passed = "x" }
expect = { status = "rejected", reasons = [
  "record H1: field 'hygiene_passed': expected a whole number, got 'x'"] }
"""


@pytest.mark.parametrize("asked", [None, "zh", "en"])
def test_a_case_is_decided_in_its_own_language(load_text: Any, asked: str | None) -> None:
    from civicscore.cases import run_cases

    policy = load_text(CASES)
    token = LANG.set(asked)
    try:
        results, _ = run_cases(policy)
    finally:
        LANG.reset(token)
    assert [(r.case.name, r.passed) for r in results] == [
        ("zh by the locale", True), ("en by its own lang", True)], [r.mismatches for r in results]


# --- visits: both engines ------------------------------------------------------------------

HOUSEHOLDS_VISITS: list[dict[str, Any]] = [
    {"household_id": "H1", "age_oldest": 70, "lives_alone": "no"},
    {"age_oldest": 70},
    {"household_id": "H1", "age_oldest": 70},
    {"household_id": "H3", "age_oldest": 150},
    {"household_id": "H4", "age_oldest": 70, "lives_alone": "maybe"},
    {"household_id": "H5", "age_oldest": 70, "last_visit": "2026-01-05"},
]

VISITS_ZH = [
    ["第 2 行：字段“household_id”为必填项，但没有填写"],
    ["住户编号 H1 已在第 1 行出现"],
    ["记录 H3：字段“age_oldest”：150 高于上限 130"],
    ["记录 H4：字段“lives_alone”：应为 true 或 false（是/否），实际为 'maybe'"],
    ["住户 H5：上次探访日期 2026-01-05 晚于评定日期 2025-12-31"],
]


def test_visits_rejections_in_chinese_from_both_engines(zh: None) -> None:
    policy = civicscore.load(EXAMPLE_POLICY)
    as_of = dt.date(2025, 12, 31)
    per = policy.visits.run(HOUSEHOLDS_VISITS, as_of=as_of)
    batch = policy.visits.batch(pl.DataFrame(HOUSEHOLDS_VISITS, infer_schema_length=None),
                                as_of=as_of)
    said = [list(r["reasons"]) for r in per.rejected_rows()]
    assert said == VISITS_ZH
    assert [list(r) for r in batch.rejected["reasons"].to_list()] == said


# --- rows that are no record: every reader, every scheme, both engines ---------------------

_slot_text = st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=30)


@given(row=st.integers(1, 10**9), line=st.integers(1, 10**9), error=_slot_text)
@example(row=1, line=1, error="\n")  # Python's $ matches before a final newline, Rust's not
def test_an_unreadable_row_reads_back_alike_in_python_and_polars(row: int, line: int,
                                                                 error: str) -> None:
    """Every reader's sentence, whatever a parser's error says, is worded in Chinese by
    the Python function and by the polars expression alike, and English is untouched."""
    said = [rw.say("unreadable_csv", "en", row=row, line=line, error=error),
            rw.say("unreadable_json", "en", row=row, line=line, error=error),
            rw.say("unreadable_cells", "en", row=row, line=line, cells=row, header=line),
            rw.say("unreadable_object_line", "en", row=row, line=line),
            rw.say("unreadable_object", "en", row=row),
            rw.say("unreadable_record", "en", row=row), error]
    zh = [rw.unreadable(m, "zh") for m in said]
    assert [rw.unreadable(m, "en") for m in said] == said
    assert zh[:6] == [rw.say(n, "zh", row=row, line=line, error=error, cells=row, header=line)
                      for n in ("unreadable_csv", "unreadable_json", "unreadable_cells",
                                "unreadable_object_line", "unreadable_object",
                                "unreadable_record")]
    assert zh[6] == error  # not a reader's sentence: as it is
    polars_said = pl.select(rw.unreadable_expr(pl.Series(said, dtype=pl.String), "zh"))
    assert polars_said.to_series().to_list() == zh


_file_name = st.text(st.characters(codec="utf-8", exclude_categories=("Cs", "Cc")),
                    min_size=1, max_size=20)


@given(row=st.integers(1, 10**9), line=st.integers(1, 10**9), file=_file_name,
       error=_slot_text)
@example(row=7, line=3, file="part-00001.csv", error="line contains NUL")
def test_an_unreadable_row_of_a_file_of_a_directory_reads_back_alike(
        row: int, line: int, file: str, error: str) -> None:
    """The sentences naming a file of a directory (``unreadable_row`` with a file) are
    worded in Chinese alike by Python and polars, their slots refilled."""
    names = ("unreadable_csv", "unreadable_json", "unreadable_cells",
             "unreadable_object_line", "unreadable_object")
    values = {"row": row, "line": line, "error": error, "cells": row, "header": line}
    said = [rw.unreadable_row(n, file, **(values if n != "unreadable_object"
                                          else {"row": row, "item": line})) for n in names]
    assert said[2] == f"row {row} ({file} line {line}) has {row} cells, the header has {line}"
    zh = [rw.unreadable(m, "zh") for m in said]
    if " line " not in file and " item " not in file:  # else the name reads two ways
        assert zh == [rw.say(n + "_in", "zh", file=file, item=line, **values) for n in names]
    polars_said = pl.select(rw.unreadable_expr(pl.Series(said, dtype=pl.String), "zh"))
    assert polars_said.to_series().to_list() == zh


@pytest.mark.parametrize("scheme", SCHEMES)
def test_unreadable_rows_are_told_in_chinese_by_both_engines(tmp_path: Any, scheme: str,
                                                             zh: None) -> None:
    v1, v2, v3 = (valid(scheme, n) for n in (1, 2, 3))
    ragged = tmp_path / "in.csv"
    ragged.write_text(header_of(scheme) + csv_line(v1) + csv_line(v2).rstrip("\n")
                      + ",surplus\n" + csv_line(v3), encoding="utf-8")
    lines = tmp_path / "in.jsonl"
    lines.write_text(jsonl_line(v1) + "{not json\n" + "[1, 2]\n", encoding="utf-8")
    width = len(v1)  # the header's: each scheme's record has its own fields
    policy = example_policy()
    for path, expected in (
            (ragged, [f"第 2 行（文件第 3 行）有 {width + 1} 个单元格，表头有 {width} 个"]),
            (lines, ["第 2 行（文件第 2 行）不是有效的 JSON：Expecting property name enclosed "
                     "in double quotes",
                     "第 3 行（文件第 3 行）不是 JSON 对象"])):
        per = policy.scheme(scheme).run(read_records(path), as_of=BAD_AS_OF)
        said = [r["reasons"][0] for r in per.rejected_rows()]
        assert said == expected
        batch = policy.scheme(scheme).batch(path, as_of=BAD_AS_OF)
        assert [r[0] for r in batch.rejected["reasons"].to_list()] == said


# --- an expression that cannot be computed for a record --------------------------------------


@pytest.mark.parametrize(("error", "zh_error"), [
    (ZeroDivisionError("division by zero"), "除数为零"),
    (ArithmeticError("12345678901234567 is too large a whole number"),
     "12345678901234567 超出整数的范围"),
    (ArithmeticError("the number is too large"), "数值过大"),
    (OverflowError("date value out of range"), "日期超出范围"),
    (ValueError("something no table knows"), "something no table knows"),
])
def test_evaluation_errors_in_chinese(error: Exception, zh_error: str) -> None:
    assert rw.evaluation_error(error, "zh") == zh_error
    assert rw.evaluation_error(error, "en") == str(error)


def test_expression_errors_in_chinese_from_both_engines(load_text: Any, write_policy: Any,
                                                        zh: None) -> None:
    from .test_visits import POLICY as VISITS
    from .test_visits import hh

    civility = load_text(CIVILITY.replace('when = "hygiene_passed >= 10 and tidy != \\"poor\\""',
                                          'when = "10 / hygiene_passed > 1"'))
    records = [{"household_id": "H0", "hygiene_passed": 0}]
    per = [r["reasons"] for r in civility.civility.run(records, as_of=AS_OF).rejected_rows()]
    assert per == [["记录 H0：星级“clean”（10 / hygiene_passed > 1）无法判定：除数为零"]]
    batch = civility.civility.batch(pl.DataFrame(records), as_of=AS_OF)
    assert [list(r) for r in batch.rejected["reasons"].to_list()] == per

    visits = civicscore.load(write_policy(VISITS.replace('when = "age >= 70 or illness"',
                                                         'when = "100 / age > 2"')),
                             today=dt.date(2025, 1, 1))
    homes = [hh("A", 0), hh("B", 30)]
    as_of = dt.date(2025, 12, 31)
    per = [r["reasons"] for r in visits.visits.run(homes, as_of=as_of).rejected_rows()]
    assert per == [["住户 A：'100 / age > 2' 无法计算（除数为零）"]]
    batch = visits.visits.batch(pl.DataFrame(homes), as_of=as_of)
    assert [list(r) for r in batch.rejected["reasons"].to_list()] == per

    volunteer = load_text("""
[policy]
id = "t"
version = "1"
[facts.activity]
people = { type = "int", default = 1 }
[volunteer.activities.a]
points_per_hour = 1
[[volunteer.multipliers]]
id = "per_head"
when = "10 / people > 1"
factor = 2
""")
    acts = [{"record_id": "x", "volunteer_id": "V1", "activity": "a", "people": 0,
             "start": "2025-05-01T08:00", "end": "2025-05-01T10:00", "confirmed": "yes",
             "submitted_at": "2025-05-01T12:00"}]
    per = [r["reasons"] for r in volunteer.volunteer.run(acts, as_of=as_of).rejected_rows()]
    assert per == [["记录 x：加分系数“per_head”的条件（10 / people > 1）无法计算：除数为零"]]
    batch = volunteer.volunteer.batch(pl.DataFrame(acts), as_of=as_of)
    assert [list(r) for r in batch.rejected["reasons"].to_list()] == per


# --- appraisal: both engines -------------------------------------------------------------

PCTS = ("tasks_completed_pct", "requests_resolved_pct", "satisfaction_staff",
        "satisfaction_users", "satisfaction_departments", "satisfaction_leaders")

SUBJECTS: list[dict[str, Any]] = [
    {"subject_id": "W1", **dict.fromkeys(PCTS, 90)},
    dict.fromkeys(PCTS, 90),                                              # no id
    {"subject_id": "W1", **dict.fromkeys(PCTS, 90)},                      # duplicate
    {"subject_id": "W3", **dict.fromkeys(PCTS, 90), "tasks_completed_pct": "九十"},
]

APPRAISAL_ZH = [
    ["第 2 行：字段“subject_id”为必填项，但没有填写"],
    ["被考核对象编号 W1 已在第 1 行出现"],
    ["记录 W3：字段“tasks_completed_pct”：应为数字，实际为 '九十'"],
]


def test_appraisal_rejections_in_chinese_from_both_engines(zh: None) -> None:
    policy = civicscore.load(EXAMPLE_POLICY)
    as_of = dt.date(2025, 12, 31)
    per = policy.appraisal.run(SUBJECTS, as_of=as_of)
    said = [list(r["reasons"]) for r in per.rejected_rows()]
    assert said == APPRAISAL_ZH
    frame = pl.DataFrame(SUBJECTS, infer_schema_length=None, strict=False)
    batch = policy.appraisal.batch(frame, as_of=as_of)
    assert [list(r) for r in batch.rejected["reasons"].to_list()] == said
