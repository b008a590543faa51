"""``--format json`` on every command: one JSON object per run on stdout, with a stable
``"schema"`` key, exact decimals as text, and errors as ``civicscore.error/1`` objects
with the exit status of the text mode (civicscore.cli_json)."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import click
import pytest
from click.testing import CliRunner

from civicscore.cli import main

ROOT = Path(__file__).resolve().parents[1]
POLICY = str(ROOT / "policies" / "example-district.toml")
EXAMPLES = ROOT / "examples"
ACTIVITIES = str(EXAMPLES / "volunteer-activities.csv")
AS_OF = "2025-12-31"
VOLUNTEER_RECORD = json.dumps({
    "record_id": "A1", "volunteer_id": "V1", "activity": "cleanup",
    "start": "2025-10-01T09:00", "end": "2025-10-01T12:00", "confirmed": True,
    "submitted_at": "2025-10-01T13:00"})

#: Leaf commands that take no ``--format json``, and why.
EXEMPT = {
    "serve": "runs an HTTP server until stopped: it prints no result (its API is JSON)",
}


def leaves(group: click.Group, ctx: click.Context, prefix: str = ""
           ) -> list[tuple[str, click.Command]]:
    out = []
    for name in group.list_commands(ctx):
        command = group.get_command(ctx, name)
        assert command is not None, name
        if isinstance(command, click.Group):
            out += leaves(command, click.Context(command, parent=ctx), f"{prefix}{name} ")
        else:
            out.append((f"{prefix}{name}", command))
    return out


def test_every_leaf_command_accepts_format_json() -> None:
    ctx = click.Context(main, info_name="civicscore")
    found = leaves(main, ctx)
    names = {n for n, _ in found}
    assert {"check", "score", "explain", "ledger post", "ledger export", "verify-log",
            "events", "concepts"} <= names  # the walk reaches the lazy ones and ledger's
    missing = []
    for name, command in found:
        formats = [p for p in command.params if isinstance(p, click.Option)
                   and "--format" in p.opts]
        choices = formats[0].type.choices if formats and isinstance(
            formats[0].type, click.Choice) else ()
        if "json" not in choices and name not in EXEMPT:
            missing.append(name)
    assert not missing, f"no --format json: {missing}"
    assert set(EXEMPT) <= names  # an exemption for a command that went away is stale


def run(*args: object, code: int = 0, stdin: str | None = None) -> dict[str, Any]:
    """Invoke civicscore; stdout must be exactly one JSON object (with a schema key)."""
    r = CliRunner().invoke(main, [str(a) for a in args], input=stdin)
    assert r.exit_code == code, (r.exit_code, r.stdout, r.stderr)
    data = json.loads(r.stdout)  # the whole of stdout is one document
    assert isinstance(data, dict) and isinstance(data["schema"], str), data
    assert "\\u" not in r.stdout  # UTF-8, not escapes
    return data


def no_floats(value: Any) -> None:
    """Exact decimals only: a JSON number with a fraction would be a binary float."""
    if isinstance(value, float):
        raise AssertionError(f"a float in the JSON: {value!r}")
    if isinstance(value, dict):
        for v in value.values():
            no_floats(v)
    if isinstance(value, list):
        for v in value:
            no_floats(v)


def test_check() -> None:
    data = run("check", "--format", "json", POLICY)
    assert data["schema"] == "civicscore.check/1" and data["ok"] is True
    [entry] = data["policies"]
    assert entry["id"] == "example-district" and len(entry["hash"]) == 64


def test_explain_gives_the_sentences_and_the_decision() -> None:
    data = run("explain", POLICY, "--scheme", "volunteer", "--as-of", AS_OF, "--record",
               VOLUNTEER_RECORD, "--format", "json")
    assert data["schema"] == "civicscore.explain/1"
    assert data["policy"]["id"] == "example-district" and data["as_of"] == AS_OF
    decision = data["decision"]
    assert decision["record_id"] == "A1" and decision["status"] == "scored"
    assert Decimal(decision["points"]) == 6  # National Day: 3 h x 1 point x 2
    assert "A1" in data["explanation"]
    no_floats(data)


def test_test_reports_every_case_and_the_coverage() -> None:
    data = run("test", POLICY, "--format", "json")
    assert data["schema"] == "civicscore.test/1" and data["ok"] is True
    [policy] = data["policies"]
    assert data["failed"] == 0 and data["passed"] == policy["passed"] == len(policy["cases"])
    assert all(c["passed"] for c in policy["cases"])
    assert Decimal(policy["coverage"]["percent"]) > 0
    assert policy["coverage"]["covered"] <= policy["coverage"]["rules"]


def test_test_below_the_minimum_coverage_is_not_ok_and_exits_1() -> None:
    r = CliRunner().invoke(main, ["test", POLICY, "--min-coverage", "100", "--format",
                                  "json"])
    assert r.exit_code == 1 and "rule coverage below 100%" in r.stderr  # as in text mode
    data = json.loads(r.stdout)
    assert data["ok"] is False and data["failed"] == 0 and data["min_coverage"] == "100"
    assert data["coverage_below_minimum"] == [POLICY]
    assert data["policies"][0]["coverage_below_minimum"] is True
    assert data["policies"][0]["coverage"]["missing"]


def test_plugins_and_its_json_alias() -> None:
    data = run("plugins", "--format", "json")
    assert data == run("plugins", "--json")
    assert data["schema"] == "civicscore.plugins/1"
    builtin = next(p for p in data["plugins"] if p["name"] == "civicscore")
    assert "baseline" in builtin["policies"]


def test_concepts_and_its_json_alias() -> None:
    data = run("concepts", "--format", "json")
    assert data == run("concepts", "--json")
    assert data["schema"] == "civicscore.concepts/1"
    assert data["id"] == "civicscore-care" and any(c["id"] == "age"
                                                   for c in data["concepts"])


def test_schema_with_and_without_a_file(tmp_path: Path) -> None:
    data = run("schema", "--format", "json")
    assert data["schema"] == "civicscore.schema/1" and data["output"] is None
    assert "properties" in data["json_schema"]
    out = tmp_path / "s.json"
    data = run("schema", "-o", out, "--format", "json")
    assert data["output"] == str(out) and data["json_schema"] is None
    assert "properties" in json.loads(out.read_text(encoding="utf-8"))


def test_new_plugin_lists_what_it_wrote(tmp_path: Path) -> None:
    data = run("new-plugin", "demo", "--dir", tmp_path, "--format", "json")
    assert data["schema"] == "civicscore.new-plugin/1" and data["name"] == "demo"
    assert data["directory"] == str(tmp_path / "civicscore-demo")
    assert "pyproject.toml" in data["files"]


def test_render_prints_the_page_in_an_object(tmp_path: Path) -> None:
    data = run("render", POLICY, "--format", "json")
    assert data["schema"] == "civicscore.render/1" and data["page_format"] == "html"
    assert data["policy"]["id"] == "example-district" and "<html" in data["page"]
    page = tmp_path / "p.html"
    data = run("render", POLICY, "--format", "json", "-o", page)
    assert data["output"] == str(page) and data["page"] is None and page.exists()


def test_assess_prints_the_record_in_an_object() -> None:
    data = run("assess", POLICY, "--lang", "en", "--format", "json")
    assert data["schema"] == "civicscore.assess/1"
    assert data["format"] == "civicscore-assessment/1" and data["lang"] == "en"
    assert data["policy"]["id"] == "example-district" and data["record"].startswith("#")


def test_impact_prints_the_report() -> None:
    data = run("impact", "baseline", POLICY, ACTIVITIES, "--scheme", "volunteer", "--as-of",
               AS_OF, "--format", "json")
    assert data["schema"] == "civicscore.impact/1" and data["scheme"] == "volunteer"
    assert data["new"]["policy"]["id"] == "example-district"
    assert data["changed"] <= data["compared"]
    Decimal(data["share_changed"])  # a share is exact text, not a float
    no_floats(data)
    r = CliRunner().invoke(main, ["impact", "baseline", POLICY, ACTIVITIES, "--scheme",
                                  "volunteer", "--as-of", AS_OF, "--format", "json"])
    assert "NEW example-district" in r.stderr  # the sides' counts, as in text mode


def test_events_prints_the_actions(tmp_path: Path) -> None:
    log = tmp_path / "events.jsonl"
    log.write_text("\n".join(json.dumps(e) for e in [
        {"event_id": "d1", "type": "discharged", "subject_id": "h1",
         "at": "2025-03-01T10:00:00"},
        {"event_id": "bad", "type": "discharge", "subject_id": "h1",
         "at": "2025-03-01T10:00:00"}]) + "\n", encoding="utf-8")
    data = run("events", "baseline", log, "--until", AS_OF, "--format", "json")
    assert data["schema"] == "civicscore.events/1" and data["until"] == AS_OF
    assert [a["action"] for a in data["actions"]] == ["visit_due", "visit_overdue"]
    assert [r["row"] for r in data["rejected"]] == [2]
    assert "1 rejected" in data["summary"]
    r = CliRunner().invoke(main, ["events", "baseline", str(log), "--until", AS_OF,
                                  "--format", "json", "-o", str(tmp_path / "a.jsonl")])
    assert "rejected row 2" in r.stderr and "1 rejected" in r.stderr  # as in text mode
    written = json.loads(r.stdout)
    assert written["actions"] is None and written["output"] == str(tmp_path / "a.jsonl")
    assert len((tmp_path / "a.jsonl").read_text(encoding="utf-8").splitlines()) == 2


@pytest.fixture
def decision_log(tmp_path: Path) -> Path:
    log = tmp_path / "d.jsonl"
    r = CliRunner().invoke(main, ["score", POLICY, "--scheme", "visits",
                                  str(EXAMPLES / "visits-households.csv"), "-o",
                                  str(tmp_path / "o.csv"), "--as-of", AS_OF, "--log",
                                  str(log)])
    assert r.exit_code == 0, r.output
    return log


def first_decision(log: Path) -> dict[str, Any]:
    from civicscore.audit import read_log

    return next(e for e in read_log(log) if e["row"] is not None)


def test_replay_verify_log_and_review(decision_log: Path) -> None:
    data = run("replay", decision_log, "--format", "json")
    assert data["schema"] == "civicscore.replay/1" and data["ok"] is True
    assert data["replayed"] > 0 and data["differences"] == [] and data["skipped"] == []
    assert data["chain"]["status"] == "intact"
    chain = run("verify-log", decision_log, "--format", "json")
    assert chain["schema"] == "civicscore.verify-log/1" and chain["ok"] is True
    assert chain["head"] == data["chain"]["head"] and chain["head"].startswith("sha256:")
    target = first_decision(decision_log)["decision_id"]
    listed = run("review", decision_log, "--format", "json")
    assert listed["schema"] == "civicscore.review/1" and listed["reviews"] == []
    done = run("review", decision_log, target, "override", "--set", "tier=routine", "--by",
               "王芳", "--reason", "家访核实", "--format", "json")
    assert done["action"] == "override" and done["recorded"]["by"] == "王芳"
    assert done["recorded"]["after"] == {"tier": "routine"}
    shown = run("review", decision_log, target, "--format", "json")
    assert shown["decision_id"] == target and shown["reviewed"] is True
    assert [r["reason"] for r in shown["reviews"]] == ["家访核实"]
    assert shown["after_review"] == {"tier": "routine"}
    assert run("review", decision_log, "--format", "json")["reviews"] == shown["reviews"]


def test_a_broken_chain_is_ok_false_with_exit_1(decision_log: Path) -> None:
    lines = decision_log.read_text(encoding="utf-8").splitlines(keepends=True)
    decision_log.write_text("".join(lines[:1] + lines[2:]), encoding="utf-8")
    chain = run("verify-log", decision_log, "--format", "json", code=1)
    assert chain["ok"] is False and chain["status"] == "broken"
    assert chain["broken"]["line"] == 2 and chain["broken"]["zh"]


def test_appeal(decision_log: Path) -> None:
    target = first_decision(decision_log)
    data = run("appeal", decision_log, target["decision_id"], "--set", "age_oldest=91",
               "--format", "json")
    assert data["schema"] == "civicscore.appeal/1" and data["recorded"] is False
    assert data["decision_id"] == target["decision_id"] and data["set"] == {
        "age_oldest": "91"}
    assert data["policy"]["hash"] == target["policy"]["hash"]
    assert isinstance(data["changes"], dict) and data["explanation"]


def test_score_json_is_the_rows_and_its_errors_an_object() -> None:
    r = CliRunner().invoke(main, ["score", POLICY, str(EXAMPLES / "visits-households.csv"),
                                  "--scheme", "visits", "--as-of", AS_OF, "--format",
                                  "json"])
    assert r.exit_code == 0 and isinstance(json.loads(r.stdout), list)  # the results file
    data = run("score", POLICY, "missing.csv", "--scheme", "visits", "--format", "json",
               code=2)
    assert data["schema"] == "civicscore.error/1" and "missing.csv" in data["message"]


def test_the_ledger_commands(tmp_path: Path) -> None:
    db = str(tmp_path / "points.db")
    data = run("ledger", "init", "--db", db, "--format", "json")
    assert data == {"schema": "civicscore.ledger.init/1", "schema_version":
                    data["schema_version"], "created": True, "migrated_from": None}
    data = run("ledger", "migrate", "--db", db, "--format", "json")
    assert data["schema"] == "civicscore.ledger.migrate/1" and data["migrated"] is False
    data = run("ledger", "post", POLICY, ACTIVITIES, "--as-of", AS_OF, "--db", db,
               "--format", "json")
    assert data["schema"] == "civicscore.ledger.post/1" and data["posted"] > 0
    assert data["posted"] == len(data["transfer_ids"]) and data["unchanged"] == 0
    assert data["policy"]["id"] == "example-district"
    assert all(r["reason_codes"] for r in data["rejected"])
    again = run("ledger", "post", POLICY, ACTIVITIES, "--as-of", AS_OF, "--db", db,
                "--format", "json")
    assert again["posted"] == 0 and again["unchanged"] == data["posted"]  # idempotent
    before = run("ledger", "balance", "V01", "--on", "2025-10-10", "--db", db,
                 "--format", "json")
    assert before["schema"] == "civicscore.ledger.balance/1"
    [row] = before["balances"]
    red = run("ledger", "redeem", "V01", "2.5", "--id", "R1", "--on", "2025-10-10", "--db",
              db, "--format", "json")
    assert red["schema"] == "civicscore.ledger.redeem/1"
    assert red["transfer"]["id"] == "redeem:R1" and red["transfer"]["amount"] == "2.5"
    assert Decimal(red["balance"]["balance"]) == Decimal(row["balance"]) - Decimal("2.5")
    adj = run("ledger", "adjust", "V01", "1", "--id", "A1", "--on", "2025-10-11", "--by",
              "li", "--reason", "missed shift", "--db", db, "--format", "json")
    assert adj["transfer"]["id"] == "adjust:A1" and adj["transfer"]["amount"] == "1"
    held = run("ledger", "hold", "V01", "1", "--id", "H1", "--on", "2025-10-12", "--db", db,
               "--format", "json")
    assert held["schema"] == "civicscore.ledger.hold/1" and held["balance"]["held"] == "1"
    cap = run("ledger", "capture", "hold:H1", "--on", "2025-10-12", "--db", db,
              "--format", "json")
    assert cap["schema"] == "civicscore.ledger.capture/1"
    run("ledger", "hold", "V01", "1", "--id", "H2", "--on", "2025-10-12", "--db", db,
        "--format", "json")
    rel = run("ledger", "release", "hold:H2", "--on", "2025-10-12", "--db", db,
              "--format", "json")
    assert rel["schema"] == "civicscore.ledger.release/1"
    rev = run("ledger", "reverse", "adjust:A1", "--on", "2025-10-13", "--by", "li",
              "--reason", "double", "--db", db, "--format", "json")
    assert rev["schema"] == "civicscore.ledger.reverse/1"
    exp = run("ledger", "expire", "--on", "2030-01-01", "--db", db, "--format", "json")
    assert exp["schema"] == "civicscore.ledger.expire/1" and exp["on"] == "2030-01-01"
    assert exp["lots"] == len(exp["transfers"]) > 0
    assert Decimal(exp["points"]) == sum(Decimal(t["amount"]) for t in exp["transfers"])
    st = run("ledger", "statement", "V01", "--on", "2030-01-01", "--db", db, "--format",
             "json")
    assert st["schema"] == "civicscore.ledger.statement/1" and st["volunteer_id"] == "V01"
    assert st["balance"]["balance"] == "0" and "redeem:R1" in [t["id"]
                                                             for t in st["transfers"]]
    ok = run("ledger", "verify", "--db", db, "--format", "json")
    assert ok["schema"] == "civicscore.ledger.verify/1" and ok["ok"] is True
    exported = run("ledger", "export", "--db", db, "--format", "json")
    assert exported["schema"] == "civicscore.ledger.export/1"
    assert len(exported["transfers"]) == ok["transfers"]
    out = tmp_path / "t.json"
    written = run("ledger", "export", "-o", out, "--db", db, "--format", "json")
    assert written["written"] == ok["transfers"] and written["output"] == str(out)
    assert json.loads(out.read_text(encoding="utf-8")) == exported["transfers"]
    for doc in (data, red, exp, st, exported):
        no_floats(doc)
    refused = run("ledger", "redeem", "V01", "10000", "--id", "R2", "--on", "2025-10-10",
                  "--db", db, "--format", "json", code=2)
    assert refused["schema"] == "civicscore.error/1" and refused["code"] == "ledger"
    assert refused["location"]["field"]


# --- errors -----------------------------------------------------------------------------


def test_a_bad_policy_path_is_an_error_object_with_exit_1(tmp_path: Path) -> None:
    for args in (["explain", "nope.toml", "--scheme", "volunteer", "--record", "{}"],
                 ["test", "nope.toml"], ["render", "nope.toml"],
                 ["ledger", "post", "nope.toml", ACTIVITIES, "--as-of", AS_OF, "--db",
                  str(tmp_path / "x.db")]):
        data = run(*args, "--format", "json", code=1)
        assert data["schema"] == "civicscore.error/1", args
        assert data["code"] == "policy_problems"
        assert data["location"]["file"] == "nope.toml" and data["location"]["line"] == 1
        assert "no such policy file" in data["message"] and data["message_zh"]
        assert data["problems"][0]["hint"]


def test_a_policy_with_problems_is_located(tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text('[policy]\nid = "x"\nversion = "1"\ntitel = "t"\n', encoding="utf-8")
    data = run("render", bad, "--format", "json", code=1)
    assert data["location"] == {"file": str(bad), "line": 4, "col": 1,
                                "path": data["location"]["path"]}
    assert "title" in data["problems"][0]["hint"]
    refused = run("assess", bad, "--format", "json", code=1)
    assert refused["code"] == "assessment_refused" and refused["refusal"]


def test_a_bad_record_is_an_error_object_with_exit_2() -> None:
    data = run("explain", POLICY, "--scheme", "volunteer", "--record", "{not json",
               "--format", "json", code=2)
    assert data["schema"] == "civicscore.error/1" and data["code"] == "input"
    assert "--record is not valid JSON" in data["message"]
    data = run("explain", POLICY, "--scheme", "volunteer", "--record", "[1, 2]",
               "--format", "json", code=2)
    assert data["code"] == "input"


def test_an_unreadable_records_file_is_an_error_object_with_exit_2(tmp_path: Path) -> None:
    bad = tmp_path / "households.csv"
    bad.write_bytes(b"household_id,age_oldest\nH1,\xff\xfe\n")
    data = run("score", POLICY, bad, "--scheme", "visits", "--as-of", AS_OF, "--format",
               "json", code=2)
    assert data["code"] == "input" and "not UTF-8" in data["message"]


def test_a_record_the_rules_refuse_is_a_rejected_decision_not_an_error() -> None:
    """As in text mode: explain tells why the record was not scored, exit 0."""
    data = run("explain", POLICY, "--scheme", "visits", "--as-of", AS_OF, "--record",
               '{"household_id": "H1", "age_oldest": "abc"}', "--format", "json")
    assert data["decision"]["status"] == "rejected"
    [reason] = data["decision"]["reasons"]
    assert reason["code"] == "INVALID_FIELD" and reason["facts"] == {"age_oldest": "abc"}


def test_numbers_are_exact_text_and_dates_iso() -> None:
    import datetime as dt

    from civicscore.cli_json import jsonable

    assert jsonable({"a": Decimal("19.250"), "b": 2.5, "c": 1e-05, "d": 3, "e": True,
                     "f": dt.date(2025, 12, 31), "g": (1, {Decimal("1.5")})}) == {
        "a": "19.250", "b": "2.5", "c": "0.00001", "d": 3, "e": True, "f": "2025-12-31",
        "g": [1, ["1.5"]]}


def test_a_record_error_object_names_the_record_and_the_field() -> None:
    from civicscore.cli_json import error_object
    from civicscore.errors import RecordError

    e = RecordError("H1", "age_oldest", "expected an integer, got 'abc'",
                    message_zh="应为整数，实际为 'abc'")
    data = error_object(e)
    assert data["schema"] == "civicscore.error/1" and data["code"] == "INVALID_FIELD"
    assert data["location"] == {"record": "H1", "field": "age_oldest"}
    assert "age_oldest" in data["message"] and "应为整数" in data["message_zh"]


def test_a_usage_error_is_an_error_object_with_click_s_exit_status() -> None:
    data = run("explain", POLICY, "--format", "json", "--record", "{}", code=2)
    assert data["code"] == "usage" and "--scheme" in data["message"]
    data = run("review", "x.jsonl", "D1", "confirm", "--format", "json", code=2)
    assert data["code"] == "usage" and "--by" in data["message"]


def test_an_unknown_option_before_format_json_is_told_as_json_too() -> None:
    data = run("explain", "--bogus", "x", "--format", "json", code=2)
    assert data["code"] == "usage" and "--bogus" in data["message"]
    data = run("ledger", "verify", "--format=json", "--bogus", code=2)
    assert data["code"] == "usage" and "--bogus" in data["message"]


def test_a_missing_file_is_an_error_object(tmp_path: Path) -> None:
    data = run("verify-log", tmp_path / "none.jsonl", "--format", "json", code=2)
    assert data["schema"] == "civicscore.error/1" and "none.jsonl" in data["message"]


@pytest.mark.parametrize("args", [
    ["explain", "nope.toml", "--scheme", "volunteer", "--record", "{}"],
    ["explain", POLICY, "--scheme", "volunteer", "--record", "{x"],
    ["explain", POLICY, "--scheme", "nosuch", "--record", "{}"],
    ["test", "nope.toml"],
    ["score", POLICY, "missing.csv", "--scheme", "visits"],
    ["replay", "missing.jsonl"],
    ["verify-log", "missing.jsonl"],
    ["assess", "nope.toml"],
    ["events", "baseline", "missing.jsonl", "--until", AS_OF],
    ["ledger", "verify", "--db", "/nonexistent-dir/x.db"],
], ids=lambda a: " ".join(a[:2]))
def test_an_error_exits_as_in_text_mode(args: list[str]) -> None:
    text = CliRunner().invoke(main, args)
    assert text.exit_code != 0 and text.stdout == "", text.stdout
    data = run(*args, "--format", "json", code=text.exit_code)
    assert data["schema"] == "civicscore.error/1" and data["message"]
    assert set(data) >= {"code", "message", "message_zh", "location"}


def test_text_mode_prints_no_json_on_errors() -> None:
    r = CliRunner().invoke(main, ["explain", "nope.toml", "--scheme", "volunteer",
                                  "--record", "{}"])
    assert r.exit_code == 1 and r.stdout == "" and "no such policy file" in r.stderr
