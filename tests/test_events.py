"""[events]: rules over time, checked at load, run on two engines that give the same actions.

The baseline's four rules are exercised through its ``[[case]]`` tables and
here; bad events are refused with the event and field named and counted;
the durable-rules adapter keeps every event (many threads, many sessions,
10^4 events here and 10^5 in the slow test).
"""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import threading
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

import civicscore
from civicscore.cli import main
from civicscore.events.core import Span
from civicscore.testing import assert_evaluators_agree

pytest.importorskip("polars")
pytest.importorskip("durable.engine")

UNTIL = dt.date(2025, 12, 31)
BASELINE_EVENTS = """
[policy]
id = "town"
version = "1"
extends = "baseline"
"""


@pytest.fixture(scope="module")
def baseline() -> civicscore.Policy:
    return civicscore.load("baseline")


def both(policy: civicscore.Policy, rows: list[dict[str, Any]],
         until: dt.date | dt.datetime = UNTIL) -> Any:
    """The run of both engines, which must be equal; the reference's is returned."""
    durable = policy.events.run(rows, until=until, engine="durable")
    reference = policy.events.run(rows, until=until, engine="reference")
    assert durable.actions == reference.actions
    assert durable.rejected == reference.rejected
    assert durable.rows_in == reference.rows_in == len(rows)
    return reference


def ev(eid: str, kind: str, subject: str, at: str, **fields: Any) -> dict[str, Any]:
    return {"event_id": eid, "type": kind, "subject_id": subject, "at": at, **fields}


# --- the baseline's four rules ---------------------------------------------------------------


def test_the_baseline_ships_the_four_rules(baseline: civicscore.Policy) -> None:
    assert [r.id for r in baseline.events.rules] == [
        "discharge_visit_24h", "missed_visits_escalate", "volunteer_inactive_reminder",
        "falsified_hours_bar"]
    forms = {r.id: r.form for r in baseline.events.rules}
    assert forms["volunteer_inactive_reminder"] == "inactive"
    assert {r.id: r.effect for r in baseline.events.rules}["volunteer_inactive_reminder"] \
        == "notice"


def test_the_baseline_cases_pass_on_both_engines(baseline: civicscore.Policy) -> None:
    from civicscore.cases import run_cases

    results, _ = run_cases(baseline, "events")
    assert len(results) == 5 and all(r.passed for r in results), [r.mismatches for r in results]
    for case in baseline.model.case:
        if case.scheme == "events":
            assert_evaluators_agree(baseline, "events", case.records, as_of=case.as_of)


def test_event_rules_count_in_case_coverage(baseline: civicscore.Policy) -> None:
    """`civicscore test` counts every event rule; the baseline's five cases exercise all
    four, and a case that fires none leaves them all listed as not exercised."""
    from civicscore.cases import run_cases

    names = {f"events.rules.{r.id}" for r in baseline.events.rules}
    _, coverage = run_cases(baseline, "events")
    assert names <= coverage.rules and names <= coverage.exercised
    _, none = run_cases(baseline, "no-such-tag")
    assert names <= set(none.missing)


def test_a_visit_exactly_at_the_deadline_is_in_time(baseline: civicscore.Policy) -> None:
    result = both(baseline, [ev("e1", "discharged", "h1", "2025-03-01T10:00:00"),
                             ev("e2", "visit_done", "h1", "2025-03-02T10:00:00")])
    assert [a["action"] for a in result.actions] == ["visit_due"]
    # a visit at the very time of discharge counts, whatever the ids' order
    result = both(baseline, [ev("b", "discharged", "h1", "2025-03-01T10:00:00"),
                             ev("a", "visit_done", "h1", "2025-03-01T10:00:00")])
    assert [a["action"] for a in result.actions] == ["visit_due"]


def test_a_deadline_after_until_is_still_open(baseline: civicscore.Policy) -> None:
    rows = [ev("e1", "discharged", "h1", "2025-12-31T12:00:00")]
    assert [a["action"] for a in both(baseline, rows).actions] == ["visit_due"]
    later = both(baseline, rows, until=dt.date(2026, 1, 1))
    assert [a["action"] for a in later.actions] == ["visit_due", "visit_overdue"]
    assert later.actions[1]["at"] == "2026-01-01T12:00:00"
    assert later.actions[1]["explanation_en"] == (
        "No visit to h1 was recorded within 24 hours of discharge; overdue since "
        "2026-01-01T12:00:00.")
    assert "24小时" in later.actions[1]["explanation"]


def test_streaks_are_per_subject_and_start_again_after_an_escalation(
        baseline: civicscore.Policy) -> None:
    rows = [ev(f"m{i}", "visit_missed", "h1" if i % 2 else "h2", f"2025-04-{i + 1:02d}T09:00")
            for i in range(12)]
    result = both(baseline, rows)
    escalations = [(a["subject_id"], a["events"]) for a in result.actions]
    assert escalations == [("h2", ["m0", "m2", "m4"]), ("h1", ["m1", "m3", "m5"]),
                           ("h2", ["m6", "m8", "m10"]), ("h1", ["m7", "m9", "m11"])]


def test_inactivity_is_a_reminder_once_per_gap(baseline: civicscore.Policy) -> None:
    rows = [ev("a1", "activity", "v1", "2024-01-01T09:00", hours=1),
            ev("a2", "activity", "v1", "2024-06-29T09:00", hours=1),  # 180 days: in time
            ev("a3", "activity", "v1", "2025-03-01T09:00", hours=1)]
    result = both(baseline, rows)
    assert [(a["action"], a["events"], a["at"]) for a in result.actions] == [
        ("reminder", ["a2"], "2024-12-26T09:00:00"),
        ("reminder", ["a3"], "2025-08-28T09:00:00")]
    assert all(a["effect"] == "notice" for a in result.actions)


def test_durations_add_calendar_months_then_time() -> None:
    assert Span.parse("P1M").add(dt.datetime(2024, 1, 31)) == dt.datetime(2024, 2, 29)
    assert Span.parse("P1Y").add(dt.datetime(2024, 2, 29)) == dt.datetime(2025, 2, 28)
    assert Span.parse("P1MT24H").add(dt.datetime(2024, 1, 31, 10)) == \
        dt.datetime(2024, 3, 1, 10)
    assert Span.parse("P1Y").add(dt.datetime(9999, 6, 1)) is None
    assert Span.parse("P1Y6M").words("en") == "1 year 6 months"
    assert Span.parse("PT24H").words("zh") == "24小时"


# --- bad events -----------------------------------------------------------------------------


def test_bad_events_are_refused_named_and_counted(baseline: civicscore.Policy) -> None:
    rows = [
        ev("e1", "discharge", "h1", "2025-03-01T10:00"),                # unknown type
        ev("e2", "discharged", "h1", "yesterday"),                       # malformed at
        {"event_id": "e3", "type": "discharged", "subject_id": "h1"},    # missing at
        ev("e4", "activity", "v1", "2025-03-01T10:00", hours="lots"),   # wrong field type
        ev("e5", "activity", "v1", "2025-03-01T10:00", hours=2),
        ev("e5", "activity", "v1", "2025-03-02T10:00", hours=2),         # duplicate id
        ev("e6", "activity", "v1", "2026-03-02T10:00", hours=2),         # after until
        ev("e7", "activity", "v1", "2025-03-01T08:59", hours=2),         # > 1 h late
        ev("e8", "activity", "v1", "2025-03-01T09:30", hours=2),         # late, within PT1H
    ]
    result = both(baseline, rows)
    codes = {r["id"]: r["reason_codes"] for r in result.rejected}
    assert codes == {"e1": ["UNKNOWN_EVENT_TYPE"], "e2": ["INVALID_DATETIME"],
                     "e3": ["MISSING_FIELD"], "e4": ["INVALID_FIELD"],
                     "e5": ["DUPLICATE_EVENT"], "e6": ["AFTER_UNTIL"], "e7": ["LATE_EVENT"]}
    reasons = {r["id"]: r["reasons"][0] for r in result.rejected}
    assert reasons["e1"] == ("event e1: field 'type': 'discharge' is not an event type of "
                             "the policy (did you mean 'discharged'?)")
    assert reasons["e4"].startswith("event e4: field 'hours': ")
    assert "already taken from row 5" in reasons["e5"]
    assert result.rows_in == len(rows) == result.accepted + len(result.rejected)
    assert result.accepted == 2


def test_rows_of_another_scheme_are_all_rejected_alike(baseline: civicscore.Policy) -> None:
    rows = [{"household_id": "h1", "age_oldest": 80}, {"row": "x"}]
    result = both(baseline, rows)
    assert [r["reason_codes"][0] for r in result.rejected] == ["MISSING_FIELD"] * 2


# --- the policy section is checked like every other ------------------------------------------


def test_mistakes_in_events_are_located_with_did_you_mean(load_text: Any) -> None:
    text = """
    [policy]
    id = "t"
    version = "1"

    [facts.event]
    hours = { type = "decimal" }
    needs_care = { type = "bool", care_need = true }

    [events.types.activity]
    fields = ["hours", "hour", "needs_care"]

    [[events.rules]]
    id = "idle"
    form = "inactive"
    on = "activty"
    period = "P0D"
    action = "penalty"
    effect = "restriction"
    explain = "{subject} x"
    explain_en = "y"

    [[events.rules]]
    id = "w"
    form = "within"
    on = "activity"
    window = "PT1H"
    count = 3
    action = "a"
    explain = "x"
    explain_en = "y"
    """
    with pytest.raises(civicscore.PolicyError) as e:
        load_text(text)
    messages = [str(p) for p in e.value.problems]
    joined = "\n".join(messages)
    assert ":10:20: event type 'activity' carries 'hour', which [facts.event] does not " \
           "declare" in joined and "did you mean 'hours'" in joined
    assert "'needs_care' is a care-need fact" in joined
    assert ":15:6: 'activty' is not an event type of [events.types] [events.rules[0].on] " \
           "(did you mean 'activity'?)" in joined
    assert "period 'P0D' is no time at all" in joined
    assert "inactivity may only give a notice" in joined
    assert "{subject} is not a name an explanation may use (did you mean 'subject_id'?)" \
        in joined
    assert "'count' does not apply to a 'within' rule" in joined
    assert "rule 'w' (within) needs 'expect'" in joined


def test_unknown_keys_and_protected_fields_are_refused(load_text: Any) -> None:
    with pytest.raises(civicscore.PolicyError) as e:
        load_text("""
        [policy]
        id = "t"
        version = "1"

        [facts.event]
        ethnicity = { type = "string" }
        event_id = { type = "string" }

        [events.types.activity]
        fields = ["ethnicity"]

        [[events.rules]]
        id = "p"
        form = "period"
        on = "activity"
        period = "P1Y"
        action = "bar"
        explain = "x"
        explain_en = "y"
        explian = "z"
        """)
    joined = "\n".join(str(p) for p in e.value.problems)
    assert "unknown key 'explian'" in joined and "did you mean 'explain'" in joined
    assert "fact 'ethnicity' denotes a protected characteristic" in joined
    assert "fact name 'event_id' is a field the events scheme reads from every record" \
        in joined


def test_a_locality_overrides_a_rule_by_naming_it(load_text: Any) -> None:
    changed = BASELINE_EVENTS + """
    overrides = ["events.rules.falsified_hours_bar.period"]

    [[events.rules]]
    id = "falsified_hours_bar"
    period = "P3Y"
    """
    policy = load_text(changed)
    rule = {r.id: r for r in policy.events.rules}["falsified_hours_bar"]
    assert rule.span.text == "P3Y" and rule.explain  # the rest is inherited
    wanted = "add 'events.rules.falsified_hours_bar.period' to [policy] overrides"
    with pytest.raises(civicscore.PolicyError, match=re.escape(wanted)):
        load_text(changed.replace('overrides = ["events.rules.falsified_hours_bar.period"]',
                                  ""))
    added = load_text(BASELINE_EVENTS + """
    [[events.rules]]
    id = "discharge_followup_week"
    form = "within"
    on = "discharged"
    expect = "visit_done"
    window = "P7D"
    action = "followup_due"
    explain = "x"
    explain_en = "y"
    """)
    assert len(added.events.rules) == 5


# --- the online session and the adapter --------------------------------------------------------


def test_a_session_gives_actions_as_events_arrive(baseline: civicscore.Policy) -> None:
    session = baseline.events.session(until=UNTIL)
    assert session.post(ev("f1", "falsification_confirmed", "v1", "2025-05-01T10:00",
                           falsified_hours=3)) == []  # held back for max_lateness
    released = session.post(ev("x", "visit_done", "h9", "2025-05-01T11:00:01"))
    assert [a["action"] for a in released] == ["bar_star_certification"]
    session.post(ev("d1", "discharged", "h1", "2025-06-01T10:00"))
    rest = session.close()
    assert [a["action"] for a in rest] == ["visit_due", "visit_overdue"]
    with pytest.raises(civicscore.UsageError, match="closed"):
        session.post(ev("late", "visit_done", "h1", "2025-06-01T11:00"))


def test_sessions_have_their_own_rulesets_and_threads_lose_nothing(
        baseline: civicscore.Policy) -> None:
    sessions = [baseline.events.session(until=UNTIL) for _ in range(3)]
    assert len({s.name for s in sessions}) == 3
    rows = [ev(f"m{i}", "visit_missed", f"h{i % 7}", f"2025-01-01T00:00:{i % 60:02d}")
            for i in range(600)]
    target = sessions[0]

    def post(part: list[dict[str, Any]]) -> None:
        for row in part:
            target.post(row)

    threads = [threading.Thread(target=post, args=(rows[i::4],)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    target.close()
    assert target.accounted and target.rows_in == 600
    assert target.posted + len(target.rejected) == 600
    for s in sessions[1:]:
        s.close()


def _big_log(n: int) -> list[dict[str, Any]]:
    kinds = ["discharged", "visit_done", "visit_missed", "activity", "falsification_confirmed"]
    start = dt.datetime(2024, 1, 1)
    rows = []
    for i in range(n):
        kind = kinds[(i * 7) % 5]
        row = ev(f"e{i}", kind, f"s{(i * 31) % 997}",
                 (start + dt.timedelta(minutes=7 * i)).isoformat())
        if kind == "activity":
            row["hours"] = 1
        if kind == "falsification_confirmed":
            row["falsified_hours"] = 2
        if i % 1000 == 999:
            row["type"] = "unknown"
        rows.append(row)
    return rows


def _accounts_for_every_event(policy: civicscore.Policy, n: int) -> None:
    rows = _big_log(n)
    until = dt.date(2026, 12, 31)
    durable = policy.events.run(rows, until=until, engine="durable")
    reference = policy.events.run(rows, until=until, engine="reference")
    assert durable.rows_in == n == durable.accepted + len(durable.rejected)
    assert len(durable.rejected) == n // 1000
    assert durable.actions == reference.actions
    assert durable.rejected == reference.rejected


def test_ten_thousand_events_are_all_accounted_for(baseline: civicscore.Policy) -> None:
    _accounts_for_every_event(baseline, 10_000)


@pytest.mark.skipif(not os.environ.get("CIVICSCORE_SLOW"),
                    reason="slow: set CIVICSCORE_SLOW=1 (10^5 events through durable-rules)")
def test_a_hundred_thousand_events_are_all_accounted_for(baseline: civicscore.Policy) -> None:
    _accounts_for_every_event(baseline, 100_000)


# --- files and the command line -------------------------------------------------------------------


def _write_log(rows: list[dict[str, Any]], path: Path) -> Path:
    from civicscore.io import write_rows

    write_rows(rows, path)
    return path


@pytest.mark.parametrize("suffix", [".jsonl", ".csv", ".parquet"])
def test_logs_are_read_from_every_format(baseline: civicscore.Policy, tmp_path: Path,
                                         suffix: str) -> None:
    rows = [ev("a1", "activity", "v1", "2025-01-10T09:00:00", hours=2),
            ev("m1", "visit_missed", "h1", "2025-01-10T10:00:00", hours=None),
            ev("m2", "visit_missed", "h1", "2025-01-11T10:00:00", hours=None),
            ev("m3", "visit_missed", "h1", "2025-01-12T10:00:00", hours=None)]
    path = _write_log(rows, tmp_path / f"log{suffix}")
    result = baseline.events.run(path, until=UNTIL, engine="durable")
    assert [a["action"] for a in result.actions] == ["escalate", "reminder"]
    assert result.actions == baseline.events.run(path, until=UNTIL,
                                                 engine="reference").actions


def test_the_command_writes_the_same_actions_on_either_engine(tmp_path: Path) -> None:
    rows = [ev("d1", "discharged", "h1", "2025-03-01T10:00:00"),
            ev("bad", "discharge", "h1", "2025-03-01T10:00:00")]
    log = _write_log(rows, tmp_path / "events.jsonl")
    outputs = []
    for engine in ("durable", "reference"):
        out = tmp_path / f"{engine}.jsonl"
        r = CliRunner().invoke(main, ["events", "baseline", str(log), "--until", "2025-12-31",
                                      "--engine", engine, "-o", str(out)])
        assert r.exit_code == 0, r.output  # rejected events are reported, as by score
        assert "1 of 2 events taken, 1 rejected; 2 actions" in r.output
        assert "event bad: field 'type'" in r.output
        outputs.append(out.read_text(encoding="utf-8"))
    assert outputs[0] == outputs[1]
    actions = [json.loads(line) for line in outputs[0].splitlines()]
    assert [a["action"] for a in actions] == ["visit_due", "visit_overdue"]
    assert actions[0]["events"] == ["d1"] and actions[0]["due"] == "2025-03-02T10:00:00"


def test_score_and_replay_treat_events_like_any_scheme(tmp_path: Path) -> None:
    rows = [ev("d1", "discharged", "h1", "2025-03-01T10:00:00"),
            ev("m1", "visit_missed", "h1", "2025-03-01T11:00:00")]
    log = _write_log(rows, tmp_path / "events.jsonl")
    written = []
    for engine in ("batch", "per-record"):
        out = tmp_path / f"{engine}.csv"
        r = CliRunner().invoke(main, ["score", "baseline", str(log), "--scheme", "events",
                                      "--as-of", "2025-12-31", "--engine", engine,
                                      "-o", str(out)])
        assert r.exit_code == 0, r.output
        written.append(out.read_bytes())
    assert written[0] == written[1] and b"visit_overdue" in written[0]
    decisions = tmp_path / "decisions.jsonl"
    r = CliRunner().invoke(main, ["score", "baseline", str(log), "--scheme", "events",
                                  "--as-of", "2025-12-31", "--log", str(decisions),
                                  "-o", str(tmp_path / "o.jsonl")])
    assert r.exit_code == 0, r.output
    r = CliRunner().invoke(main, ["replay", str(decisions)])
    assert r.exit_code == 0, r.output
    assert "4 decisions replayed, 0 differ" in r.output


def test_a_heartbeat_releases_a_deadline_without_another_event(
        baseline: civicscore.Policy) -> None:
    session = baseline.events.session(until=UNTIL)
    assert session.post(ev("d1", "discharged", "h1", "2025-06-01T10:00")) == []
    assert [a["action"] for a in session.advance(dt.datetime(2025, 6, 1, 11, 0, 1))] == [
        "visit_due"]
    assert session.advance(dt.datetime(2025, 6, 2, 10, 30)) == []  # within max_lateness
    assert [a["action"] for a in session.advance(dt.date(2025, 6, 2))] == ["visit_overdue"]
    late = session.post(ev("v1", "visit_done", "h1", "2025-06-02T09:00"))
    assert late == [] and session.rejected[-1]["reason_codes"] == ["LATE_EVENT"]
    assert session.close() == []


def test_the_benchmark_loop_agrees_with_both_engines(baseline: civicscore.Policy) -> None:
    """benchmarks/events_bench.py's hand-written loop is a fair floor only if it is right."""
    import importlib.util
    import sys

    path = Path(__file__).resolve().parent.parent / "benchmarks" / "events_bench.py"
    spec = importlib.util.spec_from_file_location("civicscore_events_bench", path)
    assert spec is not None and spec.loader is not None
    bench = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = bench
    try:
        spec.loader.exec_module(bench)
        rows = bench.make_log(3000, 7)
        expected = bench.hand_written(rows, bench.UNTIL)
        assert len(expected) > 500
        for engine in ("durable", "reference"):
            run = baseline.events.run(rows, until=bench.UNTIL, engine=engine)
            assert [(a["at"], a["subject_id"], a["rule"], a["action"], a["events"])
                    for a in run.actions] == expected
    finally:
        sys.modules.pop(spec.name, None)


def test_a_condition_reads_only_the_fields_of_its_event(load_text: Any) -> None:
    policy_text = BASELINE_EVENTS + """
    [[events.rules]]
    id = "long_activity_thanks"
    form = "period"
    on = "activity"
    when = "hours >= 4"
    period = "P30D"
    action = "thank"
    explain = "谢谢"
    explain_en = "thanks"
    """
    policy = load_text(policy_text)
    rows = [ev("a1", "activity", "v1", "2025-03-01T10:00", hours=5),
            ev("a2", "activity", "v1", "2025-03-02T10:00", hours=1)]
    result = both(policy, rows)
    assert [(a["action"], a["events"]) for a in result.actions
            if a["rule"] == "long_activity_thanks"] == [("thank", ["a1"])]
    with pytest.raises(civicscore.PolicyError) as e:
        load_text(policy_text.replace('when = "hours >= 4"', 'when = "falsified_hours > 0"'))
    assert "event rule 'long_activity_thanks' may not read 'falsified_hours': events of " \
           "type 'activity' do not carry it" in str(e.value)
    with pytest.raises(civicscore.PolicyError, match="did you mean 'hours'"):
        load_text(policy_text.replace('when = "hours >= 4"', 'when = "hour >= 4"'))


def test_mistakes_in_events_are_told_in_chinese_too(load_text: Any) -> None:
    """The same mistakes carry their Chinese, which check --lang zh shows."""
    text = """
    [policy]
    id = "t"
    version = "1"

    [facts.event]
    hours = { type = "decimal" }

    [events.types.activity]
    fields = ["hour"]

    [[events.rules]]
    id = "idle"
    form = "inactive"
    on = "activty"
    period = "P0D"
    action = "penalty"
    effect = "restriction"
    explain = "x"
    explain_en = "y"
    """
    with pytest.raises(civicscore.PolicyError) as e:
        load_text(text)
    said = {p.message_zh: p.hint_zh for p in e.value.problems}
    assert said["事件类型 'activity' 带有 'hour'，但 [facts.event] 中没有声明它"] == \
        "是否想写 'hours'？"
    assert said["'activty' 不是 [events.types] 中的事件类型"] == "是否想写 'activity'？"
    assert "period 'P0D' 的时长为零" in said
    assert said["长时间没有活动只能给出提醒，不能处罚，也不能布置针对此人的任务"] == \
        '请设 effect = "notice"（温和的提醒）'
