"""Visit tiers read care needs by vocabulary, not by name (issue 11, items 1-3).

A fact that tiers or triggers read declares its concept from the core's closed,
bilingual vocabulary; a trigger's event is a care event's date; a tier visiting
more often than weekly requires an intensive need and recorded consent. Every
refusal is located (file:line:col), says what was expected and how to fix it.
"""

from __future__ import annotations

import datetime as dt
import warnings
from pathlib import Path

import pytest

import civicscore
from civicscore.policy.care import concept_problem, suggest_concept, vocabulary

HEAD = """[policy]
id = "care"
version = "1"

[facts.household]
age_oldest = { type = "int", min = 0, max = 130, concept = "age" }
lives_alone = { type = "bool", default = false, concept = "lives_alone" }
bedridden = { type = "bool", default = false, concept = "bedridden" }
agreed_daily = { type = "bool", default = false, concept = "visit_consent" }
discharged_on = { type = "date", optional = true, concept = "hospital_discharge" }
has_dementia = { type = "bool", default = false, care_need = true }
"""

TIERS = """
[visits]
default_tier = "routine"

[[visits.tiers]]
id = "daily_care"
label = "卧床独居老人每日探访"
label_en = "Daily visits for a bedridden elder living alone"
cadence = "{cadence}"
when = "{when}"

[[visits.tiers]]
id = "routine"
cadence = "monthly"
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "care.toml"
    path.write_text(text, encoding="utf-8")
    return path


def refused(path: Path) -> list[civicscore.errors.Problem]:
    with pytest.raises(civicscore.PolicyError) as e:
        civicscore.load(path)
    return list(e.value.problems)


def tiers(cadence: str, when: str) -> str:
    return HEAD + TIERS.replace("{cadence}", cadence).replace("{when}", when)


# --- the vocabulary ------------------------------------------------------------------


def test_the_vocabulary_is_versioned_bilingual_and_closed() -> None:
    vocab = vocabulary()
    assert vocab.id == "civicscore-care" and vocab.version
    assert {"age", "lives_alone", "empty_nest", "disability_grade", "dementia",
            "chronic_illness", "life_threatening_illness", "bedridden", "end_of_life",
            "recent_discharge", "economic_hardship", "caregiver_absent"} <= set(vocab.concepts)
    assert {"hospital_discharge", "bereavement", "fall", "hospitalisation",
            "caregiver_change", "disaster", "hardship_application"} <= set(
        vocab.of_kind("event"))
    for c in vocab.concepts.values():
        assert c.label and c.label_en and c.definition and c.definition_en, c.id
        assert c.kind in ("need", "event", "consent"), c.id
        assert set(c.types) <= {"bool", "int", "decimal", "string", "date", "enum"}, c.id
        assert c.kind != "event" or c.types == ("date",), c.id
    assert "GB/T 42195-2022" in vocab.concepts["ability_level"].standard
    assert {c.id for c in vocab.concepts.values() if c.intensive} >= {
        "bedridden", "end_of_life", "recent_discharge"}


def test_a_concept_is_checked_against_the_fact_type() -> None:
    assert concept_problem("age", "int") is None
    wrong = concept_problem("age", "date")
    assert wrong and "type int or decimal, not date" in wrong[0]
    unknown = concept_problem("agee", "int")
    assert unknown and "did you mean 'age'?" in unknown[1]
    assert suggest_concept("discharged_on", fact_type="date") == "hospital_discharge"
    assert suggest_concept("age_oldest") == "age"


# --- facts tiers read ----------------------------------------------------------------


def test_a_tier_reading_a_fact_without_a_concept_is_refused_where_it_reads_it(
        tmp_path: Path) -> None:
    text = tiers("weekly", "has_dementia")
    (p,) = refused(write(tmp_path, text))
    line = text.split('when = "has_dementia"')[0].count("\n") + 1
    assert (p.line, p.col, p.path) == (line, len('when = "') + 1, "visits.tiers[0].when")
    assert "declares no concept of the care-need vocabulary" in p.message
    assert "expected:" in p.message and "fix: add concept" in p.message
    assert "did you mean 'dementia'?" in p.message


def test_an_unknown_concept_is_refused_with_did_you_mean(tmp_path: Path) -> None:
    text = HEAD.replace('concept = "lives_alone"', 'concept = "living_alone"') + TIERS.replace(
        "{cadence}", "weekly").replace("{when}", "lives_alone")
    (p,) = refused(write(tmp_path, text))
    assert p.path == "facts.household.lives_alone.concept" and p.line == 7
    assert "not a concept of the care-need vocabulary" in p.message
    assert "did you mean 'lives_alone'?" in p.hint


def test_a_concept_of_the_wrong_type_and_a_denied_care_need_are_refused(
        tmp_path: Path) -> None:
    text = HEAD + 'age_on = { type = "date", optional = true, concept = "age" }\n' \
                  'alone2 = { type = "bool", default = false, concept = "lives_alone", ' \
                  'care_need = false }\n'
    found = {p.path: p for p in refused(write(tmp_path, text))}
    assert "type int or decimal, not date" in found["facts.household.age_on.concept"].message
    assert "care_need = false" in found["facts.household.alone2.care_need"].message


def test_a_child_cannot_make_an_inherited_fact_a_care_need_silently(tmp_path: Path) -> None:
    child = '[policy]\nid = "c"\nversion = "1"\nextends = "baseline"\n{o}\n' \
            '[facts.household]\nlaw_violations = {{ concept = "open_requests" }}\n'
    (p,) = refused(write(tmp_path, child.format(o="")))
    assert p.path == "facts.household.law_violations.concept"
    assert "changes what the fact means" in p.message and "overrides" in p.hint
    # named in overrides, the change is made, and civility may then no longer read it
    found = refused(write(tmp_path, child.format(
        o='overrides = ["facts.household.law_violations.concept"]')))
    assert [p.path for p in found] == ["civility.stars[1].when"]


# --- triggers are care events ------------------------------------------------------------


TRIGGER = HEAD + """
[visits]
default_tier = "routine"

[[visits.tiers]]
id = "routine"
cadence = "monthly"

[[visits.triggers]]
id = "t"
event = "{event}"
within_days = 1
"""


@pytest.mark.parametrize("event, why", [
    ("as_of", "'as_of' is not the date of a care event"),
    ("last_visit", "'last_visit' is not the date of a care event"),
    ("add_days(as_of, 0)", "'as_of' is not the date of a care event"),
    ("date('2025-01-01')", "reads no care event"),
])
def test_a_trigger_is_a_care_event_never_an_arbitrary_date(tmp_path: Path, event: str,
                                                            why: str) -> None:
    (p,) = refused(write(tmp_path, TRIGGER.replace("{event}", event)))
    assert p.path == "visits.triggers[0].event" and why in p.message, p
    assert "hospital_discharge" in p.message + p.hint


def test_a_care_need_is_no_event(tmp_path: Path) -> None:
    text = HEAD + 'assessed = { type = "date", optional = true, concept = "recent_discharge" }\n'
    found = refused(write(tmp_path, text))
    assert found[0].path == "facts.household.assessed.concept"  # a need of type bool only
    ok = TRIGGER.replace("{event}", "discharged_on")
    civicscore.load(write(tmp_path, ok))


# --- more often than weekly ----------------------------------------------------------------


def test_a_legitimate_daily_tier_loads(tmp_path: Path) -> None:
    policy = civicscore.load(write(tmp_path, tiers(
        "daily", "bedridden and lives_alone and age_oldest >= 80 and agreed_daily")))
    decision = policy.visits.decide({"household_id": "h", "age_oldest": 85, "lives_alone": True,
                                     "bedridden": True, "agreed_daily": True},
                                    as_of=dt.date(2025, 12, 31))
    assert decision.tier == "daily_care" and decision.cadence == "daily"


@pytest.mark.parametrize("cadence, when, why", [
    ("daily", "age_oldest >= 80 and lives_alone and agreed_daily", "intensive care need"),
    ("P3D", "bedridden and lives_alone", "recorded consent"),
    ("daily", "(bedridden or lives_alone) and agreed_daily", "intensive care need"),
    ("daily", "bedridden and not agreed_daily", "recorded consent"),
    ("daily", "bedridden and (agreed_daily or lives_alone)", "recorded consent"),
])
def test_more_often_than_weekly_needs_intensive_care_and_consent(
        tmp_path: Path, cadence: str, when: str, why: str) -> None:
    (p,) = refused(write(tmp_path, tiers(cadence, when)))
    assert p.path == "visits.tiers[0].cadence" and why in p.message, p
    assert "visit_consent" in p.message + p.hint


def test_a_daily_default_tier_is_refused(tmp_path: Path) -> None:
    text = tiers("weekly", "lives_alone").replace('cadence = "monthly"', 'cadence = "daily"')
    (p,) = refused(write(tmp_path, text))
    assert p.path == "visits.tiers[1].cadence" and "intensive" in p.message


def test_a_control_tier_on_top_of_karamay_is_refused(tmp_path: Path) -> None:
    text = """[policy]
id = "k2"
version = "1"
extends = "karamay"

[[visits.tiers]]
id = "controlled"
label = "管控户（重点户）"
cadence = "daily"
when = "age_oldest >= 18"
"""
    found = refused(write(tmp_path, text))
    assert {p.path for p in found} == {"visits.tiers[4].label", "visits.tiers[4].cadence"}


SHIPPED = ["baseline", "karamay", "fangxian", "chengdu", "qingdao", "hengshui",
           str(Path(__file__).parents[1] / "policies" / "example-district.toml")]


@pytest.mark.parametrize("name", SHIPPED)
def test_every_fact_the_shipped_visits_read_declares_its_concept(name: str) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        policy = civicscore.load(name)
    facts = policy.model.facts["household"]
    for name_, spec in facts.items():
        if spec.care_need:
            assert spec.concept in vocabulary().concepts, name_
        else:
            assert spec.concept is None, name_


def test_a_plugin_function_cannot_feed_visit_tiers(tmp_path: Path) -> None:
    import types

    rating = civicscore.simple_function("rating", ["int"], "int", lambda x: x)
    module = types.ModuleType("rating_plugin")
    module.register_functions = civicscore.hookimpl(  # type: ignore[attr-defined]
        lambda register: register(rating))
    engine = civicscore.Engine(plugins=[module], entry_points=False)
    with pytest.raises(civicscore.PolicyError) as e:
        engine.load(write(tmp_path, tiers("weekly", "rating(age_oldest) > 3")))
    (p,) = e.value.problems
    assert p.path == "visits.tiers[0].when" and "calls rating(), a plugin's function" \
        in p.message
    # civicscore's own functions are fine
    engine.load(write(tmp_path, tiers("weekly", "0 <= days_between(discharged_on, as_of) <= 30")))
