"""``civicscore score`` on the batch evaluator: files in, files out, nothing lost."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from civicscore.cli import main

pl = pytest.importorskip("polars")

ROOT = Path(__file__).parent.parent
KARAMAY_HOUSEHOLDS = ROOT / "plugins" / "civicscore-karamay" / "examples" / "households.csv"


def _households(tmp_path: Path, n: int) -> Path:
    frame = pl.read_csv(KARAMAY_HOUSEHOLDS, infer_schema=False)
    big = pl.concat([frame] * (n // frame.height + 1)).head(n).with_columns(
        household_id=pl.format("H{}", pl.int_range(pl.len())))
    # two bad rows: a repeated id and an age that is not a number
    big = pl.concat([big, big.head(1), big.head(1).with_columns(
        household_id=pl.lit("BAD"), age_oldest=pl.lit("old"))])
    path = tmp_path / "households.parquet"
    big.write_parquet(path)
    return path


def test_score_parquet_in_batch_conserves_rows(tmp_path: Path) -> None:
    source = _households(tmp_path, 3000)
    out, rejects, details = tmp_path / "out.parquet", tmp_path / "rej.csv", tmp_path / "cl.csv"
    result = CliRunner().invoke(main, [
        "score", "karamay", str(source), "--scheme", "visits", "--as-of", "2026-03-01",
        "-o", str(out), "--rejects", str(rejects), "--details", str(details), "--engine", "batch"])
    assert result.exit_code == 0, result.output
    scored = pl.read_parquet(out)
    rejected = pl.read_csv(rejects)
    assert scored.height == 3002
    assert (scored["status"] == "scored").sum() + rejected.height == 3002
    assert rejected.columns == ["input", "row", "id", "reason_codes", "reasons"]
    assert sorted(rejected["reason_codes"].to_list()) == ["DUPLICATE_RECORD", "INVALID_FIELD"]
    assert "3000 of 3002 households scored, 2 rejected; 2700 overdue; 2 caseload(s); policy karamay" in result.stderr
    assert pl.read_csv(details).height >= 1
    assert set(scored["policy_hash"].unique().to_list()) == {scored["policy_hash"][0]}


def test_batch_and_per_record_write_the_same_decisions(tmp_path: Path) -> None:
    source = _households(tmp_path, 200)
    runs = {}
    for engine in ("batch", "per-record"):
        out = tmp_path / f"{engine}.jsonl"
        result = CliRunner().invoke(main, [
            "score", "karamay", str(source), "--scheme", "visits", "--as-of", "2026-03-01",
            "-o", str(out), "--engine", engine])
        assert result.exit_code == 0, result.output
        runs[engine] = [json.loads(line) for line in out.read_text().splitlines()]
    for a, b in zip(runs["batch"], runs["per-record"], strict=True):
        for key in ("row", "household_id", "status", "tier", "next_due", "overdue",
                    "reason_codes", "policy_hash"):
            assert a[key] == b[key], (key, a, b)


def test_no_progress_bar_without_a_terminal(tmp_path: Path) -> None:
    source = _households(tmp_path, 50)
    result = CliRunner().invoke(main, ["score", "karamay", str(source), "--scheme", "visits",
                                       "--as-of", "2026-03-01", "--format", "jsonl",
                                       "--engine", "batch"])
    assert result.exit_code == 0
    assert "%" not in result.stderr  # the bar is drawn only on a terminal
    assert len(result.stdout.splitlines()) == 52
    assert dt.date.fromisoformat(json.loads(result.stdout.splitlines()[0])["as_of"])


def test_auto_engine_follows_the_size_of_the_input(tmp_path: Path, monkeypatch) -> None:
    from civicscore import cli
    from civicscore.cli import AUTO_BATCH_ROWS, _many_rows

    engines: list[str] = []
    for name in ("_score_batch", "_score_per_record"):
        real = getattr(cli, name)
        monkeypatch.setattr(cli, name, lambda *a, _r=real, _n=name, **k: (
            engines.append(_n), _r(*a, **k))[1])

    small = _households(tmp_path, 100)
    assert not _many_rows(str(small))
    big = tmp_path / "big.parquet"
    pl.read_parquet(small).sample(AUTO_BATCH_ROWS + 1, with_replacement=True).write_parquet(big)
    assert _many_rows(str(big))
    csv = tmp_path / "big.csv"
    pl.read_parquet(big).write_csv(csv)
    assert _many_rows(str(csv))
    result = CliRunner().invoke(main, ["score", "karamay", str(big), "--scheme", "visits",
                                       "--as-of", "2026-03-01", "-o", str(tmp_path / "o.csv")])
    assert result.exit_code == 0, result.output
    assert engines == ["_score_batch"]  # auto chose the batch evaluator (it does not show)


def test_engine_mistakes_are_usage_errors(tmp_path: Path) -> None:
    source = str(_households(tmp_path, 10))
    base = ["score", "karamay", source, "--scheme", "visits", "--as-of", "2026-03-01"]
    result = CliRunner().invoke(main, [*base, "--engine", "fast"])
    assert result.exit_code == 2 and "'fast' is not one of" in result.output
    result = CliRunner().invoke(main, [*base, "--engine", "batch", "--log", str(tmp_path / "l")])
    assert result.exit_code == 2 and "--log needs --engine per-record" in result.output


# --- one output, any engine ---------------------------------------------------------------

EXAMPLES = ROOT / "examples"
EXAMPLE_POLICY = ROOT / "policies" / "example-district.toml"
PARITY_INPUTS = {
    "volunteer": ["volunteer-activities.csv", "--redemptions", EXAMPLES / "redemptions.csv"],
    "civility": ["civility-households.csv"],
    "visits": ["visits-households.csv"],
    "appraisal": ["appraisal-subjects.csv"],
}
FORMATS = ("csv", "jsonl", "json", "parquet")
WHAT = ("output", "rejects", "details", "summary")


@pytest.fixture(scope="module")
def parity_runs(tmp_path_factory: pytest.TempPathFactory) -> dict[tuple[str, str, str], Any]:
    """Every scheme x format x engine, run once: (scheme, fmt, engine) -> (dir, stderr)."""
    runs: dict[tuple[str, str, str], Any] = {}
    for scheme, (name, *extra) in PARITY_INPUTS.items():
        for fmt in FORMATS:
            for engine in ("per-record", "batch"):
                where = tmp_path_factory.mktemp(f"{scheme}-{fmt}-{engine}")
                result = CliRunner().invoke(main, [str(a) for a in [
                    "score", EXAMPLE_POLICY, EXAMPLES / name, "--scheme", scheme, *extra,
                    "--as-of", "2025-12-31", "--engine", engine,
                    "-o", where / f"output.{fmt}", "--rejects", where / f"rejects.{fmt}",
                    "--details", where / f"details.{fmt}"]])
                assert result.exit_code == 0, result.output
                assert "Traceback" not in result.output
                runs[scheme, fmt, engine] = (where, result.stderr)
    return runs


def _parity_cases() -> list[Any]:
    cases = []
    for scheme in PARITY_INPUTS:
        for fmt in FORMATS:
            for what in WHAT:
                if what == "summary" and fmt != "csv":
                    continue  # the summary does not depend on the format
                cases.append(pytest.param(scheme, fmt, what, id=f"{scheme}-{fmt}-{what}"))
    return cases


@pytest.mark.parametrize("scheme,fmt,what", _parity_cases())
def test_the_engine_never_changes_what_score_writes(parity_runs: Any, scheme: str, fmt: str,
                                                    what: str) -> None:
    """--engine batch and --engine per-record write the same files and the same summary:
    byte for byte for CSV and JSON, the same schema and values for Parquet."""
    (a, a_err), (b, b_err) = (parity_runs[scheme, fmt, e] for e in ("per-record", "batch"))
    if what == "summary":  # all of stderr: the summary line and the notes after it
        assert a_err.replace(str(a), "DIR") == b_err.replace(str(b), "DIR")
        return
    one, two = a / f"{what}.{fmt}", b / f"{what}.{fmt}"
    assert one.exists() == two.exists()
    if fmt == "parquet":
        x, y = pl.read_parquet(one), pl.read_parquet(two)
        assert x.schema == y.schema
        assert x.to_dicts() == y.to_dicts()
    else:
        assert one.read_bytes() == two.read_bytes()
    if fmt == "json":
        assert isinstance(json.loads(one.read_text(encoding="utf-8")), list)


@pytest.mark.parametrize("engine", ["per-record", "batch"])
def test_json_on_stdout_is_one_array_in_both_engines(engine: str) -> None:
    result = CliRunner().invoke(main, [
        "score", str(EXAMPLE_POLICY), str(EXAMPLES / "visits-households.csv"), "--scheme",
        "visits", "--as-of", "2025-12-31", "--format", "json", "--engine", engine])
    assert result.exit_code == 0, result.output
    rows = json.loads(result.stdout)
    assert isinstance(rows, list) and rows[0]["row"] == 1


def test_extra_inputs_by_name_and_by_shorthand_are_the_same(tmp_path: Path) -> None:
    base = ["score", str(EXAMPLE_POLICY), str(EXAMPLES / "volunteer-activities.csv"),
            "--scheme", "volunteer", "--as-of", "2025-12-31", "--engine", "per-record"]
    a = CliRunner().invoke(main, [*base, "--redemptions", str(EXAMPLES / "redemptions.csv"),
                                  "-o", str(tmp_path / "a.csv")])
    b = CliRunner().invoke(main, [*base, "--with", f"redemptions={EXAMPLES / 'redemptions.csv'}",
                                  "-o", str(tmp_path / "b.csv")])
    assert a.exit_code == b.exit_code == 0, a.output + b.output
    assert (tmp_path / "a.csv").read_bytes() == (tmp_path / "b.csv").read_bytes()
    assert "; redemptions: 1 rejected;" in b.stderr
    bad = CliRunner().invoke(main, [*base, "--with", "gifts=x.csv"])
    assert bad.exit_code == 2 and "scheme volunteer takes only redemptions" in bad.output
    visits = CliRunner().invoke(main, ["score", str(EXAMPLE_POLICY), str(EXAMPLES /
                                       "visits-households.csv"), "--scheme", "visits",
                                       "--redemptions", str(EXAMPLES / "redemptions.csv")])
    assert visits.exit_code == 2
    assert "--redemptions: scheme visits takes no extra inputs; redemptions is an input of " \
           "volunteer" in visits.output


def test_capacity_warnings_are_in_the_summary_of_both_engines(tmp_path: Path) -> None:
    policy = tmp_path / "cap.toml"
    policy.write_text('[policy]\nid = "cap"\nversion = "1"\nextends = "baseline"\n\n'
                      '[visits.capacity]\nhouseholds_per_liaison = 2\n', encoding="utf-8")
    lines = {}
    for engine in ("per-record", "batch"):
        result = CliRunner().invoke(main, [
            "score", str(policy), str(EXAMPLES / "visits-households.csv"), "--scheme",
            "visits", "--as-of", "2025-12-31", "--engine", engine,
            "-o", str(tmp_path / f"{engine}.csv"), "--details", str(tmp_path / f"{engine}.d.csv")])
        assert result.exit_code == 0, result.output
        lines[engine] = result.stderr.splitlines()[0]
    assert lines["per-record"] == lines["batch"]
    assert "; warnings: liaison G01: 7 households, more than the 2 one liaison can look " \
           "after" in lines["batch"]
