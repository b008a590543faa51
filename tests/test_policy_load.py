"""Loading policies: every mistake located, all at once, with a fix where possible."""

from __future__ import annotations

import datetime as dt
import textwrap
import warnings
from pathlib import Path

import pytest

import civicscore
from civicscore.policy.dated import DatedValue, NotInForce

from .conftest import EXAMPLE_POLICY, MINIMAL, problems_of

FOUR_MISTAKES = """
[policy]
id = "bad"
version = "1"

[facts.activity]
night = { type = "bool", default = false }

[volunteer]
rounding_minuts = 30
points_decimals = "two"

[volunteer.activities.patrol]
points_per_hour = 2

[[volunteer.multipliers]]
id = "n"
when = "nigth and hours > 1"
factor = 2

[[volunteer.multipliers]]
id = "evil"
when = "__import__('os').system('echo hi')"
factor = 2
"""


def test_four_kinds_of_mistake_are_all_reported_with_positions(write_policy) -> None:
    path = write_policy(FOUR_MISTAKES)
    with pytest.raises(civicscore.PolicyError) as e:
        civicscore.load(path)
    got = problems_of(e)
    assert len(got) == 4, got
    assert got[0].startswith(f"{path}:9:1: unknown key 'rounding_minuts'")
    assert "did you mean 'rounding_minutes'?" in got[0]
    assert got[1].startswith(f"{path}:10:19: expected a whole number, got text 'two'")
    assert got[2].startswith(f"{path}:17:9: unknown name 'nigth'")
    assert "did you mean 'night'?" in got[2]
    assert got[3].startswith(f"{path}:22:9: name '__import__' is not allowed")


def test_expression_error_column_points_inside_the_string(write_policy) -> None:
    path = write_policy(MINIMAL + textwrap.dedent("""
    [volunteer.activities.a]
    points_per_hour = 1
    [[volunteer.multipliers]]
    id = "m"
    when = "hours > 1 and activity == \\"b\\""
    factor = 2
    """))
    with pytest.raises(civicscore.PolicyError) as e:
        civicscore.load(path)
    (p,) = e.value.problems
    assert (p.line, p.col) == (9, 9 + len('hours > 1 and activity == '))
    assert "'b' is not a value of activity" in p.message


def test_toml_syntax_error_is_located(write_policy) -> None:
    path = write_policy('[policy]\nid = "x"\nversion = 1.2.3\n')
    with pytest.raises(civicscore.PolicyError) as e:
        civicscore.load(path)
    (p,) = e.value.problems
    assert p.line == 3 and "TOML syntax error" in p.message


def test_unquoted_text_gets_a_hint(write_policy) -> None:
    path = write_policy('[policy]\nid = "x"\nversion = "1"\ntitle = 巡逻\n')
    with pytest.raises(civicscore.PolicyError) as e:
        civicscore.load(path)
    assert e.value.problems[0].line == 4


def test_non_utf8_file_is_located(tmp_path: Path) -> None:
    path = tmp_path / "gbk.toml"
    path.write_bytes('[policy]\nid = "x"\nversion = "1"\ntitle = "巡逻"\n'.encode("gbk"))
    with pytest.raises(civicscore.PolicyError) as e:
        civicscore.load(path)
    (p,) = e.value.problems
    assert p.line == 4 and "UTF-8" in p.message


def test_missing_file_and_missing_key(write_policy, tmp_path: Path) -> None:
    with pytest.raises(civicscore.PolicyError, match="no such policy file"):
        civicscore.load(tmp_path / "nope.toml")
    path = write_policy('[policy]\nid = "x"\n')
    with pytest.raises(civicscore.PolicyError) as e:
        civicscore.load(path)
    assert "missing required key 'version' in policy" in str(e.value)
    assert e.value.problems[0].line == 1


def test_wrong_enum_value_suggests(write_policy) -> None:
    path = write_policy(MINIMAL + '[volunteer]\nrounding = "dwon"\n')
    with pytest.raises(civicscore.PolicyError) as e:
        civicscore.load(path)
    assert "did you mean 'down'?" in str(e.value)
    assert e.value.problems[0].col == len('rounding = ') + 1


@pytest.mark.parametrize("name,label", [
    ("ethnicity", ""), ("religion", ""), ("party_member", ""), ("politicalView", ""),
    ("minzu", ""), ("x1", "民族"), ("x2", "宗教信仰"), ("x3", "政治面貌"),
    ("x4", "Religious attendance"), ("sexual_orientation", ""),
])
def test_protected_characteristics_are_refused(write_policy, name: str, label: str) -> None:
    path = write_policy(MINIMAL + f'[facts.household]\n{name} = {{ type = "bool", '
                                  f'label = "{label}" }}\n')
    with pytest.raises(civicscore.PolicyError) as e:
        civicscore.load(path)
    (p,) = e.value.problems
    assert "protected characteristic" in p.message and p.line == 5


def test_protected_enum_values_are_refused(write_policy) -> None:
    path = write_policy(MINIMAL + '[facts.household]\ngroup = { type = "enum", '
                                  'values = ["a", "汉族"] }\n')
    with pytest.raises(civicscore.PolicyError, match="protected characteristic"):
        civicscore.load(path)


@pytest.mark.parametrize("name", ["third_party_hours", "partner_count", "raced_today"])
def test_protected_check_does_not_catch_innocent_names(load_text, name: str) -> None:
    load_text(MINIMAL + f'[facts.household]\n{name} = {{ type = "int", default = 0 }}\n')


def test_fact_declaration_mistakes(write_policy) -> None:
    path = write_policy(MINIMAL + """
    [facts.household]
    kind = { type = "enum" }
    age = { type = "int", min = 10, max = 5 }
    flag = { type = "bool", default = 3 }
    size = { type = "enum", values = ["small", "large"], default = "smal" }
    """)
    with pytest.raises(civicscore.PolicyError) as e:
        civicscore.load(path)
    text = str(e.value)
    assert "an enum fact needs its allowed values" in text
    assert "min 10 is greater than max 5" in text
    assert "default 3 is not a valid bool value" in text
    assert "did you mean 'small'?" in text
    assert len(e.value.problems) == 4


def test_dated_values_resolve_by_date() -> None:
    v = DatedValue((dt.date(2023, 1, 1), dt.date(2025, 7, 1)), (2.0, 3.0))
    assert v.at(dt.date(2025, 6, 30)) == (2.0, dt.date(2023, 1, 1))
    assert v.at(dt.date(2025, 7, 1)) == (3.0, dt.date(2025, 7, 1))
    with pytest.raises(NotInForce):
        v.at(dt.date(2022, 12, 31))
    assert DatedValue.constant(5).at(dt.date(1900, 1, 1)) == (5, None)


def test_bad_dated_value_key_is_located(write_policy) -> None:
    path = write_policy(MINIMAL + '[volunteer.activities.a]\n'
                                  'points_per_hour = { 2025-13-01 = 2 }\n')
    with pytest.raises(civicscore.PolicyError) as e:
        civicscore.load(path)
    (p,) = e.value.problems
    assert p.line == 5 and "is not a date" in p.message


def test_review_by_in_the_past_warns(write_policy) -> None:
    path = write_policy(MINIMAL + "review_by = 2024-01-01\n")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        policy = civicscore.load(path, today=dt.date(2025, 1, 1))
    assert policy.warnings and "due for review on 2024-01-01" in policy.warnings[0].message
    assert any(issubclass(w.category, civicscore.PolicyWarning) for w in caught)


def test_unknown_calendar_country(write_policy) -> None:
    path = write_policy(MINIMAL + '[calendar]\ncountry = "CNN"\n')
    with pytest.raises(civicscore.PolicyError, match="unknown holiday calendar country"):
        civicscore.load(path)


# --- extends and overrides ------------------------------------------------------------


PARENT = """
[policy]
id = "parent"
version = "1"

[volunteer.activities.patrol]
label = "巡逻"
points_per_hour = 1

[[volunteer.multipliers]]
id = "holiday"
when = "is_holiday(date)"
factor = 2
"""


def test_extends_adds_and_overrides_explicitly(write_policy) -> None:
    write_policy(PARENT, "parent.toml")
    child = write_policy("""
    [policy]
    id = "child"
    version = "1"
    extends = "parent"
    overrides = ["volunteer.activities.patrol.points_per_hour",
                 "volunteer.multipliers.holiday.factor"]

    [volunteer.activities.patrol]
    points_per_hour = 3

    [volunteer.activities.cleanup]
    points_per_hour = 1

    [[volunteer.multipliers]]
    id = "holiday"
    factor = 3

    [[volunteer.multipliers]]
    id = "weekend"
    when = "weekday(date) >= 6"
    factor = 1.5
    """, "child.toml")
    policy = civicscore.load(child)
    rules = policy.model.volunteer
    assert rules is not None
    assert rules.activities["patrol"].points_per_hour.values == (3,)
    assert rules.activities["patrol"].label == "巡逻"
    assert set(rules.activities) == {"patrol", "cleanup"}
    assert [(m.id, m.factor.values[0]) for m in rules.multipliers] == [
        ("holiday", 3), ("weekend", 1.5)]
    assert policy.ref.id == "child"


def test_silent_override_is_refused_with_a_fix(write_policy) -> None:
    write_policy(PARENT, "parent.toml")
    child = write_policy("""
    [policy]
    id = "child"
    version = "1"
    extends = "parent.toml"

    [volunteer.activities.patrol]
    points_per_hour = 3
    """, "child.toml")
    with pytest.raises(civicscore.PolicyError) as e:
        civicscore.load(child)
    (p,) = e.value.problems
    assert p.file == str(child) and p.line == 7
    assert "add 'volunteer.activities.patrol.points_per_hour' to [policy] overrides" in p.hint


def test_override_of_nothing_is_an_error(write_policy) -> None:
    write_policy(PARENT, "parent.toml")
    child = write_policy("""
    [policy]
    id = "child"
    version = "1"
    extends = "parent"
    overrides = ["volunteer.activities.patrl.points_per_hour"]
    """, "child.toml")
    with pytest.raises(civicscore.PolicyError) as e:
        civicscore.load(child)
    assert "did you mean 'volunteer.activities.patrol.points_per_hour'?" in str(e.value)


def test_errors_in_the_parent_name_the_parent_file(write_policy) -> None:
    parent = write_policy(PARENT.replace("points_per_hour = 1", "points_per_hr = 1"),
                          "parent.toml")
    child = write_policy('[policy]\nid = "c"\nversion = "1"\nextends = "parent"\n', "c.toml")
    with pytest.raises(civicscore.PolicyError) as e:
        civicscore.load(child)
    assert e.value.problems[0].file == str(parent)


def test_extends_cycle_and_missing_parent(write_policy) -> None:
    a = write_policy('[policy]\nid = "a"\nversion = "1"\nextends = "b"\n', "a.toml")
    write_policy('[policy]\nid = "b"\nversion = "1"\nextends = "a"\n', "b.toml")
    with pytest.raises(civicscore.PolicyError, match="cycle"):
        civicscore.load(a)
    c = write_policy('[policy]\nid = "c"\nversion = "1"\nextends = "nowhere"\n', "c.toml")
    with pytest.raises(civicscore.PolicyError, match="cannot find the policy 'nowhere'"):
        civicscore.load(c)


def test_bundled_baseline_loads_by_name() -> None:
    policy = civicscore.load("baseline", today=dt.date(2025, 1, 1))
    assert policy.ref.id == "baseline"
    assert policy.volunteer is not None


# --- content hash -----------------------------------------------------------------------


def test_hash_ignores_spelling_but_not_meaning(write_policy) -> None:
    a = civicscore.load(write_policy(MINIMAL + "[volunteer]\nrounding_minutes = 30\n"
                                     "points_decimals = 2\n", "a.toml"))
    b = civicscore.load(write_policy("# comment\n[volunteer]\npoints_decimals = 2\n"
                                     "rounding_minutes = 30\n" + MINIMAL, "b.toml"))
    c = civicscore.load(write_policy(MINIMAL + "[volunteer]\nrounding_minutes = 15\n"
                                     "points_decimals = 2\n", "c.toml"))
    assert a.hash == b.hash != c.hash
    assert len(a.hash) == 64


def test_hash_covers_the_parent(write_policy) -> None:
    write_policy(PARENT, "parent.toml")
    child_text = '[policy]\nid = "c"\nversion = "1"\nextends = "parent"\n'
    h1 = civicscore.load(write_policy(child_text, "c.toml")).hash
    write_policy(PARENT.replace("label = \"巡逻\"", "label = \"治安巡逻\""), "parent.toml")
    h2 = civicscore.load(write_policy(child_text, "c.toml")).hash
    assert h1 != h2


def test_example_policy_loads() -> None:
    policy = civicscore.load(EXAMPLE_POLICY, today=dt.date(2025, 1, 1))
    assert policy.ref.id == "example-district"
    assert not policy.warnings


def test_policy_not_in_effect(load_text) -> None:
    policy = load_text(MINIMAL + "effective = { from = 2025-01-01, to = 2025-12-31 }\n"
                       "[volunteer.activities.a]\npoints_per_hour = 1\n")
    with pytest.raises(civicscore.CivicScoreError, match="is in effect from 2025-01-01"):
        policy.volunteer.evaluate([], as_of=dt.date(2026, 1, 1))


def test_scheme_not_defined(load_text) -> None:
    policy = load_text(MINIMAL)
    with pytest.raises(civicscore.CivicScoreError, match=r"has no \[volunteer\] section"):
        policy.volunteer  # noqa: B018


@pytest.mark.parametrize("name", ["age-oldest", "_secret", "if", '"two words"'])
def test_fact_names_must_be_usable_in_expressions(write_policy, name: str) -> None:
    path = write_policy(MINIMAL + f'[facts.household]\n{name} = {{ type = "int" }}\n')
    with pytest.raises(civicscore.PolicyError) as e:
        civicscore.load(path)
    assert "cannot be used in expressions" in str(e.value)
    assert e.value.problems[0].line == 5


def test_rules_merged_by_id_are_located_in_the_file_that_wrote_them(write_policy) -> None:
    """Item 3 of the merged multipliers is item 0 of the child: errors must say so."""
    write_policy(PARENT, "parent.toml")
    child = write_policy("""
    [policy]
    id = "child"
    version = "1"
    extends = "parent"

    [[volunteer.multipliers]]
    id = "weekend"
    when = "weekday(date) >= sixx"
    factor = 1.5
    """, "child.toml")
    with pytest.raises(civicscore.PolicyError) as e:
        civicscore.load(child)
    (p,) = e.value.problems
    assert (p.file, p.line) == (str(child), 8)
    assert p.col == len('when = "weekday(date) >= ') + 1


def test_installed_name_wins_over_a_stray_file_of_that_name(write_policy) -> None:
    write_policy('[policy]\nid = "stray"\nversion = "1"\n', "baseline.toml")
    child = write_policy('[policy]\nid = "c"\nversion = "1"\nextends = "baseline"\n', "c.toml")
    assert civicscore.load(child).model.volunteer is not None  # the installed baseline
    local = write_policy('[policy]\nid = "c"\nversion = "1"\nextends = "./baseline.toml"\n',
                         "d.toml")
    assert civicscore.load(local).model.volunteer is None  # the file, asked for as a path


def test_calendar_can_be_switched_off(load_text) -> None:
    policy = load_text(MINIMAL + '[calendar]\ncountry = "none"\n')
    assert not policy.calendar(dt.date(2025, 10, 1))


def test_bad_identifier_message_is_readable(write_policy) -> None:
    path = write_policy('[policy]\nid = "my policy"\nversion = "1"\n')
    with pytest.raises(civicscore.PolicyError) as e:
        civicscore.load(path)
    assert "text 'my policy' is not a valid identifier" in str(e.value)


@pytest.mark.parametrize("name,label", [("is_muslim", ""), ("x", "穆斯林"), ("y", "汉族户"),
                                        ("gay_household", ""), ("z", "共青团员")])
def test_more_protected_terms(write_policy, name: str, label: str) -> None:
    path = write_policy(MINIMAL + f'[facts.household]\n{name} = {{ type = "bool", '
                                  f'label = "{label}" }}\n')
    with pytest.raises(civicscore.PolicyError, match="protected characteristic"):
        civicscore.load(path)


@pytest.mark.parametrize("second", ['"20250101"', '"2025-W01-3"'])
def test_dated_value_written_twice_for_one_day_is_refused(write_policy, second: str) -> None:
    path = write_policy(MINIMAL + '[volunteer.activities.a]\n'
                                  f'points_per_hour = {{ 2025-01-01 = 2, {second} = 3 }}\n')
    with pytest.raises(civicscore.PolicyError) as e:
        civicscore.load(path)
    (p,) = e.value.problems
    assert (p.line, p.col) == (5, 19)  # the value of points_per_hour
    assert "the day 2025-01-01 has two values" in p.message
    assert "keep one of them, written as 2025-01-01 = value" in p.message


RECORD_FIELD_POLICIES = {
    "volunteer": ("activity", "record_id", '[volunteer.activities.a]\npoints_per_hour = 1\n'),
    "visits": ("household", "household_id",
               '[visits]\ndefault_tier = "r"\n[[visits.tiers]]\nid = "r"\ncadence = "P1M"\n'),
    "civility": ("household", "revoked_on",
                 '[civility]\n[[civility.stars]]\nid = "s"\nwhen = "True"\n'),
}


@pytest.mark.parametrize("scheme", sorted(RECORD_FIELD_POLICIES))
def test_fact_named_like_a_record_field_is_refused_with_a_fix(write_policy,
                                                              scheme: str) -> None:
    entity, name, section = RECORD_FIELD_POLICIES[scheme]
    path = write_policy(MINIMAL + f'[facts.{entity}]\n{name} = {{ type = "string", '
                                  f'default = "" }}\n' + section)
    with pytest.raises(civicscore.PolicyError) as e:
        civicscore.load(path)
    (p,) = e.value.problems  # once, even where the scheme checks it in its own words
    assert (p.line, p.col) == (5, 1) and p.path == f"facts.{entity}.{name}"
    assert f"fact name {name!r}" in p.message and p.hint


def test_record_fields_come_from_the_registry() -> None:
    from civicscore.plugins import registry

    specs = registry(entry_points=False).scheme_specs()
    assert "record_id" in specs["volunteer"].record_fields
    assert specs["visits"].record_fields[0] == "household_id"
    assert specs["appraisal"].record_fields == ("subject_id",)


def test_unknown_scheme_suggests_a_registered_one(load_text) -> None:
    policy = load_text(MINIMAL)
    with pytest.raises(civicscore.CivicScoreError, match="did you mean 'visits'"):
        policy.scheme("vists")
