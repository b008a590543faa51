"""Visit reasons are worded once, from templates both engines render.

``VisitsScheme.words`` holds the reasons' sentences as ``plan.words`` templates;
the per-record path renders each with ``Words.render`` over a household's words
row, batch renders all rows with ``say_frame``. On random policies (hit
policies, labels, priorities, triggers) and households (never visited, a last
visit on 0001-01-01, events before and after it, overdue or not), both give the
same sentences, and ``say_row`` of the entries gives the per-record messages in
order.
"""

from __future__ import annotations

import datetime as dt
import warnings
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, reject, settings
from hypothesis import strategies as st

import civicscore
from civicscore.errors import CivicScoreError
from civicscore.messages import LANG
from civicscore.plan.words import say_row
from civicscore.schemes.visits.scheme import reasons_inputs

pytest.importorskip("polars")

AS_OF = dt.date(2026, 3, 1)

FACTS = """
[facts.household]
age = { type = "int", min = 0, max = 130, care_need = true, concept = "age" }
alone = { type = "bool", default = false, care_need = true, concept = "lives_alone" }
mobility = { type = "enum", values = ["good", "limited", "bedbound"], default = "good", \
care_need = true, concept = "bedridden" }
income_need = { type = "decimal", min = 0, default = 1.5, care_need = true, \
concept = "economic_hardship" }
discharged_on = { type = "date", optional = true, care_need = true, \
concept = "hospital_discharge" }
fall_on = { type = "date", optional = true, care_need = true, concept = "fall" }
"""
CONDITIONS = ['age >= 80 and alone', 'mobility == \\"bedbound\\"', "income_need > 2.5",
              "70 <= age < 80", "alone or income_need >= 7", "True",
              "last_visit < as_of and age > 60", "discharged_on > last_visit"]
CADENCES = ["weekly", "P10D", "P1M", "P1M2D", "quarterly", "yearly", "P2W"]
LABELS = ["", 'label = "每周"\n', 'label = "每周"\nlabel_en = "Weekly"\n',
          'label_en = "Weekly"\n', 'label = "X"\nlabel_en = "X"\n']

TRIGGER_LABELS = ["", 'label = "出院"\n', 'label_en = "After"\n']


@st.composite
def policy_texts(draw: st.DrawFn) -> str:
    hit = draw(st.sampled_from(["first", "priority", "unique", "any", "rule order",
                                "output order", 'collect"\naggregation = "max',
                                'collect"\naggregation = "min']))
    n = draw(st.integers(0, 1 if hit == "unique" else 4))
    priorities = draw(st.lists(st.integers(1, 99), min_size=n, max_size=n, unique=True))
    tiers = [f'[[visits.tiers]]\nid = "t{i}"\n{draw(st.sampled_from(LABELS))}'
             f'cadence = "{draw(st.sampled_from(CADENCES))}"\n'
             f'when = "{draw(st.sampled_from(CONDITIONS))}"\n'
             + (f"priority = {priorities[i]}\n" if hit in ("priority", "output order")
                else "")
             for i in range(n)]
    triggers = [f'[[visits.triggers]]\nid = "g{j}"\n'
                f"{draw(st.sampled_from(TRIGGER_LABELS))}"
                f'event = "{draw(st.sampled_from(["discharged_on", "add_days(fall_on, 1)"]))}"\n'
                f'when = "{draw(st.sampled_from(["True", "age >= 60"]))}"\n'
                f"within_days = {draw(st.sampled_from([1, 7]))}\n"
                for j in range(draw(st.integers(0, 2)))]
    return (f'[policy]\nid = "words"\nversion = "1"\n{FACTS}\n[visits]\nhit_policy = "{hit}"\n'
            f'default_tier = "routine"\n' + "\n".join(tiers)
            + f'\n[[visits.tiers]]\nid = "routine"\n{draw(st.sampled_from(LABELS[:2]))}'
            f'cadence = "{draw(st.sampled_from(CADENCES))}"\n\n' + "\n".join(triggers))


dates = st.one_of(st.none(), st.sampled_from([dt.date.min, AS_OF, dt.date(2026, 2, 27)]),
                  st.dates(dt.date(2025, 1, 1), AS_OF))
households = st.lists(st.fixed_dictionaries({
    "household_id": st.sampled_from(["H1", "H2", "H3", "H4", "H5", "H6"]),
    "age": st.one_of(st.integers(0, 130), st.just("old")),
}, optional={
    "last_visit": dates, "alone": st.booleans(),
    "mobility": st.sampled_from(["good", "limited", "bedbound"]),
    "income_need": st.sampled_from([0.0, 2.5, 3.45, 7.25, 1e-7, 123456789.0]),
    "discharged_on": dates, "fall_on": dates,
}), min_size=1, max_size=8)


def _load(tmp: Path, text: str) -> civicscore.Policy:
    path = tmp / "words.toml"
    path.write_text(text, encoding="utf-8")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # a tier shadowed by another is only a warning
        try:
            return civicscore.load(path)
        except CivicScoreError:
            reject()  # a policy the loader refuses (tiers overlapping under "unique")


@settings(max_examples=24, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(text=policy_texts(), items=households)
@pytest.mark.parametrize("lang", ["en", "zh"])
def test_both_engines_word_the_same_reasons(tmp_path: Path, text: str,
                                            items: list[dict[str, Any]], lang: str) -> None:
    token = LANG.set(lang)
    try:
        _both_engines_word_the_same_reasons(tmp_path, text, items)
    finally:
        LANG.reset(token)


def _both_engines_word_the_same_reasons(tmp_path: Path, text: str,
                                        items: list[dict[str, Any]]) -> None:
    scheme = _load(tmp_path, text).visits
    per = scheme.decide_many(items, as_of=AS_OF)
    for d in per.decisions:
        if d.rejected:
            continue
        row = scheme.words.row(scheme.plan.outputs, *reasons_inputs(d))  # still unread
        assert say_row(scheme.words.entries, row) == [r.message for r in d.reasons]
    batch = scheme.batch(items, as_of=AS_OF)
    assert batch.output.to_dicts() == list(per.output_rows())


PRIORITY_POLICY = f"""[policy]\nid = "words"\nversion = "1"\n{FACTS}
[visits]
hit_policy = "priority"
default_tier = "routine"

[[visits.tiers]]
id = "needy"
label = "困难"
label_en = "Hardship"
cadence = "P1M"
when = "income_need > 2.5"
priority = 5

[[visits.tiers]]
id = "lonely"
cadence = "weekly"
when = "alone or income_need >= 7"
priority = 9

[[visits.tiers]]
id = "routine"
cadence = "quarterly"

[[visits.triggers]]
id = "discharge"
label_en = "After a discharge"
event = "discharged_on"
within_days = 1
"""


def test_messages_as_written(tmp_path: Path) -> None:
    """The sentences themselves, pinned: a tier named in both languages with the values
    its condition read (a float by ``:g``), the priority note, a trigger after a last
    visit on 0001-01-01 (a date, not "never"), overdue by days and by one day."""
    scheme = _load(tmp_path, PRIORITY_POLICY).visits
    items = [{"household_id": "H1", "age": 70, "income_need": 123456789.0,
              "last_visit": dt.date.min, "discharged_on": dt.date(2026, 2, 27)},
             {"household_id": "H2", "age": 70},
             {"household_id": "H3", "age": 70, "alone": True, "last_visit": "2026-02-21"}]
    want = [
        ["tier lonely [lonely] applies because its condition holds: alone or income_need >= 7 "
         "(alone = false, income_need = 1.23457e+08); it has the highest priority among the "
         "matching tiers: needy (5), lonely (9)",
         "last visit on 0001-01-01, every week (weekly): next visit due on 0001-01-08",
         "After a discharge: event on 2026-02-27 (discharged_on), after the last visit on "
         "0001-01-01; a visit is due within 1 day, by 2026-02-28",
         "the next visit was due on 0001-01-08, 739668 days before 2026-03-01"],
        ["no other tier's condition holds (checked needy, lonely; income_need = 1.5, "
         "alone = false), so the default tier routine [routine] applies",
         "no visit on record: the first visit is due now (2026-03-01)"],
        ["tier lonely [lonely] applies because its condition holds: alone or income_need >= 7 "
         "(alone = true, income_need = 1.5)",
         "last visit on 2026-02-21, every week (weekly): next visit due on 2026-02-28",
         "the next visit was due on 2026-02-28, 1 day before 2026-03-01"]]
    per = scheme.decide_many(items, as_of=AS_OF)
    assert [[r.message for r in d.reasons] for d in per.decisions] == want
    assert scheme.batch(items, as_of=AS_OF).output["reasons"].to_list() == want


ITEMS = [{"household_id": "H1", "age": 70, "income_need": 123456789.0,
          "last_visit": dt.date.min, "discharged_on": dt.date(2026, 2, 27)},
         {"household_id": "H2", "age": 70},
         {"household_id": "H3", "age": 70, "alone": True, "last_visit": "2026-02-21"}]


def test_messages_as_written_in_chinese(tmp_path: Path,
                                        monkeypatch: pytest.MonkeyPatch) -> None:
    """The same three households as above, worded in Chinese: the policy's locale is
    zh-CN (the default), so with no language asked its reasons are Chinese, in both
    engines; the values stay as the officer wrote them (true, 1.23457e+08, ISO dates)."""
    monkeypatch.delenv("CIVICSCORE_LANG", raising=False)
    scheme = _load(tmp_path, PRIORITY_POLICY).visits
    want = [
        ["归入lonely档 [lonely]，因为条件成立：alone，或 income_need ≥ 7（alone = false，"
         "income_need = 1.23457e+08）；在条件成立的各档中它的优先级最高：needy (5), lonely (9)",
         "上次探访于 0001-01-01，每周探访一次（weekly）：下次探访应于 0001-01-08 前完成",
         "After a discharge：事件发生于 2026-02-27（discharged_on），在上次探访（0001-01-01）之后；"
         "须在 1 天内探访，即 2026-02-28 前",
         "下次探访原应于 0001-01-08 完成，截至 2026-03-01 已逾期 739668 天"],
        ["其他各档的条件均不成立（已检查 needy, lonely；income_need = 1.5，alone = false），"
         "因此归入默认的routine档 [routine]",
         "没有探访记录：首次探访即刻到期（2026-03-01）"],
        ["归入lonely档 [lonely]，因为条件成立：alone，或 income_need ≥ 7（alone = true，"
         "income_need = 1.5）",
         "上次探访于 2026-02-21，每周探访一次（weekly）：下次探访应于 2026-02-28 前完成",
         "下次探访原应于 2026-02-28 完成，截至 2026-03-01 已逾期 1 天"]]
    per = scheme.decide_many(ITEMS, as_of=AS_OF)
    assert [[r.message for r in d.reasons] for d in per.decisions] == want
    assert scheme.batch(ITEMS, as_of=AS_OF).output["reasons"].to_list() == want
    explained = per.decisions[2].explain()
    assert explained.splitlines()[:2] == [
        "住户 H3：lonely档 [lonely]，每周探访一次（weekly）。",
        "  下次探访应于 2026-02-28 前完成：已逾期 1 天（上次探访于 2026-02-21）。"]
    assert "探访档次只依据照护需要确定" in explained
    assert per.decisions[2].explain("en").startswith("Household H3: tier lonely")


def test_the_language_asked_beats_the_policys_locale(tmp_path: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    """``--lang`` (the LANG context), else CIVICSCORE_LANG, else the locale: a policy
    written in English explains itself in English unless Chinese is asked for."""
    monkeypatch.delenv("CIVICSCORE_LANG", raising=False)
    english = _load(tmp_path, PRIORITY_POLICY.replace('version = "1"',
                                                      'version = "1"\nlocale = "en"', 1))
    assert english.model.policy.locale == "en"

    def first(policy: civicscore.Policy) -> str:
        return policy.visits.decide(ITEMS[1], as_of=AS_OF).reasons[0].message

    assert first(english).startswith("no other tier's condition holds")
    monkeypatch.setenv("CIVICSCORE_LANG", "zh")
    assert first(english).startswith("其他各档的条件均不成立")
    token = LANG.set("en")
    try:
        assert first(english).startswith("no other tier's condition holds")
    finally:
        LANG.reset(token)


@pytest.mark.parametrize(("cadence", "words"), [
    ("weekly", "每周"), ("P10D", "每 10 天"), ("P1D", "每天"), ("P2W", "每 2 周"),
    ("P1M", "每月"), ("P2M", "每 2 个月"), ("P1M2D", "每 1 个月零 2 天"), ("yearly", "每年"),
    ("P2Y", "每 2 年"),
])
def test_cadences_in_chinese(cadence: str, words: str) -> None:
    from civicscore.schemes.visits.scheme import parse_cadence

    assert parse_cadence(cadence).describe("zh") == words


def test_a_batch_is_worded_in_the_language_of_its_run(tmp_path: Path) -> None:
    """Batch words its reasons when ``output`` is first read, in the language of the
    call that made it, not of the code that reads it later."""
    scheme = _load(tmp_path, PRIORITY_POLICY).visits
    token = LANG.set("zh")
    try:
        result = scheme.batch(ITEMS, as_of=AS_OF)
    finally:
        LANG.reset(token)
    token = LANG.set("en")
    try:
        said = result.output["reasons"].to_list()
    finally:
        LANG.reset(token)
    assert said[1][1] == "没有探访记录：首次探访即刻到期（2026-03-01）"
