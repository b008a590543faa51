"""Household civility stars: worked scenarios, load-time errors, the CLI, then properties."""

from __future__ import annotations

import csv
import datetime as dt
import json
import re
import warnings
from typing import Any

import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import civicscore
from civicscore.cli import main
from civicscore.records import UnreadableRow
from civicscore.schemes.civility.scheme import add_years

from .conftest import AS_OF, EXAMPLE_POLICY, EXAMPLES, problems_of

HOUSEHOLDS = EXAMPLES / "civility-households.csv"

POLICY = """
[policy]
id = "civ-test"
version = "1"

[facts.household]
age_oldest = { type = "int", min = 0, max = 130, care_need = true, concept = "age" }
law_violations = { type = "int", min = 0, default = 0 }
hygiene_passed = { type = "int", min = 0, max = 12, default = 0 }
covenant_signed = { type = "bool", default = false }
commended_on = { type = "date", optional = true }

[civility]
review_years = 2
bar_years = 1

[[civility.stars]]
id = "law"
label = "遵纪守法星"
label_en = "Law-abiding"
when = "law_violations == 0"

[[civility.stars]]
id = "clean"
label = "卫生整洁星"
label_en = "Clean home"
when = "hygiene_passed >= 10"

[[civility.stars]]
id = "covenant"
label_en = "Signed the covenant"
when = "covenant_signed"

[[civility.stars]]
id = "recent"
label_en = "Commended in the last year"
when = "days_between(commended_on, as_of) <= 365"

[[civility.titles]]
min_stars = 4
label = "文明户"
label_en = "Civilised household"

[[civility.titles]]
min_stars = 2
label = "进步户"
label_en = "Improving household"
"""


@pytest.fixture(scope="module")
def policy(tmp_path_factory: pytest.TempPathFactory) -> civicscore.Policy:
    path = tmp_path_factory.mktemp("civ") / "policy.toml"
    path.write_text(POLICY, encoding="utf-8")
    return civicscore.load(path, today=dt.date(2025, 1, 1))


def hh(hid: str | None = "h1", **facts: Any) -> dict[str, Any]:
    """A household meeting every criterion, reviewed recently; override what a test needs."""
    record: dict[str, Any] = {"household_id": hid, "law_violations": 0, "hygiene_passed": 11,
                              "covenant_signed": True, "commended_on": "2025-06-01",
                              "review_date": "2025-01-10"}
    record.update(facts)
    return record


def codes(decision: Any) -> list[str]:
    return list(decision.reason_codes)


# --- stars and titles --------------------------------------------------------------------


def test_every_star_met_earns_the_top_title(policy: civicscore.Policy) -> None:
    d = policy.civility.evaluate(hh(), as_of=AS_OF)
    assert (d.status, d.stars, d.max_stars) == ("scored", 4, 4)
    assert (d.title, d.title_en) == ("文明户", "Civilised household")
    assert [c.id for c in d.criteria] == ["law", "clean", "covenant", "recent"]
    assert all(c.met for c in d.criteria)
    assert d.criteria[1].values == {"hygiene_passed": 11}
    assert d.criteria[3].values == {"commended_on": dt.date(2025, 6, 1), "as_of": AS_OF}
    assert codes(d) == ["STAR_MET"] * 4 + ["TITLE", "REVIEW_VALID"]
    star = d.reasons[0]
    assert (star.rule, star.facts, star.threshold, star.effect) == (
        "civility.stars.law", {"law_violations": 0}, "law_violations == 0", "+1 star")
    title = d.reasons[4]
    assert (title.rule, title.threshold) == ("civility.titles", 4)
    assert d.policy.id == "civ-test" and len(d.policy.hash) == 64 and d.as_of == AS_OF
    assert d.row == 1 and d.barred_until is None


def test_highest_title_reached_and_none_below_the_lowest(policy: civicscore.Policy) -> None:
    three = policy.civility.evaluate(hh(covenant_signed=False), as_of=AS_OF)
    assert three.stars == 3 and three.title == "进步户"
    assert three.stars_met == ("law", "clean", "recent")
    miss = three.criteria[2]
    assert (miss.met, miss.values) == (False, {"covenant_signed": False})
    assert "STAR_NOT_MET" in codes(three)
    one = policy.civility.evaluate(hh(hygiene_passed=3, covenant_signed=False,
                                      commended_on=None), as_of=AS_OF)
    assert one.stars == 1 and one.title == "" and one.title_en == ""
    no_title = next(r for r in one.reasons if r.code == "NO_TITLE")
    assert "1 more needed for the title 进步户 (Improving household)" in no_title.message
    # a missing optional date means 'never': the 'recent' criterion is not met
    assert one.criteria[3].values["commended_on"] == dt.date.min


def test_csv_strings_are_coerced_and_defaults_applied(policy: civicscore.Policy) -> None:
    d = policy.civility.evaluate({"household_id": " h9 ", "hygiene_passed": "10",
                                  "covenant_signed": "是", "review_date": "2025-03-01"},
                                 as_of=AS_OF)
    assert d.household_id == "h9" and d.stars == 3  # law_violations defaults to 0
    assert d.criteria[0].values == {"law_violations": 0}


def test_care_need_facts_are_neither_required_nor_read(policy: civicscore.Policy) -> None:
    # age_oldest is required by [facts.household] but it is a care need: civility ignores it.
    d = policy.civility.evaluate(hh(age_oldest="not a number"), as_of=AS_OF)
    assert d.status == "scored" and d.stars == 4
    assert all("age_oldest" not in c.values for c in d.criteria)


# --- review -------------------------------------------------------------------------------


def test_review_due_on_the_anniversary_and_when_never_reviewed(
        policy: civicscore.Policy) -> None:
    due = policy.civility.evaluate(hh(review_date="2023-12-31"), as_of=AS_OF)
    assert due.review_due and due.next_review == dt.date(2025, 12, 31)
    assert "review due since 2025-12-31" in due.explain()
    ok = policy.civility.evaluate(hh(review_date="2024-01-01"), as_of=AS_OF)
    assert not ok.review_due and ok.next_review == dt.date(2026, 1, 1)
    assert "REVIEW_VALID" in codes(ok) and "REVIEW_DUE" not in codes(ok)
    never = policy.civility.evaluate(hh(review_date=""), as_of=AS_OF)
    assert never.review_due and never.next_review is None
    assert "never reviewed" in next(r for r in never.reasons if r.code == "REVIEW_DUE").message
    # an overdue review flags the household; it keeps its stars
    assert due.stars == never.stars == 4


def test_review_from_29_february_falls_due_on_28_february(policy: civicscore.Policy) -> None:
    d = policy.civility.evaluate(hh(review_date="2024-02-29"), as_of=dt.date(2026, 2, 27))
    assert d.next_review == dt.date(2026, 2, 28) and not d.review_due
    d = policy.civility.evaluate(hh(review_date="2024-02-29"), as_of=dt.date(2026, 2, 28))
    assert d.review_due


def test_add_years() -> None:
    assert add_years(dt.date(2024, 2, 29), 1) == dt.date(2025, 2, 28)
    assert add_years(dt.date(2024, 2, 29), 4) == dt.date(2028, 2, 29)
    assert add_years(dt.date(2025, 3, 1), 0) == dt.date(2025, 3, 1)
    assert add_years(dt.date(9999, 6, 1), 1) == dt.date.max


# --- revocation -----------------------------------------------------------------------------


def test_revocation_bars_stars_and_title_but_shows_the_criteria(
        policy: civicscore.Policy) -> None:
    d = policy.civility.evaluate(hh(revoked_on="2025-03-01", revocation_reason="fraud"),
                                 as_of=AS_OF)
    assert (d.stars, d.title, d.title_en) == (0, "", "")
    assert d.barred_until == dt.date(2026, 3, 1)
    assert sum(c.met for c in d.criteria) == 4  # what the officer sees would be earned
    revoked = next(r for r in d.reasons if r.code == "REVOKED")
    assert "fraud" in revoked.message and "until 2026-03-01" in revoked.message
    assert "would hold 4 star(s)" in revoked.message
    assert "TITLE" not in codes(d) and "NO_TITLE" not in codes(d)
    row = next(iter(policy.civility.evaluate_many([hh(revoked_on="2025-03-01",
                                                      revocation_reason="fraud")],
                                                  as_of=AS_OF).detail_rows()))
    assert row["met"] is True and row["counted"] is False


def test_bar_boundaries_same_day_and_29_february(policy: civicscore.Policy) -> None:
    same_day = policy.civility.evaluate(hh(revoked_on=AS_OF.isoformat(),
                                           revocation_reason="x"), as_of=AS_OF)
    assert same_day.stars == 0 and same_day.barred_until == dt.date(2026, 12, 31)
    leap = hh(revoked_on="2024-02-29", revocation_reason="x", review_date="2024-06-01")
    before = policy.civility.evaluate(leap, as_of=dt.date(2025, 2, 27))
    assert before.barred_until == dt.date(2025, 2, 28) and before.stars == 0
    after = policy.civility.evaluate(leap, as_of=dt.date(2025, 2, 28))
    assert after.barred_until is None and after.stars == 4
    assert "REVOCATION_ENDED" in codes(after)
    assert "bar ended on 2025-02-28" in after.explain()


def test_revocation_after_as_of_is_pending(policy: civicscore.Policy) -> None:
    d = policy.civility.evaluate(hh(revoked_on="2026-01-01", revocation_reason="x"),
                                 as_of=AS_OF)
    assert d.stars == 4 and d.title == "文明户" and d.barred_until is None
    assert "REVOCATION_PENDING" in codes(d) and "REVOKED" not in codes(d)


def test_zero_bar_years_means_no_bar(write_policy: Any) -> None:
    pol = civicscore.load(write_policy(POLICY.replace("bar_years = 1", "bar_years = 0")),
                          today=dt.date(2025, 1, 1))
    d = pol.civility.evaluate(hh(revoked_on=AS_OF.isoformat(), revocation_reason="x"),
                              as_of=AS_OF)
    assert d.stars == 4 and "REVOCATION_ENDED" in codes(d)


# --- rejected records -----------------------------------------------------------------------


def test_rejections_carry_every_reason(policy: civicscore.Policy) -> None:
    r = policy.civility.evaluate_many([
        hh("a", law_violations="two", hygiene_passed=13, covenant_signed="perhaps"),
        hh(None, review_date="31/12/2025"),
        hh("c", revoked_on="2025-01-01"),
        hh("d", revocation_reason="forgot the date"),
        hh("e", review_date="2026-01-01"),
        hh("f", revoked_on="2025-02-30", revocation_reason="x"),
        hh("g", revoked_on="last spring"),
    ], as_of=AS_OF)
    a, b, c, d, e, f, g = r.decisions
    assert codes(a) == ["INVALID_FIELD", "OUT_OF_RANGE", "INVALID_FIELD"]
    assert "record a: field 'law_violations'" in a.reasons[0].message
    assert "above the maximum 12" in a.reasons[1].message
    assert codes(b) == ["MISSING_FIELD", "INVALID_DATE"] and b.household_id == "row 2"
    assert "field 'household_id' is required" in b.explain()
    assert codes(c) == ["MISSING_FIELD"] and "revocation_reason" in c.reasons[0].message
    assert codes(d) == ["MISSING_FIELD"] and "'revoked_on' is required" in d.reasons[0].message
    assert codes(e) == ["REVIEW_AFTER_AS_OF"] and "2026-01-01" in e.reasons[0].message
    assert codes(f) == ["INVALID_DATE"]
    assert codes(g) == ["INVALID_DATE", "MISSING_FIELD"]  # both problems, not only the first
    for x in r.decisions:
        assert x.status == "rejected" and x.stars == 0 and x.title == "" and x.criteria == ()
    assert r.summary().startswith("0 of 7 households scored, 7 rejected")


def test_duplicates_and_unreadable_rows(policy: civicscore.Policy) -> None:
    r = policy.civility.evaluate_many([
        hh("a"), hh("a", hygiene_passed=0), UnreadableRow(3, "row 3 is not valid JSON"),
        "junk", hh("b"),
    ], as_of=AS_OF)
    assert [d.status for d in r.decisions] == ["scored", "rejected", "rejected", "rejected",
                                               "scored"]
    assert codes(r.decisions[1]) == ["DUPLICATE_RECORD"]
    assert "already appears in row 1" in r.decisions[1].reasons[0].message
    assert [codes(d) for d in r.decisions[2:4]] == [["UNREADABLE_ROW"]] * 2
    assert [d.row for d in r.decisions] == [1, 2, 3, 4, 5]
    rejected = r.rejected_rows()
    assert [(x["row"], x["id"], x["reason_codes"]) for x in rejected] == [
        (2, "a", ["DUPLICATE_RECORD"]), (3, "row 3", ["UNREADABLE_ROW"]),
        (4, "row 4", ["UNREADABLE_ROW"])]
    assert all(x["input"] == "households" for x in rejected)


def test_a_criterion_that_cannot_be_evaluated_rejects_the_record(write_policy: Any) -> None:
    pol = civicscore.load(write_policy("""
        [policy]
        id = "div"
        version = "1"
        [facts.household]
        members = { type = "int", min = 0 }
        rooms = { type = "int", min = 0 }
        [civility]
        [[civility.stars]]
        id = "space"
        when = "rooms / members >= 1"
        """), today=dt.date(2025, 1, 1))
    d = pol.civility.evaluate({"household_id": "z", "members": 0, "rooms": 2}, as_of=AS_OF)
    assert d.status == "rejected" and codes(d) == ["CRITERION_ERROR"]
    assert "star 'space'" in d.reasons[0].message
    assert d.reasons[0].facts == {"rooms": 2, "members": 0}
    ok = pol.civility.evaluate({"household_id": "y", "members": 2, "rooms": 2}, as_of=AS_OF)
    assert ok.stars == 1


# --- the run as a whole ------------------------------------------------------------------------


def test_run_rows_summary_and_table(policy: civicscore.Policy) -> None:
    r = policy.civility.run([hh("a"), hh("b", review_date="2020-01-01"),
                             hh("c", covenant_signed=False), hh("d", law_violations=-1),
                             hh("e", revoked_on="2025-05-05", revocation_reason="x")],
                            as_of=AS_OF)
    assert r.summary() == ("4 of 5 households scored, 1 rejected; 2 with all 4 stars; "
                           "1 barred after a revocation; 1 reviews due; "
                           f"policy {policy.ref}, as of 2025-12-31")
    rows = list(r.output_rows())
    assert len(rows) == 5
    a, b, c, d, e = rows
    assert (a["household_id"], a["stars"], a["max_stars"], a["title"], a["title_en"]) == (
        "a", 4, 4, "文明户", "Civilised household")
    assert a["stars_met"] == ["law", "clean", "covenant", "recent"]
    assert a["reason_codes"] == ["TITLE", "REVIEW_VALID"]  # per-star codes are in detail rows
    assert (a["policy_id"], a["as_of"], a["next_review"]) == ("civ-test", AS_OF,
                                                              dt.date(2027, 1, 10))
    assert b["review_due"] is True and c["stars"] == 3
    assert d["status"] == "rejected" and d["stars"] is None
    assert e["barred_until"] == dt.date(2026, 5, 5) and e["stars"] == 0
    details = list(r.detail_rows())
    assert len(details) == 4 * 4  # scored households x stars
    clean_c = next(x for x in details if x["household_id"] == "c" and x["star"] == "covenant")
    assert (clean_c["met"], clean_c["values"], clean_c["label_en"]) == (
        False, "covenant_signed = false", "Signed the covenant")
    title, columns, table = r.table()
    assert "Civility stars as of 2025-12-31" in title and len(table) == 5
    assert columns == ["household", "stars", "title", "review", "barred until", "status"]
    assert table[0][:3] == ["a", "4/4", "文明户"] and table[3][-1] == "rejected"
    assert json.dumps(r.to_jsonable(), ensure_ascii=False)
    empty = policy.civility.run([], as_of=AS_OF)
    assert empty.summary().startswith("0 of 0 households scored, 0 rejected; 0 with all 4 stars")
    assert list(empty.output_rows()) == [] and empty.rejected_rows() == []


def test_evaluate_matches_evaluate_many(policy: civicscore.Policy) -> None:
    one = hh("a", covenant_signed=False, review_date="2023-01-01")
    assert policy.civility.evaluate(one, as_of=AS_OF) == \
        policy.civility.evaluate_many([one], as_of=AS_OF).decisions[0]
    text = policy.civility.explain_record(one, as_of=AS_OF)
    assert text.startswith("Household a, as of 2025-12-31: 3 of 4 stars, title 进步户 "
                           "(Improving household).")
    assert "[ ] Signed the covenant — covenant_signed: covenant_signed = false" in text
    assert "[x] 卫生整洁星 (Clean home) — hygiene_passed >= 10: hygiene_passed = 11" in text


def test_outside_the_policy_period_is_refused(write_policy: Any) -> None:
    text = POLICY.replace('version = "1"', 'version = "1"\neffective = { from = 2025-01-01 }')
    pol = civicscore.load(write_policy(text), today=dt.date(2025, 1, 1))
    with pytest.raises(civicscore.CivicScoreError, match="not on 2024-12-31"):
        pol.civility.evaluate(hh(), as_of=dt.date(2024, 12, 31))
    with pytest.raises(civicscore.CivicScoreError):
        pol.civility.evaluate_many([hh()], as_of=dt.date(2024, 12, 31))


# --- load-time errors ----------------------------------------------------------------------------

MISTAKES = """
[policy]
id = "bad"
version = "1"

[facts.household]
law_violations = { type = "int", min = 0, default = 0 }
lives_alone = { type = "bool", default = false, care_need = true, concept = "lives_alone" }

[civility]

[[civility.stars]]
id = "law"
when = "law_violations == 0"

[[civility.stars]]
id = "law"
when = "law_violatons == 0"

[[civility.stars]]
id = "alone"
when = "not lives_alone"

[[civility.stars]]
id = "count"
when = "law_violations + 1"

[[civility.titles]]
min_stars = 3
label = "文明户"

[[civility.titles]]
min_stars = 3
label = "双星户"

[[civility.titles]]
min_stars = 5
label = "五星户"
"""


def test_every_mistake_is_reported_with_its_line(write_policy: Any) -> None:
    path = write_policy(MISTAKES)
    with pytest.raises(civicscore.PolicyError) as e:
        civicscore.load(path)
    got = problems_of(e)
    assert len(got) == 6, got
    assert got[0].startswith(f"{path}:16:6: star id 'law' is used twice (first in star 1)")
    assert got[1].startswith(f"{path}:17:9: unknown name 'law_violatons'")
    assert "did you mean 'law_violations'?" in got[1]
    assert got[2].startswith(f"{path}:21:13: civility star 'alone' may not read 'lives_alone': "
                             f"it is a care need")
    assert got[3].startswith(f"{path}:25:9: civility star 'count' must give bool, this gives int")
    assert got[4].startswith(f"{path}:32:13: two titles start at 3 stars (titles 1 and 2)")
    assert got[5].startswith(f"{path}:36:13: title '五星户' needs 5 stars but there are only "
                             f"4 stars; it can never be reached")


def test_entity_without_facts(write_policy: Any) -> None:
    path = write_policy("""
        [policy]
        id = "bad"
        version = "1"

        [facts.household]
        law_violations = { type = "int", default = 0 }

        [civility]
        entity = "housheold"

        [[civility.stars]]
        id = "x"
        when = "law_violations == 0"
        """)
    with pytest.raises(civicscore.PolicyError) as e:
        civicscore.load(path)
    got = problems_of(e)
    assert len(got) == 1, got  # and no cascade of 'unknown name' for every criterion
    assert got[0].startswith(f"{path}:9:10: no facts are declared for entity 'housheold'")
    assert "did you mean 'household'?" in got[0]


def test_fact_named_like_a_record_field_is_refused(write_policy: Any) -> None:
    path = write_policy("""
        [policy]
        id = "bad"
        version = "1"

        [facts.household]
        review_date = { type = "date", optional = true }

        [civility]

        [[civility.stars]]
        id = "x"
        when = "True"
        """)
    with pytest.raises(civicscore.PolicyError) as e:
        civicscore.load(path)
    (got,) = problems_of(e)
    assert got.startswith(f"{path}:6:1: fact name 'review_date' is a field of civility records")


# --- the baseline and the example -------------------------------------------------------------


def test_baseline_ten_stars_and_titles() -> None:
    pol = civicscore.load("baseline", today=dt.date(2025, 1, 1))
    scheme = pol.civility
    assert scheme.max_stars == 10
    model = {"household_id": "B1", "elder_care_commended": True, "workplace_commended": True,
             "honesty_commended": True, "hygiene_inspections_passed": 10,
             "covenant_signed": True, "volunteer_hours": 20, "meetings_attended": 3,
             "review_date": "2025-06-30"}
    d = scheme.evaluate(model, as_of=AS_OF)
    assert (d.stars, d.title, d.title_en) == (10, "十星级文明户", "Ten-star civilised household")
    eight = scheme.evaluate({**model, "volunteer_hours": 19.5, "meetings_attended": 2},
                            as_of=AS_OF)
    assert (eight.stars, eight.title) == (8, "文明户")
    assert set(eight.stars_met) == {c.id for c in eight.criteria} - {"volunteering",
                                                                      "participation"}
    seven = scheme.evaluate({**model, "law_violations": 1, "volunteer_hours": 0,
                             "meetings_attended": 0}, as_of=AS_OF)
    assert (seven.stars, seven.title) == (7, "")


def test_example_file_scores_and_rejects_as_documented() -> None:
    pol = civicscore.load(EXAMPLE_POLICY, today=dt.date(2025, 1, 1))
    with HOUSEHOLDS.open(encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    r = pol.civility.evaluate_many(rows, as_of=AS_OF)
    assert len(r.decisions) == len(rows) == 17
    by_row = {d.row: d for d in r.decisions}
    assert [d.row for d in r.rejected] == [10, 11, 12, 13, 14, 15, 17]
    assert codes(by_row[14]) == ["DUPLICATE_RECORD"]
    assert by_row[6].barred_until == dt.date(2026, 4, 10) and by_row[6].stars == 0
    assert "REVOCATION_PENDING" in codes(by_row[8])
    assert r.summary() == ("10 of 17 households scored, 7 rejected; 4 with all 10 stars; "
                           "1 barred after a revocation; 3 reviews due; "
                           f"policy {r.policy}, as of 2025-12-31")


# --- the command line ----------------------------------------------------------------------------


def run(*args: Any) -> Any:
    result = CliRunner().invoke(main, [str(a) for a in args], catch_exceptions=False)
    assert "Traceback" not in result.output + result.stderr
    return result


def test_cli_score_with_details_and_rejects(tmp_path: Any) -> None:
    details = tmp_path / "stars.csv"
    rejects = tmp_path / "rejects.csv"
    r = run("score", EXAMPLE_POLICY, "--scheme", "civility", HOUSEHOLDS, "--as-of",
            "2025-12-31", "--details", details, "--rejects", rejects)
    assert r.exit_code == 0, r.stderr
    out = [json.loads(line) for line in r.stdout.splitlines()]
    assert len(out) == 17 and out[0]["household_id"] == "H001" and out[0]["stars"] == 10
    assert out[0]["title"] == "十星级文明户" and out[0]["policy_id"] == "example-district"
    assert "10 of 17 households scored, 7 rejected" in r.stderr
    with details.open(encoding="utf-8") as f:
        star_rows = list(csv.DictReader(f))
    assert len(star_rows) == 10 * 10
    with rejects.open(encoding="utf-8") as f:
        rejected = list(csv.DictReader(f))
    assert [x["id"] for x in rejected] == ["H010", "H011", "row 12", "H012", "H003", "H013",
                                          "H015"]


def test_cli_rejects_on_stderr_and_explain() -> None:
    r = run("score", EXAMPLE_POLICY, "--scheme", "civility", HOUSEHOLDS, "--as-of",
            "2025-12-31", "--format", "csv")
    assert r.exit_code == 0
    assert r.stdout.startswith("row,household_id,status,stars,max_stars,title")
    assert "rejected households row 14 (H003): household id H003 already appears in row 3" \
        in r.stderr
    record = json.dumps({"household_id": "H6", "law_violations": 1, "revoked_on": "2025-04-10",
                         "revocation_reason": "违法建设被查处", "review_date": "2025-02-01"},
                        ensure_ascii=False)
    r = run("explain", EXAMPLE_POLICY, "--scheme", "civility", "--record", record, "--as-of",
            "2025-12-31")
    assert r.exit_code == 0
    assert "Household H6, as of 2025-12-31: 0 of 10 stars, no title." in r.stdout
    assert "stars revoked on 2025-04-10 (违法建设被查处)" in r.stdout
    assert "[ ] 遵纪守法星 (Law-abiding) — law_violations == 0: law_violations = 1" in r.stdout


# --- the officer's page ---------------------------------------------------------------------------

DOC = (EXAMPLES.parent / "docs" / "civility.md").read_text(encoding="utf-8")


def test_doc_python_example_prints_what_it_says(monkeypatch: Any, capsys: Any) -> None:
    code = re.findall(r"```python\n(.*?)```", DOC, flags=re.S)[0]
    shown = DOC.split(code, 1)[1].split("```text\n", 1)[1].split("```", 1)[0]
    monkeypatch.chdir(EXAMPLES.parent)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        exec(compile(code, "docs/civility.md", "exec"), {})
    assert capsys.readouterr().out == shown


def test_doc_lists_every_reason_code_the_scheme_gives() -> None:
    schemes = EXAMPLES.parent / "src" / "civicscore" / "schemes"
    source = (schemes / "civility" / "scheme.py").read_text(encoding="utf-8")
    emitted = set(re.findall(r'Reason\(\s*"([A-Z_]+)"', source))
    # steps 3 to 5 are worded from templates, each with its code (civility/words.py, _Meta)
    words = (schemes / "civility" / "words.py").read_text(encoding="utf-8")
    emitted |= set(re.findall(r'_Meta\(\s*"([A-Z_]+)"', words))
    emitted |= {"INVALID_FIELD", "OUT_OF_RANGE", "INVALID_VALUE", "INVALID_DATE",  # coerce_fact
                "UNREADABLE_ROW"}  # records.unreadable_reason
    assert len(emitted) >= 14
    documented = set(re.findall(r"^\| `([A-Z_]+)` \|", DOC, flags=re.M))
    assert emitted == documented


# --- properties ------------------------------------------------------------------------------


def _mostly(valid: st.SearchStrategy[Any], invalid: st.SearchStrategy[Any],
            missing: bool = True) -> st.SearchStrategy[Any]:
    """Usually a valid value; sometimes missing, sometimes a bad one (about 1 in 12 each)."""
    return st.integers(0, 11).flatmap(
        lambda n: invalid if n == 11 else st.sampled_from([None, ""]) if n == 10 and missing
        else valid)


dates = st.dates(dt.date(2022, 1, 1), dt.date(2027, 12, 31))
review_dates = st.dates(dt.date(2021, 1, 1), dt.date(2024, 12, 31))
fact_values = {
    "law_violations": _mostly(st.one_of(st.integers(0, 2), st.just("0")),
                              st.sampled_from([-1, "two"])),
    "hygiene_passed": _mostly(st.one_of(st.integers(8, 12), st.just("10")),
                              st.sampled_from([13, "x"])),
    "covenant_signed": _mostly(st.one_of(st.booleans(), st.sampled_from(["yes", "否"])),
                               st.just("maybe")),
    "commended_on": _mostly(st.one_of(dates, dates.map(str)), st.just("yesterday")),
}


@st.composite
def household(draw: st.DrawFn) -> Any:
    """A household record as it may arrive: mostly valid, sometimes damaged."""
    if draw(st.integers(0, 30)) == 0:
        return draw(st.sampled_from([UnreadableRow(1, "bad line"), "junk", 3]))
    record: dict[str, Any] = {
        "household_id": draw(_mostly(st.sampled_from("abcdefghijklmnopqrstuvwxyz"),
                                     st.just(True)))}
    for name, values in fact_values.items():
        if draw(st.integers(0, 4)):
            record[name] = draw(values)
    record["review_date"] = draw(_mostly(st.one_of(review_dates, review_dates.map(str)),
                                         st.sampled_from(["soon", "2099-01-01"])))
    if draw(st.booleans()):
        record["revoked_on"] = draw(_mostly(dates, st.just("2025-13-01"), missing=False))
        record["revocation_reason"] = draw(_mostly(st.just("a reason"), st.none(),
                                                   missing=False))
    return record


households = st.lists(household(), max_size=12)


FLOOR_TITLE = """
[[civility.titles]]
min_stars = 0
label = "参与户"
label_en = "Taking part"
"""


@pytest.fixture(scope="module")
def policies(policy: civicscore.Policy, tmp_path_factory: pytest.TempPathFactory
             ) -> list[tuple[civicscore.Policy, dict[int, str]]]:
    """The test policy, and the same with a title from 0 stars (which a bar must still deny)."""
    path = tmp_path_factory.mktemp("civ-floor") / "policy.toml"
    path.write_text(POLICY + FLOOR_TITLE, encoding="utf-8")
    floor = civicscore.load(path, today=dt.date(2025, 1, 1))
    return [(policy, {2: "进步户", 4: "文明户"}), (floor, {0: "参与户", 2: "进步户", 4: "文明户"})]


@given(records=households, as_of=st.dates(dt.date(2023, 1, 1), dt.date(2026, 12, 31)))
@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                    HealthCheck.
                                                                    function_scoped_fixture])
def test_properties(policies: list[tuple[civicscore.Policy, dict[int, str]]],
                    records: list[Any], as_of: dt.date) -> None:
    for pol, titles in policies:
        check_properties(pol.civility.evaluate_many(records, as_of=as_of), titles,
                         len(records), as_of)


def check_properties(r: Any, titles: dict[int, str], n: int, as_of: dt.date) -> None:
    rank = {"": -1, **{label: m for m, label in titles.items()}}

    # Every input row is scored or rejected with a reason, in input order.
    assert [d.row for d in r.decisions] == list(range(1, n + 1))
    for d in r.decisions:
        assert d.status in ("scored", "rejected") and d.reasons
        assert d.max_stars == 4
        if d.rejected:
            assert d.stars == 0 and d.title == "" and not d.criteria
            continue
        # Stars never exceed the number of criteria and count the criteria met (0 if barred).
        met = sum(c.met for c in d.criteria)
        assert len(d.criteria) == d.max_stars and 0 <= d.stars <= d.max_stars
        assert d.stars == (0 if d.barred_until is not None else met)
        # A barred household never holds a title (not even one from 0 stars).
        if d.barred_until is not None:
            assert d.title == "" and d.title_en == "" and d.barred_until > as_of
            assert "REVOKED" in d.reason_codes
        else:
            # The title is the highest one the stars reach.
            reached = [m for m in titles if m <= d.stars]
            assert d.title == (titles[max(reached)] if reached else "")
        assert d.review_due == (d.next_review is None or d.next_review <= as_of)
    # The title is monotone in stars across households.
    free = [d for d in r.scored if d.barred_until is None]
    for x in free:
        for y in free:
            if x.stars <= y.stars:
                assert rank[x.title] <= rank[y.title]
    # Duplicate ids: at most one scored decision per household.
    ids = [d.household_id for d in r.scored]
    assert len(ids) == len(set(ids))
    # Output rows: one per input row; rejected rows listed with their reasons.
    assert len(list(r.output_rows())) == n
    assert len(r.rejected_rows()) == len(r.rejected)
