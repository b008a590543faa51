"""A file that lacks a whole column is said once, before the run; a run that scores nothing
exits 3; ``--rejects`` is written even when nothing is rejected. Real files, both engines."""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

import openpyxl
import pytest
from click.testing import CliRunner

from civicscore.cli import EXIT_ALL_REJECTED, main

from .conftest import EXAMPLE_POLICY, EXAMPLES

VISITS = EXAMPLES / "visits-households.csv"


def run(*args: Any) -> Any:
    result = CliRunner().invoke(main, [str(a) for a in args], catch_exceptions=False)
    assert "Traceback" not in result.output + result.stderr
    return result


def without(columns: set[str], target: Path) -> Path:
    with VISITS.open(encoding="utf-8", newline="") as f:
        rows = list(csv.DictReader(f))
    keep = [c for c in rows[0] if c not in columns]
    with target.open("w", encoding="utf-8", newline="") as f:
        out = csv.DictWriter(f, fieldnames=keep, extrasaction="ignore")
        out.writeheader()
        out.writerows(rows)
    return target


def score(path: Path, *extra: Any) -> Any:
    return run("score", EXAMPLE_POLICY, "--scheme", "visits", path, "--as-of", "2025-12-31",
               "-o", path.with_suffix(".out.jsonl"), *extra)


@pytest.mark.parametrize("engine", ["per-record", "batch"])
def test_a_missing_column_with_a_default_is_a_warning_naming_fact_and_default(
        tmp_path: Path, engine: str) -> None:
    path = without({"disability", "dementia"}, tmp_path / "h.csv")
    r = score(path, "--engine", engine)
    assert r.exit_code == 0, r.stderr
    for fact in ("disability", "dementia"):
        line = (f"warning: {path} has no column {fact!r}: every row will read the default "
                f"false [facts.household.{fact}]")
        assert r.stderr.count(line) == 1, r.stderr
    full = score(_copy(tmp_path), "--engine", engine)
    assert "has no column" not in full.stderr


def _copy(tmp_path: Path) -> Path:
    target = tmp_path / "full.csv"
    target.write_bytes(VISITS.read_bytes())
    return target


def test_an_optional_date_and_a_workbook(tmp_path: Path) -> None:
    path = without({"bereaved_on"}, tmp_path / "h.csv")
    book = openpyxl.Workbook()
    sheet = book.active
    assert sheet is not None
    with path.open(encoding="utf-8", newline="") as f:
        for row in csv.reader(f):
            sheet.append(row)
    xlsx = tmp_path / "h.xlsx"
    book.save(xlsx)
    for source in (path, xlsx):
        r = score(source)
        assert r.exit_code == 0, r.stderr
        assert f"warning: {source} has no column 'bereaved_on': every row will read it as " \
               f"'never' (an optional date) [facts.household.bereaved_on]" in r.stderr


@pytest.mark.parametrize("engine", ["per-record", "batch"])
def test_every_row_rejected_exits_3_with_its_outputs(tmp_path: Path, engine: str) -> None:
    path = without({"age_oldest"}, tmp_path / "h.csv")
    rejects = tmp_path / "rejects.csv"
    r = score(path, "--engine", engine, "--rejects", rejects)
    assert r.exit_code == EXIT_ALL_REJECTED == 3, r.stderr
    assert "has no column 'age_oldest', which every row needs (it has no default) " \
           "[facts.household.age_oldest]: every row will be rejected" in r.stderr
    assert f"every row of {path} was rejected; nothing was scored (exit 3)" in r.stderr
    with rejects.open(encoding="utf-8", newline="") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == 21 and all("MISSING_FIELD" in row["reason_codes"] for row in rows)


def test_json_records_carry_their_own_keys(tmp_path: Path) -> None:
    with VISITS.open(encoding="utf-8", newline="") as f:
        rows = list(csv.DictReader(f))
    path = tmp_path / "h.jsonl"
    path.write_text("".join(json.dumps({k: v for k, v in row.items() if k != "dementia"},
                                       ensure_ascii=False) + "\n" for row in rows),
                    encoding="utf-8")
    r = score(path)
    assert r.exit_code == 0 and "has no column" not in r.stderr


def test_an_empty_rejects_file_is_written_with_its_header(tmp_path: Path) -> None:
    good = tmp_path / "good.csv"
    lines = VISITS.read_text(encoding="utf-8").splitlines()
    good.write_text("\n".join(lines[:3]) + "\n", encoding="utf-8")
    rejects = tmp_path / "rejects.csv"
    r = score(good, "--rejects", rejects)
    assert r.exit_code == 0, r.stderr
    # the UTF-8 mark (on by default, for Excel), then exactly the header
    assert rejects.read_bytes() == b"\xef\xbb\xbfinput,row,id,reason_codes,reasons\r\n"
