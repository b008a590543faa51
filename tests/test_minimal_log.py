"""Data minimisation in the decision log: only declared facts and the fields the scheme
reads itself are copied from a record; hashing needs a secret key (HMAC), never an
unkeyed hash that enumeration undoes (issue 11, item 5)."""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
from pathlib import Path

import pytest

import civicscore
from civicscore.audit import DecisionLog
from civicscore.errors import UsageError

from .conftest import EXAMPLE_POLICY

AS_OF = dt.date(2025, 12, 31)
HOUSEHOLD = {"household_id": "H001", "liaison_id": "G01", "last_visit": "2025-12-22",
             "age_oldest": 84, "lives_alone": True, "民族": "某族", "religion": "x"}


def logged(tmp_path: Path, log: DecisionLog) -> dict[str, object]:
    policy = civicscore.load(EXAMPLE_POLICY)
    result = policy.visits.decide_many([HOUSEHOLD], as_of=AS_OF)
    log.write_run(policy, "visits", AS_OF, result, [HOUSEHOLD])
    (entry,) = [json.loads(line) for line in log.path.read_text("utf-8").splitlines()]
    return entry


def test_undeclared_columns_never_reach_the_log(tmp_path: Path) -> None:
    entry = logged(tmp_path, DecisionLog(tmp_path / "d.jsonl"))
    text = (tmp_path / "d.jsonl").read_text("utf-8")
    assert "民族" not in text and "religion" not in text and "某族" not in text
    assert entry["input"] == {k: v for k, v in HOUSEHOLD.items()
                              if k not in ("民族", "religion")}
    policy = civicscore.load(EXAMPLE_POLICY)
    report = civicscore.replay(tmp_path / "d.jsonl", {policy.hash: policy})
    assert report.ok and report.replayed == 1


def test_hashing_needs_a_key_and_is_an_hmac(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="needs a secret key"):
        DecisionLog(tmp_path / "d.jsonl", {"household_id": "hash"})
    key = "kept by the office"
    entry = logged(tmp_path, DecisionLog(tmp_path / "d.jsonl", {"household_id": "hash"},
                                         salt=key))
    want = hmac.new(key.encode(), b"H001", hashlib.sha256).hexdigest()[:32]
    assert entry["input"]["household_id"] == "hmac-sha256:" + want  # type: ignore[index]
    assert "H001" not in (tmp_path / "d.jsonl").read_text("utf-8")


def test_the_reasons_do_not_quote_a_redacted_value(tmp_path: Path) -> None:
    policy = civicscore.load(EXAMPLE_POLICY)
    twice = [HOUSEHOLD, dict(HOUSEHOLD)]  # a duplicate id: its reason names the id
    result = policy.visits.decide_many(twice, as_of=AS_OF)
    assert any("H001" in r for r in result.decisions[1].to_row()["reasons"])
    log = DecisionLog(tmp_path / "d.jsonl", {"household_id": "erase"})
    log.write_run(policy, "visits", AS_OF, result, twice)
    text = (tmp_path / "d.jsonl").read_text("utf-8")
    assert "H001" not in text and "[erased]" in text
