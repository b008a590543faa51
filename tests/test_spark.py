"""civicscore.spark decides exactly what local batch decides, on real Spark (``local[2]``).

Every scheme's input is made hard to split: ids repeated far apart (so the
repeat lands in another partition, and for volunteers under another
volunteer), empty partitions, one key holding most rows (a skewed liaison,
a busy volunteer), and bad values (a missing id, an unreadable number). The
Spark result must equal ``scheme.batch`` of the same rows frame for frame —
output, details, rejected rows with their codes and messages, the summary
line — over several partition counts. One Spark session serves the module
(starting one costs seconds); visits and a civility CSV run by default, every scheme with CIVICSCORE_SLOW=1.
"""

from __future__ import annotations

import datetime as dt
import itertools
import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

pl = pytest.importorskip("polars")
pytest.importorskip("pyspark")
pytest.importorskip("pandas")  # pyspark's Arrow UDFs need it
if shutil.which("java") is None:  # pragma: no cover - .ci/run installs it
    pytest.skip("Spark needs Java (.ci/run installs openjdk-17-jre-headless)",
                allow_module_level=True)

from polars.testing import assert_frame_equal  # noqa: E402

import civicscore  # noqa: E402
from civicscore import spark as cs  # noqa: E402
from civicscore.errors import UsageError  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
AS_OF = dt.date(2026, 3, 1)
EXAMPLES = {"civility": "civility-households.csv", "visits": "visits-households.csv",
            "appraisal": "appraisal-subjects.csv", "volunteer": "volunteer-activities.csv"}
IDS = {"civility": "household_id", "visits": "household_id", "appraisal": "subject_id",
       "volunteer": "record_id"}
GROUPS = {"visits": "liaison_id", "volunteer": "volunteer_id"}


@pytest.fixture(scope="module")
def spark() -> Iterator[Any]:
    session = cs.session("local[2]")
    yield session
    session.stop()


@pytest.fixture(scope="module")
def policy() -> Any:
    return civicscore.load(ROOT / "policies" / "example-district.toml")


def hard_input(scheme: str) -> pl.DataFrame:
    """The example rows, then the same rows again (every id repeated, far away), the
    group key of the repeats rotated (a repeat under another liaison or volunteer),
    one key given to many rows (skew), and rows with bad values."""
    rows = pl.read_csv(ROOT / "examples" / EXAMPLES[scheme], infer_schema=False)
    again = rows
    group = GROUPS.get(scheme)
    if group is not None:
        values = again[group].to_list()
        again = again.with_columns(pl.Series(group, values[1:] + values[:1]))
    skew = pl.concat([rows.head(1)] * 6).with_columns(
        (pl.lit("S") + pl.int_range(6).cast(pl.String)).alias(IDS[scheme]))
    bad = rows.head(3).with_columns(
        pl.Series(IDS[scheme], [None, "  ", "B1"], dtype=pl.String),
        pl.lit("not a number").alias(rows.columns[1]))
    return pl.concat([rows, skew, again, bad])


def spark_frame(spark: Any, frame: pl.DataFrame, pieces: int) -> Any:
    """``frame`` as a Spark DataFrame of ``pieces`` partitions of rows (in order), with
    empty partitions among them."""
    bounds = [round(i * frame.height / pieces) for i in range(pieces + 1)]
    # a table of rows becomes one Arrow batch spread over the default parallelism (2):
    # one partition with the rows, one empty (an empty table would add no partition)
    slices = [frame.slice(a, b - a) for a, b in itertools.pairwise(bounds)]
    schema = ", ".join(f"`{c}` string" for c in frame.columns)
    parts = [spark.createDataFrame(s.to_arrow(), schema) for s in slices]
    out = parts[0]
    for p in parts[1:]:
        out = out.union(p)
    return out


def assert_same(local: Any, remote: Any) -> None:
    for kind in ("output", "details", "rejected"):
        assert_frame_equal(getattr(local, kind), getattr(remote, kind), check_exact=True)
    assert remote.rows_in == local.rows_in
    assert remote.summary() == local.summary()


def test_visits_equal_to_local_batch(spark: Any, policy: Any) -> None:
    """Caseloads per liaison (a shuffle by key), duplicates under another liaison."""
    frame = hard_input("visits")
    local = policy.visits.batch(frame, as_of=AS_OF)
    assert local.rejected.height  # the input does hold duplicates and bad rows
    for pieces, partitions in ((2, 1), (3, 3)):
        # frames cut into pieces of 7 rows: collect() puts many pieces together
        remote = cs.run(policy, "visits", spark_frame(spark, frame, pieces), as_of=AS_OF,
                        partitions=partitions, piece_rows=7).collect()
        assert_same(local, remote)


@pytest.mark.skipif(not os.environ.get("CIVICSCORE_SLOW"),
                    reason="slow: set CIVICSCORE_SLOW=1 (three more schemes on Spark)")
@pytest.mark.parametrize("scheme", ["civility", "appraisal", "volunteer"])
def test_equal_to_local_batch(spark: Any, policy: Any,
                                                     scheme: str) -> None:
    frame = hard_input(scheme)
    local = policy.scheme(scheme).batch(frame, as_of=AS_OF)
    for pieces, partitions in ((3, 1), (5, 3)):
        remote = cs.score(policy, scheme, spark_frame(spark, frame, pieces), as_of=AS_OF,
                          partitions=partitions)
        assert_same(local, remote)


def test_civility_from_a_csv_path_gives_the_rejects_of_local_batch(spark: Any, policy: Any,
                                                     tmp_path: Path) -> None:
    path = tmp_path / "households.csv"
    hard_input("civility").write_csv(path)
    local = policy.civility.batch(path, as_of=AS_OF)
    assert_same(local, cs.score(policy, "civility", str(path), as_of=AS_OF, partitions=2))


def test_a_scheme_that_does_not_say_how_to_split_is_refused(spark: Any,
                                                            policy: Any) -> None:
    with pytest.raises(UsageError, match="cannot be split"):
        cs.score(policy, "events", spark.createDataFrame([("a",)], "x string"), as_of=AS_OF)


def test_the_command_line_writes_the_same_bytes_on_spark(spark: Any, tmp_path: Path) -> None:
    from click.testing import CliRunner

    from civicscore.cli import main

    policy_file = str(ROOT / "policies" / "example-district.toml")
    data = str(ROOT / "examples" / EXAMPLES["visits"])
    written = {}
    for engine in ("batch", "spark"):
        out, details = tmp_path / f"{engine}.csv", tmp_path / f"{engine}-details.csv"
        result = CliRunner().invoke(main, [
            "score", policy_file, data, "--scheme", "visits", "--engine", engine,
            "--as-of", AS_OF.isoformat(), "-o", str(out), "--details", str(details)])
        assert result.exit_code == 0, result.output
        written[engine] = (out.read_bytes(), details.read_bytes(), result.output)
    assert written["spark"] == written["batch"]
