"""Smoke test of benchmarks/bench.py: the generator and the correctness checks still run.

Nothing is timed here (the benchmark is not a test); this only keeps the script from
rotting as the library changes: the seeded city is reproducible, and the hand-written
baselines still agree with civicscore on a tiny city.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import pytest

pl = pytest.importorskip("polars")
pytest.importorskip("numpy")

import civicscore  # noqa: E402

BENCH = Path(__file__).resolve().parent.parent / "benchmarks" / "bench.py"


@pytest.fixture(scope="module")
def bench() -> ModuleType:
    spec = importlib.util.spec_from_file_location("civicscore_bench", BENCH)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up
    try:
        spec.loader.exec_module(module)
    except BaseException:
        sys.modules.pop(spec.name, None)
        raise
    return module


@pytest.fixture(scope="module")
def karamay() -> civicscore.Policy:
    return civicscore.load("karamay")


def test_the_city_is_seeded(bench: ModuleType, karamay: civicscore.Policy) -> None:
    facts = bench.visit_facts(karamay)
    a = bench.households(300, 7, facts)
    assert a.equals(bench.households(300, 7, facts))
    assert not a.equals(bench.households(300, 8, facts))
    care_needs = {name for name, spec in facts.items() if spec.care_need}
    assert care_needs <= set(a.columns)
    assert a["last_visit"].null_count() > 0  # some households were never visited


def test_handwritten_baselines_agree_with_civicscore(bench: ModuleType,
                                                    karamay: civicscore.Policy) -> None:
    # a high error rate so that a tiny city still has rejected rows
    city = bench.households(400, 3, bench.visit_facts(karamay), bad_fraction=0.02)
    outcomes = bench.check_per_record(karamay.visits, city.to_dicts(), bench.AS_OF,
                                      bench.karamay_visit)
    assert {o.status for o in outcomes} == {"scored", "rejected"}
    assert len({o.tier for o in outcomes}) >= 4
    assert bench.check_batch_baseline(karamay, "visits", city, bench.AS_OF) == 400
    civility = bench.civility_households(400, 3, karamay)
    assert bench.check_batch_baseline(karamay, "civility", civility, bench.AS_OF) == 400


def test_a_wrong_baseline_is_caught(bench: ModuleType, karamay: civicscore.Policy) -> None:
    city = bench.households(200, 5, bench.visit_facts(karamay)).to_dicts()

    def wrong(h: dict, as_of: object) -> object:
        out = bench.karamay_visit(h, as_of)
        return out._replace(tier="basic") if out.tier == "concern" else out

    with pytest.raises(bench.Mismatch):
        bench.check_per_record(karamay.visits, city, bench.AS_OF, wrong)


def test_peer_inputs_and_other_generators(bench: ModuleType,
                                          karamay: civicscore.Policy) -> None:
    city = bench.households(50, 1, bench.visit_facts(karamay), bad_fraction=0)
    facts = bench.peer_facts(city.to_dicts()[0], bench.AS_OF)
    assert set(facts) >= {"as_of", "age_oldest", *bench._PEER_BOOLS, *bench._PEER_DATES}
    for make in (bench.civility_households, bench.activity_records, bench.subjects):
        frame = make(50, 1, karamay)
        assert frame.height == 50
        assert frame.equals(make(50, 1, karamay))
    records = bench.activity_records(100, 1, karamay).to_dicts()
    scored = [d for d in karamay.volunteer.evaluate(records, as_of=bench.AS_OF).records
              if d.status == "scored"]
    assert len(scored) > 80
