"""Visits in batch: no limit the per-record path does not have, no crash on empty lists.

Reproducers from issue 10: a valid policy with 13 visit triggers exited 70
("internal error") on 10,001 rows, because the batch evaluator allowed 12;
``--engine batch --details caseload.csv`` crashed writing an empty list column
when no liaison was over capacity. Also: the bundled example through both
engines gives one output, column for column.
"""

from __future__ import annotations

import csv
import datetime as dt
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st

import civicscore
from civicscore.cli import main
from civicscore.io import read_records

from .conftest import AS_OF, EXAMPLE_POLICY, EXAMPLES
from .test_batch_visits import assert_same

pl = pytest.importorskip("polars")


def _triggers_policy(n: int, capacity: str = "") -> str:
    facts = "".join(f"e{j} = {{ type = \"date\", optional = true, care_need = true, concept = \"fall\" }}\n"
                    for j in range(n))
    triggers = "".join(f'\n[[visits.triggers]]\nid = "t{j}"\nevent = "e{j}"\n'
                       f"within_days = {1 + j % 9}\n" + ('when = "age >= 60"\n' if j % 2 else "")
                       for j in range(n))
    return f"""
[policy]
id = "many-triggers"
version = "1"

[facts.household]
age = {{ type = "int", min = 0, max = 130, care_need = true, concept = "age" }}
{facts}
[visits]
default_tier = "routine"

[[visits.tiers]]
id = "weekly"
cadence = "weekly"
when = "age >= 80"

[[visits.tiers]]
id = "routine"
cadence = "P2M"
{triggers}
{capacity}"""


def _households(n_rows: int, n_triggers: int) -> list[dict[str, Any]]:
    rows = []
    for i in range(n_rows):
        row: dict[str, Any] = {"household_id": f"H{i}", "liaison_id": f"L{i % 7}",
                               "age": 50 + i % 45, "last_visit": "2026-01-05"}
        for j in range(n_triggers):
            if (i + j) % 5 == 0:
                row[f"e{j}"] = f"2026-02-{1 + (i + 3 * j) % 27:02d}"
        rows.append(row)
    return rows


def _write_csv(path: Path, rows: list[dict[str, Any]], n_triggers: int) -> None:
    names = ["household_id", "liaison_id", "age", "last_visit",
             *(f"e{j}" for j in range(n_triggers))]
    with path.open("w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, names)
        writer.writeheader()
        writer.writerows(rows)


@pytest.mark.parametrize("n_triggers", [13, 70])
def test_many_triggers_in_both_engines(tmp_path: Path, n_triggers: int) -> None:
    """13 triggers (over the old limit of 12) and 70 (over the 62 of a bit mask)."""
    path = tmp_path / "policy.toml"
    path.write_text(_triggers_policy(n_triggers), encoding="utf-8")
    policy = civicscore.load(path)
    assert_same(policy, _households(300, n_triggers), dt.date(2026, 3, 1))


def _tiers_policy(n: int, hit_policy: str) -> str:
    """``n`` tiers, one per age band of width 1 from 130 down (each with its own cadence,
    so the per-tier cadence switch has many values), then the default."""
    tiers = "".join(
        f'\n[[visits.tiers]]\nid = "t{i}"\ncadence = "P{7 + i % 400}D"\n'
        f'when = "need == {n - i} and age >= {i % 90}"\n'
        + (f"priority = {i * 7 % n + 1}\n" if hit_policy == "priority" else "")
        for i in range(n))
    return f"""
[policy]
id = "many-tiers"
version = "1"

[facts.household]
age = {{ type = "int", min = 0, max = 130, care_need = true, concept = "age" }}
need = {{ type = "int", min = 0, max = {n + 10}, care_need = true, concept = "open_requests" }}

[visits]
default_tier = "routine"
hit_policy = "{hit_policy}"
{tiers}
[[visits.tiers]]
id = "routine"
cadence = "P2M"
"""


@pytest.mark.parametrize("hit_policy", ["first", "priority", "unique"])
def test_thousands_of_tiers_run_in_batch(tmp_path: Path, hit_policy: str) -> None:
    """Issue 10: a policy of 5,000 tiers needed 18 GB for 2,000 rows in batch (a when/then
    chain nested per tier). The plan picks the tier by a flat first-true index: 2,000
    tiers on a small frame give, row for row, the per-record output."""
    n = 2000
    path = tmp_path / "policy.toml"
    path.write_text(_tiers_policy(n, hit_policy), encoding="utf-8")
    policy = civicscore.load(path)
    rows = [{"household_id": f"H{i}", "liaison_id": f"L{i % 3}", "age": i % 120,
             "need": (i * 37) % (n + 5), "last_visit": "2026-01-05"} for i in range(60)]
    as_of = dt.date(2026, 3, 1)
    per = policy.visits.evaluate_many(rows, as_of=as_of)
    batch = policy.visits.batch(rows, as_of=as_of)
    assert batch.output.to_dicts() == list(per.output_rows())
    assert batch.details.to_dicts() == list(per.detail_rows())
    assert batch.output["tier"].n_unique() > 20  # many tiers chosen, not only the default


def test_thirteen_triggers_on_10001_rows_from_the_cli(tmp_path: Path) -> None:
    policy = tmp_path / "policy.toml"
    policy.write_text(_triggers_policy(13), encoding="utf-8")
    source = tmp_path / "households.csv"
    _write_csv(source, _households(10_001, 13), 13)
    outs = {}
    for engine in ("batch", "auto", "per-record"):
        out = tmp_path / f"{engine}.csv"
        result = CliRunner().invoke(main, [
            "score", str(policy), str(source), "--scheme", "visits", "--as-of", "2026-03-01",
            "-o", str(out), "--engine", engine])
        assert result.exit_code == 0, result.output
        outs[engine] = pl.read_csv(out, infer_schema=False)
    assert outs["batch"].height == 10_001
    assert outs["batch"].equals(outs["auto"])
    assert outs["batch"]["status"].unique().to_list() == ["scored"]


@pytest.mark.parametrize("capacity", ["", "[visits.capacity]\nvisits_per_month = 1000\n",
                                      "[visits.capacity]\nhouseholds_per_liaison = 2\n"])
def test_details_csv_with_and_without_warnings(tmp_path: Path, capacity: str) -> None:
    """No liaison over capacity: the warnings columns are empty lists, and write."""
    policy = tmp_path / "policy.toml"
    policy.write_text(_triggers_policy(2, capacity), encoding="utf-8")
    source = tmp_path / "households.csv"
    _write_csv(source, _households(30, 2), 2)
    details = {}
    for engine in ("batch", "per-record"):
        target = tmp_path / f"caseload-{engine}.csv"
        result = CliRunner().invoke(main, [
            "score", str(policy), str(source), "--scheme", "visits", "--as-of", "2026-03-01",
            "-o", str(tmp_path / f"out-{engine}.csv"), "--details", str(target),
            "--engine", engine])
        assert result.exit_code == 0, result.output
        with target.open(newline="", encoding="utf-8") as f:
            details[engine] = list(csv.reader(f))
    # the same cells (the CSV writers differ in quoting an empty cell: "" or nothing)
    assert details["batch"] == details["per-record"]
    assert len(details["batch"]) == 8  # a header and 7 liaisons
    warned = any("CAPACITY_EXCEEDED" in cell for row in details["batch"] for cell in row)
    assert warned is ("households_per_liaison" in capacity)


def test_empty_caseload_frame_is_typed() -> None:
    """A run where nobody is scored has no caseload rows, and still the typed columns."""
    policy = civicscore.load(EXAMPLE_POLICY)
    assert policy.visits is not None
    batch = policy.visits.batch([{"household_id": ""}], as_of=AS_OF)
    assert batch.details.height == 0
    assert batch.details.schema["warnings"] == pl.List(pl.String)
    assert batch.output.to_dicts() == list(
        policy.visits.evaluate_many([{"household_id": ""}], as_of=AS_OF).output_rows())


@pytest.mark.parametrize("as_of", [AS_OF, dt.date(2026, 6, 30), dt.date(2025, 1, 2)])
def test_bundled_example_one_output(as_of: dt.date) -> None:
    policy = civicscore.load(EXAMPLE_POLICY)
    items = list(read_records(EXAMPLES / "visits-households.csv"))
    assert_same(policy, items, as_of)
    batch = policy.visits.batch(EXAMPLES / "visits-households.csv", as_of=as_of)
    per = policy.visits.evaluate_many(items, as_of=as_of)
    assert batch.output.to_dicts() == list(per.output_rows())
    assert "care_need" not in batch.output.columns
    assert "age_oldest" not in batch.output.columns  # no raw input column is copied


@settings(max_examples=100, deadline=None)
@given(lists=st.lists(st.lists(st.text(max_size=5), max_size=4), max_size=20))
def test_text_lists_equals_a_series_of_the_lists(lists: list[list[str]]) -> None:
    from civicscore.schemes.visits.batch import text_lists

    got = text_lists(lists)
    assert got.dtype == pl.List(pl.String)
    assert got.to_list() == pl.Series(lists, dtype=pl.List(pl.String)).to_list() == lists
