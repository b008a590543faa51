"""benchmarks/results_file.py: each benchmark script rewrites only its own section of
RESULTS.md, so one script's run never drops another's figures."""

from __future__ import annotations

import importlib.util
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
_spec = importlib.util.spec_from_file_location("results_file", ROOT / "benchmarks" / "results_file.py")
assert _spec and _spec.loader
results_file = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(results_file)


def test_a_section_is_replaced_alone_and_a_new_one_appended(tmp_path: Path) -> None:
    path = tmp_path / "RESULTS.md"
    results_file.write_section(path, "bench.py", "## one\nold figures")
    results_file.write_section(path, "service_bench.py", "### two\nservice figures")
    results_file.write_section(path, "bench.py", "## one\nnew figures")
    text = path.read_text(encoding="utf-8")
    assert "old figures" not in text
    assert text.index("new figures") < text.index("service figures")
    assert text.count("<!-- begin bench.py -->") == 1 == text.count("<!-- end bench.py -->")


def test_the_committed_results_hold_each_scripts_section() -> None:
    text = (ROOT / "benchmarks" / "RESULTS.md").read_text(encoding="utf-8")
    for name in ("bench.py", "service_bench.py"):
        assert f"<!-- begin {name} -->" in text and f"<!-- end {name} -->" in text
