"""The hit policies that look at every matching tier give on Spark what local batch
gives: one run of the example district's visits, its tiers chosen by ``collect`` /
``max`` and by ``any`` (which rejects households), over three partitions.

Spark runs the same polars plan per partition (``civicscore.spark``), so this is the
one end-to-end check; the per-policy behaviour is tests/test_visits_hit.py's."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest

pl = pytest.importorskip("polars")
pytest.importorskip("pyspark")
pytest.importorskip("pandas")
if shutil.which("java") is None:  # pragma: no cover - .ci/run installs it
    pytest.skip("Spark needs Java (.ci/run installs openjdk-17-jre-headless)",
                allow_module_level=True)

import civicscore  # noqa: E402
from civicscore import spark as cs  # noqa: E402

from .test_spark import AS_OF, ROOT, assert_same, hard_input, spark_frame  # noqa: E402


def with_overlaps(frame: pl.DataFrame) -> pl.DataFrame:
    """``frame`` and four households both of the baseline's tiers match (over 80 and
    alone: weekly; in extreme poverty: monthly), spread across the partitions."""
    extra = frame.head(4).with_columns(
        pl.Series("household_id", [f"X{i}" for i in range(4)]),
        pl.lit("85").alias("age_oldest"), pl.lit("yes").alias("lives_alone"),
        pl.lit("yes").alias("extreme_poverty"))
    half = frame.height // 2
    return pl.concat([extra.head(2), frame.head(half), extra.tail(2), frame.tail(-half)])


def test_collect_and_any_on_spark_equal_local_batch(tmp_path: Path) -> None:
    text = (ROOT / "policies" / "example-district.toml").read_text(encoding="utf-8")
    session = cs.session("local[2]")
    try:
        for hit, aggregation in (("collect", 'aggregation = "max"\n'), ("any", "")):
            # the baseline's tiers (weekly_care, monthly_care, overlapping) under ``hit``
            mine = text.replace("[visits]\n", f'[visits]\nhit_policy = "{hit}"\n'
                                               f"{aggregation}", 1).replace(
                '  "visits.max_interval",\n', '  "visits.max_interval",\n'
                                             '  "visits.hit_policy",\n', 1)
            path = tmp_path / f"{hit}.toml"
            path.write_text(mine, encoding="utf-8")
            policy: Any = civicscore.load(path)
            assert policy.visits.rules.hit_policy == hit
            frame = with_overlaps(hard_input("visits"))
            local = policy.visits.batch(frame, as_of=AS_OF)
            said = [r for rs in local.output["reasons"].to_list() for r in rs]
            codes = [c for cs in local.output["reason_codes"].to_list() for c in cs]
            if hit == "any":
                assert codes.count("ANY_VIOLATION") == 4
            else:
                assert sum("hit_policy 'collect'" in r for r in said) == 4
            remote = cs.run(policy, "visits", spark_frame(session, frame, 3), as_of=AS_OF,
                            partitions=3, piece_rows=7).collect()
            assert_same(local, remote)
    finally:
        session.stop()
