"""Care-need facts are refused in civility, volunteer and appraisal rules (issue 11, item 1).

Care is given by need, in visit tiers; it is never earned or lost. A household
appraisal that read ``disabled`` could cut a disabled household's total from
100 to 50, a volunteer multiplier could pay less for a disabled volunteer's
hour. So every rule that compiles through the policy's common scope (civility
stars, volunteer multipliers, appraisal indicators, raters and vetoes) refuses a
fact that is a care need (``care_need = true`` or a concept), at load, at the
name in the rule, saying what was expected and how to fix it. The same fact
read by a visit tier still loads.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from click.testing import CliRunner

import civicscore
from civicscore.cli import main

POLICY = """[policy]
id = "care-elsewhere"
version = "1"

[facts.household]
disabled = { type = "bool", default = false, concept = "disability", label = "持证残疾人" }
ability = { type = "decimal", default = 0, min = 0, max = 4, concept = "ability_level" }
frail = { type = "bool", default = false, care_need = true }
law_violations = { type = "int", min = 0, default = 0 }
tidy = { type = "decimal", min = 0, max = 100, default = 100 }

[facts.activity]
volunteer_disabled = { type = "bool", default = false, concept = "disability" }
team = { type = "bool", default = false }

[civility]
entity = "household"

[[civility.stars]]
id = "law"
when = "{civility}"

[[civility.titles]]
min_stars = 1
label = "文明户"

[volunteer]

[volunteer.activities.cleanup]
points_per_hour = 2

[[volunteer.multipliers]]
id = "team"
when = "{volunteer}"
factor = 1.5

[appraisal]
entity = "household"

[[appraisal.indicators]]
id = "tidy"
weight = 1
{indicator}
normalise = { method = "none" }

[[appraisal.grades]]
id = "good"
min_score = 60

[[appraisal.grades]]
id = "poor"
min_score = 0

[[appraisal.vetoes]]
id = "violations"
when = "{veto}"

[visits]
default_tier = "routine"

[[visits.tiers]]
id = "weekly"
cadence = "weekly"
when = "disabled or ability >= 3"

[[visits.tiers]]
id = "routine"
cadence = "monthly"
"""

LAWFUL = {"civility": "law_violations == 0", "volunteer": "team",
          "indicator": 'value = "tidy"', "veto": "law_violations > 2"}


def policy(**parts: str) -> str:
    text = POLICY
    for key, value in {**LAWFUL, **parts}.items():
        text = text.replace("{" + key + "}", value)
    return text


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "care-elsewhere.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_visit_tiers_read_the_care_needs_the_other_schemes_do_not(tmp_path: Path) -> None:
    loaded = civicscore.load(write(tmp_path, policy()))
    assert set(loaded.schemes) >= {"civility", "volunteer", "appraisal", "visits"}
    d = loaded.visits.evaluate({"household_id": "h1", "disabled": True},
                               as_of=dt.date(2025, 12, 31))
    assert d.tier == "weekly"


# (the part replaced, what it becomes, the rule as messages name it, the fact, the text
# of the fact's care need in the message)
ATTEMPTS = [
    ("civility", "law_violations == 0 and not disabled", "civility star 'law'", "disabled",
     "concept 'disability', 残疾 / Disability"),
    ("volunteer", "team and not volunteer_disabled", "multiplier 'team'",
     "volunteer_disabled", "concept 'disability', 残疾 / Disability"),
    ("indicator", 'value = "50 if disabled else tidy"', "indicator 'tidy'", "disabled",
     "concept 'disability', 残疾 / Disability"),
    ("indicator", 'value = "tidy - ability * 10"', "indicator 'tidy'", "ability",
     "concept 'ability_level', 老年人能力等级 / Older person's ability level"),
    ("veto", "law_violations > 2 or frail", "veto 'violations'", "frail",
     "marked care_need = true"),
]


@pytest.mark.parametrize(("part", "rule", "where", "fact", "need"), ATTEMPTS,
                         ids=[f"{a[0]}-{a[3]}" for a in ATTEMPTS])
def test_a_rule_outside_visits_reading_a_care_need_is_refused_where_it_reads_it(
        tmp_path: Path, part: str, rule: str, where: str, fact: str, need: str) -> None:
    text = policy(**{part: rule})
    path = write(tmp_path, text)
    with pytest.raises(civicscore.PolicyError) as e:
        civicscore.load(path)
    (p,) = e.value.problems
    line_no = next(i for i, line in enumerate(text.splitlines(), 1) if rule in line)
    line = text.splitlines()[line_no - 1]
    # the column of the care fact's name inside the rule, as the officer counts it
    col = line.index(rule) + rule.index(fact) + 1
    assert (p.file, p.line, p.col) == (str(path), line_no, col), p
    assert p.message.startswith(f"{where} may not read {fact!r}: it is a care need ({need}); "
                                f"expected: a fact about what the rule recognises"), p.message
    assert "照护按需给予，不因积分、星级或考核增减" in p.message
    assert f"fix: remove {fact!r} from this rule" in p.message
    assert f"a visit tier in [visits] that reads {fact!r}" in p.message


def test_an_appraisal_rater_that_is_a_care_need_is_refused_at_its_key(tmp_path: Path) -> None:
    text = policy(indicator="raters = { tidy = 1, ability = 1 }")
    path = write(tmp_path, text)
    with pytest.raises(civicscore.PolicyError) as e:
        civicscore.load(path)
    (p,) = e.value.problems
    line_no = next(i for i, line in enumerate(text.splitlines(), 1) if "raters =" in line)
    assert (p.line, p.col) == (line_no, text.splitlines()[line_no - 1].index("ability") + 1)
    assert p.path == "appraisal.indicators[0].raters.ability"
    assert p.message.startswith("indicator 'tidy' may not read 'ability': it is a care need "
                                "(concept 'ability_level'")
    assert "fix: remove 'ability' from this rule" in p.message


def test_check_says_it_in_the_officers_language(tmp_path: Path) -> None:
    path = write(tmp_path, policy(indicator='value = "50 if disabled else tidy"'))
    runner = CliRunner()
    zh = runner.invoke(main, ["--lang", "zh", "check", str(path)])
    en = runner.invoke(main, ["check", str(path)])
    assert zh.exit_code == en.exit_code == 1
    line = next(i for i, t in enumerate(path.read_text().splitlines(), 1) if "50 if" in t)
    assert f"{path} 第 {line} 行第 16 列：这里不能读取 'disabled'：它是照护需求" in zh.output
    assert "照护按需给予" in zh.output and "共 1 处问题" in zh.output
    assert f"{path}:{line}:16: indicator 'tidy' may not read 'disabled'" in en.output


@pytest.mark.parametrize("scheme", ["appraisal", "civility"])
def test_care_need_columns_are_not_read_by_the_other_schemes(tmp_path: Path,
                                                             scheme: str) -> None:
    """Data minimisation: a scheme that may not read a care need does not read its column at
    all, so a household's disability neither rejects its record (a value out of range, a
    word where a number is due) nor reaches the output, on either engine."""
    import polars as pl

    loaded = civicscore.load(write(tmp_path, policy()))
    key = "subject_id" if scheme == "appraisal" else "household_id"
    records = [{key: "h1", "tidy": 80, "law_violations": 0, "disabled": "unknown",
                "ability": 9, "frail": "perhaps"},
               {key: "h2", "tidy": 40, "law_violations": 0, "disabled": True,
                "ability": 2.5, "frail": False}]
    as_of = dt.date(2025, 12, 31)
    per_record = loaded.schemes[scheme].decide_many(records, as_of=as_of)
    rows = [d.to_row() for d in per_record.decisions]
    assert [r["status"] for r in rows] == ["scored", "scored"]
    frame = pl.DataFrame({k: [str(r[k]) for r in records] for k in records[0]})
    batch = loaded.schemes[scheme].batch(frame, as_of=as_of)
    assert batch.output["status"].to_list() == ["scored", "scored"]
    for shown in (set(rows[0]), set(batch.output.columns)):
        assert not shown & {"disabled", "ability", "frail"}
    text = repr(rows) + repr(batch.output.to_dicts())
    assert "unknown" not in text and "perhaps" not in text


def test_a_volunteers_care_need_column_is_not_read(tmp_path: Path) -> None:
    import polars as pl

    loaded = civicscore.load(write(tmp_path, policy()))
    record = {"record_id": "r1", "volunteer_id": "v1", "activity": "cleanup",
              "start": "2025-12-01T09:00:00", "end": "2025-12-01T11:00:00",
              "submitted_at": "2025-12-01T12:00:00", "confirmed": "true", "team": "false",
              "volunteer_disabled": "perhaps"}
    as_of = dt.date(2025, 12, 31)
    run = loaded.volunteer.decide_many([record], as_of=as_of)
    rows = [*run.output_rows(), *run.detail_rows()]
    batch = loaded.volunteer.batch(pl.DataFrame({k: [v] for k, v in record.items()}),
                                   as_of=as_of)
    frames = [batch.output, batch.details]
    assert [r.status for r in run.records] == ["scored"]
    assert batch.details["status"].to_list() == ["scored"]
    for shown in [*map(set, rows), *(set(f.columns) for f in frames)]:
        assert "volunteer_disabled" not in shown
    assert "perhaps" not in repr(rows) + repr([f.to_dicts() for f in frames])
