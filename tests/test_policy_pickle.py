"""A loaded policy pickles as its sources and is rebuilt, hash-checked, where unpickled.

Spark executors (civicscore.spark) receive policies this way: the rebuilt policy
must decide exactly as the original, ``extends`` of a relative file must find
the same text, and a policy whose sources changed on the way is refused.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import pickle
from pathlib import Path

import pytest

import civicscore
from civicscore.errors import PolicyError
from civicscore.policy import portable

pytest.importorskip("polars")

ROOT = Path(__file__).resolve().parents[1]
AS_OF = dt.date(2026, 3, 1)
INPUTS = {"civility": "civility-households.csv", "visits": "visits-households.csv",
          "appraisal": "appraisal-subjects.csv", "volunteer": "volunteer-activities.csv"}


def test_a_pickled_policy_scores_the_same() -> None:
    policy = civicscore.load(ROOT / "policies" / "example-district.toml")
    again = pickle.loads(pickle.dumps(policy))
    assert again is not policy and again.ref == policy.ref
    for name, data in INPUTS.items():
        a = policy.scheme(name).batch(ROOT / "examples" / data, as_of=AS_OF)
        b = again.scheme(name).batch(ROOT / "examples" / data, as_of=AS_OF)
        assert a.output.equals(b.output), name
        assert a.details.equals(b.details), name
        assert a.rejected.equals(b.rejected), name


def test_extends_of_a_relative_file_travels(tmp_path: Path) -> None:
    (tmp_path / "base").mkdir()
    (tmp_path / "city").mkdir()
    (tmp_path / "base" / "base.toml").write_text(
        (ROOT / "policies" / "example-district.toml").read_text(encoding="utf-8"),
        encoding="utf-8")
    (tmp_path / "city" / "city.toml").write_text(
        '[policy]\nid = "city"\nversion = "2"\nextends = "../base/base.toml"\n',
        encoding="utf-8")
    policy = civicscore.Engine(policy_roots=[tmp_path]).load(tmp_path / "city" / "city.toml")
    data = pickle.dumps(policy)
    for f in (tmp_path / "base" / "base.toml", tmp_path / "city" / "city.toml"):
        f.unlink()  # the worker has no copy of the files: the pickle carries them
    again = pickle.loads(data)
    assert again.ref == policy.ref
    path = ROOT / "examples" / INPUTS["civility"]
    assert again.civility.batch(path, as_of=AS_OF).output.equals(
        policy.civility.batch(path, as_of=AS_OF).output)


def test_a_changed_policy_is_refused_on_the_worker() -> None:
    policy = civicscore.load(ROOT / "policies" / "example-district.toml")
    carried = portable.portable(policy)
    name, text, is_file = carried.files[0]
    changed = dataclasses.replace(carried, files=(
        (name, text.replace('version = "', 'version = "9', 1), is_file), *carried.files[1:]))
    with pytest.raises(PolicyError, match="hash"):
        portable.rebuild(changed)


def test_a_missing_plugin_is_named() -> None:
    policy = civicscore.load(ROOT / "policies" / "example-district.toml")
    carried = dataclasses.replace(portable.portable(policy), content_hash="x",
                                  plugins=("civicscore-nowhere",))
    with pytest.raises(PolicyError, match="civicscore-nowhere"):
        portable.rebuild(carried)


def test_a_ledger_refusal_survives_a_pickle() -> None:
    """A worker process hands its error back by pickle: field and message arrive whole."""
    import pickle

    from civicscore.errors import LedgerError

    back = pickle.loads(pickle.dumps(LedgerError("points", "more than the balance")))
    assert (type(back), back.field, back.message, str(back)) == (
        LedgerError, "points", "more than the balance", "points: more than the balance")
