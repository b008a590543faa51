"""``check --strict``: a policy with warnings fails, for CI (issue 13).

A tier placed after one that takes all its households never fires; ``check`` says
so as a warning and exits 0. Under ``--strict`` the same warning is a refusal,
printed as a problem, with exit 1, in text and in JSON.
"""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner, Result

from civicscore.cli import main

SHADOWED = """
[policy]
id = "strict"
version = "1"
extends = "karamay"

[[visits.tiers]]
id = "never"
cadence = "weekly"
when = "age_oldest >= 60 and lives_alone and age_oldest >= 200"
"""


def _run(*args: str) -> Result:
    return CliRunner().invoke(main, ["check", "--no-cache", *args])


def test_strict_refuses_a_policy_with_warnings(tmp_path: Path) -> None:
    path = tmp_path / "strict.toml"
    path.write_text(SHADOWED, encoding="utf-8")
    plain = _run(str(path))
    assert plain.exit_code == 0, plain.output
    assert "warning" in plain.stderr
    strict = _run("--strict", str(path))
    assert strict.exit_code == 1
    assert "--strict refuses a policy with warnings" in strict.stderr
    assert f"{path}:" in strict.stdout  # the warning, located
    as_json = json.loads(_run("--strict", "--format", "json", str(path)).stdout)
    assert as_json["schema"] == "civicscore.check/1" and as_json["ok"] is False
    as_json = as_json["policies"][0]
    assert as_json["ok"] is False and as_json["warnings"]


def test_strict_passes_a_clean_policy() -> None:
    r = _run("--strict", "karamay")
    assert r.exit_code == 0, r.output


def test_a_parents_review_date_binds_its_children(tmp_path: Path) -> None:
    """A parent past its ``review_by`` warns in every policy that extends it, at the
    child's ``extends`` (a child decides by the parent's rules too)."""
    (tmp_path / "parent.toml").write_text(
        '[policy]\nid = "parent"\nversion = "1"\nextends = "karamay"\n'
        'review_by = 2021-01-01\n', encoding="utf-8")
    child = tmp_path / "child.toml"
    child.write_text('[policy]\nid = "child"\nversion = "1"\nextends = "parent.toml"\n',
                     encoding="utf-8")
    r = _run("--lang", "en", str(child))
    assert r.exit_code == 0, r.output
    assert (f"{child}:4:11: warning: this policy extends 'parent', which was due for review "
            f"on 2021-01-01") in r.stderr
    assert _run("--strict", str(child)).exit_code == 1


def test_check_reads_a_policy_from_standard_input() -> None:
    """``check -`` reads the policy's text from standard input (an editor's unsaved
    draft): its problems are located in ``<stdin>``, and it may extend by name."""
    draft = ('[policy]\nid = "draft"\nversion = "1"\nextends = "karamay"\n\n'
             '[[visits.tiers]]\nid = "x"\ncadence = "montly"\nwhen = "age_oldest > 100"\n')
    r = CliRunner().invoke(main, ["check", "--lang", "en", "-"], input=draft)
    assert r.exit_code == 1
    assert "<stdin>:8:11: 'montly' is not a cadence" in r.stdout
    r = CliRunner().invoke(main, ["check", "--lang", "en", "-"],
                           input=draft.replace("montly", "monthly"))
    assert r.exit_code == 0, r.output
    assert r.stdout.startswith("ok: -: draft 1")


NEVER = """
[policy]
id = "never"
version = "1"
extends = "karamay"

[[civility.stars]]
id = "impossible"
when = "meetings_attended > 5 and meetings_attended < 2"

[[volunteer.multipliers]]
id = "never"
when = "hours > 3 and hours < 1"
factor = 2

[[appraisal.vetoes]]
id = "never"
when = "privacy_breaches > 3 and privacy_breaches < 1"
"""


def test_a_rule_that_can_never_apply_warns_in_every_scheme(tmp_path: Path) -> None:
    """Stars, multipliers and vetoes are analysed as visit tiers are: a condition that
    holds for no record warns at its line (and --strict refuses it)."""
    path = tmp_path / "never.toml"
    path.write_text(NEVER, encoding="utf-8")
    r = _run("--lang", "en", str(path))
    assert r.exit_code == 0, r.output
    for line, what in ((9, "civility star 'impossible'"), (13, "multiplier 'never'"),
                       (18, "veto 'never'")):
        assert f"{path}:{line}:8: warning: {what} can never apply" in r.stderr, r.stderr
    assert _run("--strict", str(path)).exit_code == 1
