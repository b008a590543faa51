"""``civicscore impact``: who a policy change affects, exactly, and nothing else."""

from __future__ import annotations

import csv
import datetime as dt
import json
import os
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

import civicscore
from civicscore.cli import main
from civicscore.impact import REPORT_SCHEMA, compare, to_json
from civicscore.io import read_records
from civicscore.report.impact_page import impact_html, impact_markdown

from .conftest import AS_OF, EXAMPLE_POLICY, EXAMPLES
from .test_render import assert_static

ENGINE = civicscore.Engine()
INPUTS = {"volunteer": "volunteer-activities.csv", "civility": "civility-households.csv",
          "visits": "visits-households.csv", "appraisal": "appraisal-subjects.csv"}


def records(scheme: str) -> list[Any]:
    return list(read_records(EXAMPLES / INPUTS[scheme]))


def child(tmp_path: Path, body: str, overrides: list[str], name: str = "new.toml") -> Path:
    """A policy that extends the baseline and changes what ``body`` says."""
    path = tmp_path / name
    path.write_text(f'[policy]\nid = "new"\nversion = "2"\nextends = "baseline"\n'
                    f'overrides = {json.dumps(overrides)}\n{body}', encoding="utf-8")
    return path


def rows_conserved(report: dict[str, Any]) -> None:
    for side in ("old", "new"):
        s = report[side]
        assert s["rows_in"] == s["scored"] + s["rejected"]


@pytest.mark.parametrize("scheme", sorted(INPUTS))
def test_a_policy_against_itself_changes_nothing(scheme: str) -> None:
    policy = ENGINE.load(EXAMPLE_POLICY)
    extra = {"redemptions": list(read_records(EXAMPLES / "redemptions.csv"))} \
        if scheme == "volunteer" else {}
    report = compare(policy, ENGINE.load(EXAMPLE_POLICY), scheme, records(scheme),
                     as_of=AS_OF, extra=extra)
    assert report["changed"] == 0 and report["rows"] == [] and report["causes"] == []
    assert report["policy_changes"] == []
    assert all(f["changed"] == 0 for f in report["fields"].values())
    assert all(k.split("->")[0] == k.split("->")[1] for k in report["status"])
    assert report["rejections"]["newly_rejected"] == []
    rows_conserved(report)
    assert report["old"]["rejected"] > 0  # the examples have bad rows: counted, both sides
    assert report["compared"] == sum(report["status"].values())


def test_one_threshold_changes_exactly_the_rows_it_should(tmp_path: Path) -> None:
    new = ENGINE.load(child(tmp_path, '[[civility.stars]]\nid = "clean_home"\n'
                                      'when = "hygiene_inspections_passed >= 8"\n',
                            ["civility.stars.clean_home.when"]))
    old = ENGINE.load("baseline")
    report = compare(old, new, "civility", records("civility"), as_of=AS_OF)
    # by hand from the file: the scored households with 8 or 9 inspections passed
    with (EXAMPLES / INPUTS["civility"]).open(encoding="utf-8") as f:
        hygiene = {i: int(r["hygiene_inspections_passed"])
                   for i, r in enumerate(csv.DictReader(f), start=1)}
    before = {r["row"]: r for r in old.civility.run(records("civility"), as_of=AS_OF)
              .output_rows()}
    expected = sorted(i for i, n in hygiene.items()
                      if n in (8, 9) and before[i]["status"] == "scored")
    assert expected  # the example has such households
    assert sorted(r["key"] for r in report["rows"]) == expected
    for r in report["rows"]:
        old_stars, new_stars = r["changes"]["stars"]
        assert new_stars == old_stars + 1
        assert "clean_home" in r["changes"]["stars_met"][1]
        assert r["rules"] == ["civility.stars.clean_home"]  # the star gained names the rule
        assert r["causes"] in (["TITLE"], ["NO_TITLE"])  # the sentence on the stars changed
    assert report["rules"] == [{"rule": "civility.stars.clean_home", "count": len(expected),
                                "share": 1.0, "changed_in_policy": True}]
    stars = report["fields"]["stars"]
    assert stars["changed"] == len(expected)
    assert stars["delta"] == {"up": len(expected), "down": 0, "sum": len(expected),
                              "mean": 1.0, "min": 1.0, "max": 1.0}
    assert report["policy_changes"] == [{
        "path": "civility.stars.clean_home.when", "kind": "changed",
        "old": "hygiene_inspections_passed >= 10", "new": "hygiene_inspections_passed >= 8"}]
    rows_conserved(report)


def test_a_grade_threshold_moves_exactly_the_totals_between_the_old_and_new_bounds(
        tmp_path: Path) -> None:
    new = ENGINE.load(child(tmp_path, '[[appraisal.grades]]\nid = "good"\nmin_score = 85\n',
                            ["appraisal.grades.good.min_score"]))
    old = ENGINE.load("baseline")
    report = compare(old, new, "appraisal", records("appraisal"), as_of=AS_OF)
    totals = {r["row"]: r for r in old.appraisal.run(records("appraisal"), as_of=AS_OF)
              .output_rows() if r["status"] == "scored"}
    expected = sorted(i for i, r in totals.items()
                      if 80 <= r["total"] < 85 and r["computed_grade"] == "good")
    assert expected
    moved = {r["key"]: r for r in report["rows"]}
    assert sorted(k for k, r in moved.items() if "computed_grade" in r["changes"]) == expected
    for k in expected:
        assert moved[k]["changes"]["computed_grade"] == ["good", "pass"]
        assert "GRADE" in moved[k]["causes"]
        assert {"appraisal.grades.good", "appraisal.grades.pass"} <= set(moved[k]["rules"])
    assert {"rule": "appraisal.grades.good", "count": len(moved), "share": 1.0,
            "changed_in_policy": True} in report["rules"]
    transitions = report["fields"]["computed_grade"]["transitions"]
    assert transitions == [{"old": "good", "new": "pass", "count": len(expected)}]


def test_visits_caseload_and_breakdown_by_liaison_before_and_after() -> None:
    old, new = ENGINE.load("baseline"), ENGINE.load(EXAMPLE_POLICY)
    report = compare(old, new, "visits", records("visits"), as_of=AS_OF)
    assert report["fields"]["cadence"]["transitions"][0]["old"] == "quarterly"
    assert report["fields"]["cadence"]["transitions"][0]["new"] == "bimonthly"
    liaisons = {c["liaison_id"]: c for c in report["caseload"]}
    assert "G01" in liaisons
    run = {r["liaison_id"]: r for r in new.visits.run(records("visits"), as_of=AS_OF)
           .detail_rows()}
    assert liaisons["G01"]["after"]["visits_per_month"] == float(
        run["G01"]["visits_per_month"])
    groups = report["groups"]["liaison_id"]
    assert sum(g["rows"] for g in groups) == report["compared"]
    assert sum(g["changed"] for g in groups) == report["changed"]
    paths = {c["path"] for c in report["policy_changes"]}
    assert {"visits.tiers.routine.cadence", "visits.max_interval"} <= paths
    # only what can change this scheme's decisions: the district's volunteer rules are not
    assert all(p.startswith(("visits.", "facts.household.", "calendar.")) for p in paths)


def test_disparity_column_never_reaches_a_rule_and_small_groups_are_pooled(
        tmp_path: Path) -> None:
    old, new = ENGINE.load("baseline"), ENGINE.load(EXAMPLE_POLICY)
    rows = records("visits")
    zones = ["north"] * 8 + ["south"] * 8 + ["east"] * (len(rows) - 16)
    tagged = [({**r, "zone": z} if isinstance(r, dict) else r) for r, z in
              zip(rows, zones, strict=True)]
    plain = compare(old, new, "visits", rows, as_of=AS_OF)
    report = compare(old, new, "visits", tagged, as_of=AS_OF, by=["zone"], min_group=6)
    assert report["rows"] == plain["rows"]  # the column changed no decision
    check = report["disparity"]["zone"]
    names = [g["value"] for g in check["groups"]]
    assert names[:2] == ["north", "south"] and names[2].startswith("(groups under 6")
    assert sum(g["rows"] for g in check["groups"]) == report["compared"]
    assert sum(g["changed"] for g in check["groups"]) == report["changed"]
    for g in check["groups"]:
        assert g["share"] == round(g["changed"] / g["rows"], 6)
        flagged = g["ratio_to_rest"] is not None and not 0.8 <= g["ratio_to_rest"] <= 1.25
        if not g["value"].startswith("(groups"):
            assert (g["value"] in check["flagged"]) == (flagged and g["changed"] > 0)
    assert "zone" not in json.dumps(report["rows"])  # no one's group is listed


def test_disparity_on_a_column_the_rules_read_is_refused() -> None:
    old, new = ENGINE.load("baseline"), ENGINE.load(EXAMPLE_POLICY)
    for column in ("age_oldest", "liaison_id"):
        with pytest.raises(civicscore.UsageError, match="never read"):
            compare(old, new, "visits", records("visits"), as_of=AS_OF, by=[column])


def test_volunteer_statements_are_matched_by_volunteer() -> None:
    old, new = ENGINE.load("baseline"), ENGINE.load(EXAMPLE_POLICY)
    extra = {"redemptions": list(read_records(EXAMPLES / "redemptions.csv"))}
    report = compare(old, new, "volunteer", records("volunteer"), as_of=AS_OF, extra=extra)
    assert {r["id"] for r in report["rows"]} <= {f"V0{i}" for i in range(1, 10)}
    assert report["fields"]["balance"]["changed"] == report["fields"]["earned"]["changed"] > 0
    rows_conserved(report)
    before = report["old"]["rejected_other_inputs"].get("redemptions", 0)
    bad = [*extra["redemptions"], {"redemption_id": "R9", "volunteer_id": "V01",
                                   "date": "2025-11-01", "points": -3}]
    again = compare(old, new, "volunteer", records("volunteer"), as_of=AS_OF,
                    extra={"redemptions": bad})
    assert again["old"]["rejected_other_inputs"]["redemptions"] == before + 1
    # rows the baseline rejects (its 8-hour day cap is not the district's 6) are named
    rej = report["rejections"]
    assert report["old"]["rejected"] - report["new"]["rejected"] == \
        len(rej["no_longer_rejected"]) - len(rej["newly_rejected"])


TOP_KEYS = {"schema", "scheme", "as_of", "noun", "old", "new", "policy_changes", "compared",
            "changed", "share_changed", "status", "rejections", "fields", "causes", "rules", "groups",
            "disparity", "caseload", "rows"}


def test_the_json_report_keeps_its_shape() -> None:
    old, new = ENGINE.load("baseline"), ENGINE.load(EXAMPLE_POLICY)
    rows = [({**r, "zone": "a" if i % 2 else "b"} if isinstance(r, dict) else r)
            for i, r in enumerate(records("visits"))]
    report = json.loads(to_json(compare(old, new, "visits", rows, as_of=AS_OF, by=["zone"],
                                        min_group=1)))
    assert report["schema"] == REPORT_SCHEMA == "civicscore.impact/1"
    assert set(report) == TOP_KEYS
    assert set(report["old"]) == {"policy", "rows_in", "scored", "rejected",
                                  "rejected_other_inputs"}
    assert set(report["old"]["policy"]) == {"id", "version", "hash", "source"}
    assert set(report["rejections"]) == {"newly_rejected", "no_longer_rejected",
                                         "rejected_both"}
    for f in report["fields"].values():
        assert set(f) <= {"changed", "share", "transitions", "delta"}
        for t in f["transitions"]:
            assert set(t) == {"old", "new", "count"}
    assert set(report["fields"]["next_due"]["delta"]) == {"up", "down", "sum", "mean", "min",
                                                          "max"}
    for c in report["causes"]:
        assert set(c) == {"code", "count", "share"}
    for r in report["rows"]:
        assert set(r) == {"key", "id", "status", "changes", "causes", "rules", "reasons"}
        assert set(r["reasons"]) == {"old", "new"}
    for r in report["rules"]:
        assert set(r) == {"rule", "count", "share", "changed_in_policy"}
    assert set(report["disparity"]["zone"]) == {"column", "overall_share", "groups",
                                                "flagged", "ratio_band", "min_group"}
    for g in report["disparity"]["zone"]["groups"]:
        assert set(g) == {"value", "rows", "changed", "share", "ratio_to_rest", "mean_delta"}
    for c in report["caseload"]:
        assert set(c) == {"liaison_id", "before", "after"}


def test_the_html_report_is_static_and_escapes_what_policies_and_records_say(
        tmp_path: Path) -> None:
    new = ENGINE.load(child(tmp_path, '[[visits.tiers]]\nid = "routine"\n'
                                      'label = "<script>alert(1)</script>"\ncadence = "monthly"\n',
                            ["visits.tiers.routine.label", "visits.tiers.routine.cadence"]))
    rows = [({**r, "household_id": "<img src=x onerror=alert(2)>"} if i == 3 else r)
            for i, r in enumerate(records("visits"))]
    report = compare(ENGINE.load("baseline"), new, "visits", rows, as_of=AS_OF)
    assert report["changed"] > 0
    text = impact_html(report)
    assert_static(text)
    assert "<script" not in text and "<img" not in text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in text
    assert text.count("<svg") >= 2
    md = impact_markdown(report)
    assert "<script" not in md and "<img" not in md


def test_a_plugin_scheme_is_compared_like_a_built_in_one(tmp_path: Path) -> None:
    from .test_plugins import GREETING_POLICY, greeting_plugin

    engine = civicscore.Engine(plugins=[greeting_plugin()], entry_points=False)
    path = tmp_path / "greetings.toml"
    path.write_text(GREETING_POLICY, encoding="utf-8")
    changed = tmp_path / "later.toml"
    changed.write_text(GREETING_POLICY.replace('when = "age >= 80"', 'when = "age >= 90"'),
                       encoding="utf-8")
    people = [{"household_id": "h1", "age": 83}, {"household_id": "h2", "age": 95},
              {"household_id": "h3", "age": "old"}]
    same = compare(engine.load(path), engine.load(path), "greeting", people,
                   as_of=dt.date(2025, 12, 31))
    assert same["changed"] == 0
    report = compare(engine.load(path), engine.load(changed), "greeting", people,
                     as_of=dt.date(2025, 12, 31))
    assert [r["id"] for r in report["rows"]] == ["h1"]
    assert report["rows"][0]["changes"]["card"] == ["生日快乐", None]
    assert report["old"]["rejected"] == report["new"]["rejected"] == 1


def _cli(*args: object) -> Any:
    result = CliRunner().invoke(main, [str(a) for a in args])
    assert "Traceback" not in result.output + result.stderr
    return result


def test_cli_impact_writes_json_and_html(tmp_path: Path) -> None:
    out_json, out_html = tmp_path / "impact.json", tmp_path / "impact.html"
    r = _cli("impact", "baseline", EXAMPLE_POLICY, EXAMPLES / INPUTS["volunteer"],
             "--scheme", "volunteer", "--as-of", "2025-12-31",
             "--with", f"redemptions={EXAMPLES / 'redemptions.csv'}",
             "--json", out_json, "--html", out_html)
    assert r.exit_code == 0, r.output + r.stderr
    report = json.loads(out_json.read_text(encoding="utf-8"))
    assert set(report) == TOP_KEYS
    assert f"{report['changed']} of {report['compared']}" in r.stdout
    assert "OLD baseline 2025.1: 18 rows in" in r.stderr
    assert out_html.read_text(encoding="utf-8").startswith("<!DOCTYPE html>")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["impact.html", "impact.json"]
    mask = os.umask(0)
    os.umask(mask)
    assert out_html.stat().st_mode & 0o777 == 0o666 & ~mask  # as any new file, not private


def test_cli_impact_redemptions_is_short_for_with(tmp_path: Path) -> None:
    written = []
    for option in (["--with", f"redemptions={EXAMPLES / 'redemptions.csv'}"],
                   ["--redemptions", EXAMPLES / "redemptions.csv"]):
        out = tmp_path / f"{option[0].strip('-')}.json"
        r = _cli("impact", "baseline", EXAMPLE_POLICY, EXAMPLES / INPUTS["volunteer"],
                 "--scheme", "volunteer", "--as-of", "2025-12-31", *option, "--json", out)
        assert r.exit_code == 0, r.output + r.stderr
        written.append(json.loads(out.read_text(encoding="utf-8")))
    assert written[0] == written[1]
    r = _cli("impact", "baseline", EXAMPLE_POLICY, EXAMPLES / INPUTS["volunteer"],
             "--scheme", "volunteer", "--as-of", "2025-12-31", "--redemptions",
             EXAMPLES / "redemptions.csv", "--with", f"redemptions={EXAMPLES / 'x.csv'}")
    assert r.exit_code == 2 and "redemptions is given twice" in r.stderr


def test_cli_impact_mistakes_are_for_people(tmp_path: Path) -> None:
    base = ("impact", "baseline", EXAMPLE_POLICY, EXAMPLES / INPUTS["visits"], "--as-of",
            "2025-12-31")
    r = _cli(*base, "--scheme", "visitz")
    assert r.exit_code == 2 and "did you mean 'visits'" in r.stderr
    r = _cli(*base, "--scheme", "visits", "--with", "redemptions=x.csv")
    assert r.exit_code == 2 and "takes no extra inputs" in r.stderr
    assert "redemptions is an input of volunteer" in r.stderr  # as score says it
    r = _cli(*base, "--scheme", "visits", "--redemptions", "x.csv")
    assert r.exit_code == 2 and "--redemptions: scheme visits takes no extra" in r.stderr
    r = _cli(*base, "--scheme", "visits", "--with", "redemptions")
    assert r.exit_code == 2 and "write NAME=FILE" in r.stderr
    out = tmp_path / "i.json"
    r = _cli(*base, "--scheme", "visits", "--by", "age_oldest", "--json", out)
    assert r.exit_code == 2 and "never read" in r.stderr and not out.exists()
    r = _cli("impact", "baseline", EXAMPLE_POLICY, tmp_path / "missing.csv", "--scheme",
             "visits", "--as-of", "2025-12-31")
    assert r.exit_code == 2 and "no such file" in r.stderr


def test_the_docs_example_is_what_the_command_prints(tmp_path: Path, monkeypatch) -> None:
    from .conftest import ROOT

    doc = (ROOT / "docs" / "impact.md").read_text(encoding="utf-8")
    policy = doc.split("```toml\n# stricter.toml\n", 1)[1].split("```", 1)[0]
    (tmp_path / "stricter.toml").write_text(policy, encoding="utf-8")
    console = doc.split("```console\n$ civicscore impact", 1)[1].split("```", 1)[0]
    shown = console.splitlines()[2:]
    monkeypatch.chdir(tmp_path)
    r = _cli("impact", "baseline", "stricter.toml", EXAMPLES / INPUTS["civility"], "--scheme",
             "civility", "--as-of", "2025-12-31", "--json", "impact.json")
    assert r.exit_code == 0
    assert r.stderr.splitlines() + r.stdout.splitlines() == shown
    report = json.loads((tmp_path / "impact.json").read_text(encoding="utf-8"))
    assert report["rules"] == [{"rule": "civility.stars.clean_home", "count": 2, "share": 1.0,
                                "changed_in_policy": True}]


def test_rows_the_new_policy_rejects_are_counted_and_named(tmp_path: Path) -> None:
    new = ENGINE.load(child(tmp_path, '[facts.household]\nhas_carer = { type = "bool", '
                                      'care_need = true, label = "有照护人" }\n', []))
    old = ENGINE.load("baseline")
    report = compare(old, new, "visits", records("visits"), as_of=AS_OF)
    rows_conserved(report)
    scored_before = report["old"]["scored"]
    assert report["new"]["scored"] == 0  # every record lacks the new required fact
    assert len(report["rejections"]["newly_rejected"]) == scored_before
    assert report["status"]["scored->rejected"] == scored_before
    assert report["changed"] == scored_before
    assert all(r["status"] == ["scored", "rejected"] for r in report["rows"])
    assert {"path": "facts.household.has_carer", "kind": "added", "old": None,
            "new": {"type": "bool", "care_need": True, "label": "有照护人"}} \
        in report["policy_changes"]
