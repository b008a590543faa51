"""Smoke test of benchmarks/service_bench.py: its requests still get the right answers.

Nothing is timed (the benchmark is not a test): the script imports, its
requests are the service's, the echo baseline is a FastAPI app, and its
percentile is the nearest rank.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import pytest

pytest.importorskip("fastapi", reason="the service needs civicscore[serve]")
pytest.importorskip("httpx", reason="the benchmark drives the service with httpx")

BENCH = Path(__file__).resolve().parent.parent / "benchmarks" / "service_bench.py"


@pytest.fixture(scope="module")
def bench() -> ModuleType:
    spec = importlib.util.spec_from_file_location("civicscore_service_bench", BENCH)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


def test_the_benchmark_requests_are_what_the_service_takes(bench: ModuleType) -> None:
    """The requests it sends (their answers are checked by the benchmark itself, against
    the in-process app, and a wrong or lost one fails its run; not run here: too slow for
    the suite's budget)."""
    decide, batch = bench.calls("decide"), bench.calls("batch")
    assert len(decide) == len(bench.calls("explain")) == 21 and len(batch) == 1
    body = bench.json.loads(decide[0].body)
    assert body["as_of"] == bench.AS_OF and body["record"]["household_id"] == "H001"
    assert batch[0].media == "text/csv" and batch[0].path.endswith("/batch?as_of=" + bench.AS_OF)
    assert bench.echo_app().title == "FastAPI"
    assert bench.essence("explain", {"explanation": "x", "policy": {}}) == {"explanation": "x"}


def test_percentiles_are_nearest_rank(bench: ModuleType) -> None:
    values = [n / 1000 for n in range(1, 101)]  # 1..100 ms
    assert bench.pct(values, 50) == pytest.approx(50)
    assert bench.pct(values, 99) == pytest.approx(99)
    assert bench.pct([0.004], 99) == pytest.approx(4)
