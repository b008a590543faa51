"""One output, any engine (civility and visits), and the method vocabulary.

``scheme.batch(...)`` gives the very rows of the per-record run: the same
columns in the same order, the same values and types, ``reasons`` word for
word, no raw input column copied in (care needs included); ``details`` equals
``detail_rows()``; ``rejected`` restricted to REJECT_COLUMNS equals
``rejected_rows()``. Checked here on the bundled examples with
policies/example-district.toml; the generated inputs and the locality
examples are in tests/test_batch_civility.py and tests/test_batch_visits.py.
``decide`` / ``decide_many`` are the vocabulary names; ``evaluate`` /
``evaluate_many`` keep working.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

import civicscore
from civicscore.io import read_records
from civicscore.schemes.base import REJECT_COLUMNS

from .conftest import AS_OF, EXAMPLE_POLICY, EXAMPLES

pl = pytest.importorskip("polars")

DATES = [AS_OF, dt.date(2026, 6, 30), dt.date(2027, 1, 1)]


@pytest.fixture(scope="module")
def policy() -> civicscore.Policy:
    return civicscore.load(EXAMPLE_POLICY)


def _assert_one_output(scheme: Any, path: Any, as_of: dt.date) -> None:
    items = list(read_records(path))
    per = scheme.decide_many(items, as_of=as_of)
    for source in (path, items):
        batch = scheme.batch(source, as_of=as_of)
        want = list(per.output_rows())
        assert batch.output.columns == list(want[0])
        assert batch.output.to_dicts() == want
        assert batch.details.to_dicts() == list(per.detail_rows())
        assert batch.rejected.select(REJECT_COLUMNS).to_dicts() == per.rejected_rows()
        assert batch.rejected.height == len(per.rejected) > 0
        raw = set(pl.read_csv(path, infer_schema=False).columns) - {"household_id",
                                                                     "liaison_id",
                                                                     "last_visit"}
        assert not raw & set(batch.output.columns)  # no input column is copied


@pytest.mark.parametrize("as_of", DATES)
def test_civility_bundled_example(policy: civicscore.Policy, as_of: dt.date) -> None:
    _assert_one_output(policy.civility, EXAMPLES / "civility-households.csv", as_of)


@pytest.mark.parametrize("as_of", DATES)
def test_visits_bundled_example(policy: civicscore.Policy, as_of: dt.date) -> None:
    _assert_one_output(policy.visits, EXAMPLES / "visits-households.csv", as_of)


def test_civility_reasons_match_reason_codes(policy: civicscore.Policy) -> None:
    """The output's reasons are the words of its reason codes, one for one."""
    scheme = policy.civility
    assert scheme is not None
    result = scheme.decide_many(read_records(EXAMPLES / "civility-households.csv"),
                                as_of=AS_OF)
    for d, row in zip(result.decisions, result.output_rows(), strict=True):
        assert len(row["reasons"]) == len(row["reason_codes"])
        kept = [r for r in d.reasons if r.code not in ("STAR_MET", "STAR_NOT_MET")]
        assert row["reasons"] == [r.message for r in kept]
        assert row["reason_codes"] == [r.code for r in kept]


@pytest.mark.parametrize("name", ["visits", "civility"])
def test_decide_vocabulary(policy: civicscore.Policy, name: str) -> None:
    scheme = getattr(policy, name)
    path = EXAMPLES / f"{name}-households.csv"
    items = list(read_records(path))
    many = scheme.decide_many(items, as_of=AS_OF)
    old = scheme.evaluate_many(items, as_of=AS_OF)
    assert list(many.output_rows()) == list(old.output_rows())
    one = scheme.decide(items[0], as_of=AS_OF)
    assert one.to_row() == scheme.evaluate(items[0], as_of=AS_OF).to_row()
    assert one.to_row() == next(iter(many.output_rows()))
    assert scheme.run(items, as_of=AS_OF).output_rows is not None
