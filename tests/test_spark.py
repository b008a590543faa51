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


def test_reasons_in_the_drivers_language(spark: Any, policy: Any) -> None:
    """``--lang zh`` on the driver (the LANG context) words the executors' reasons in
    Chinese too, though their environment says CIVICSCORE_LANG=en (as the suite's does)."""
    from civicscore.messages import LANG

    frame = hard_input("visits")
    token = LANG.set("zh")
    try:
        local = policy.visits.batch(frame, as_of=AS_OF)
        remote = cs.run(policy, "visits", spark_frame(spark, frame, 2), as_of=AS_OF,
                        partitions=2).collect()
    finally:
        LANG.reset(token)
    said = [r for rs in local.output["reasons"].to_list() for r in rs]
    assert any("探访" in r for r in said)
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


def redemptions_input() -> pl.DataFrame:
    """Redemptions of volunteers whose activities are spread over the parts, with the
    rows local batch rejects: no id (named by its row), no volunteer, bad points, more
    points than earned, a volunteer with no activities, a padded volunteer id."""
    rows = pl.read_csv(ROOT / "examples" / "redemptions.csv", infer_schema=False)
    more = pl.DataFrame({
        "redemption_id": ["R010", None, "R012", "R013", "R014", "R015", "R016"],
        "volunteer_id": ["V03", "V02", None, "V01", "V99", " V04 ", "V05"],
        "date": ["2025-11-01", "2025-11-02", "2025-11-03", "2025-11-04", "2025-11-05",
                 "2025-12-20", "2026-05-01"],
        "points": ["1", "2", "3", "not a number", "4", "1.5", "1"]})
    return pl.concat([rows, more, rows.head(2)])


def assert_same_volunteer(local: Any, remote: Any) -> None:
    assert_same(local, remote)
    assert_frame_equal(local.redemptions, remote.redemptions, check_exact=True)


def test_volunteer_redemptions_equal_to_local_batch(spark: Any, policy: Any,
                                                    tmp_path: Path) -> None:
    """Redemptions go to the part of their volunteer (co-partitioned by volunteer_id):
    statements, balances, the redemption rows and their rejects as local batch's."""
    frame, redemptions = hard_input("volunteer"), redemptions_input()
    local = policy.volunteer.batch(frame, as_of=AS_OF, redemptions=redemptions)
    assert local.redemptions.height == redemptions.height
    assert (local.rejected["input"] == "redemptions").sum() >= 4
    remote = cs.score(policy, "volunteer", spark_frame(spark, frame, 3), as_of=AS_OF,
                      partitions=3, redemptions=spark_frame(spark, redemptions, 2))
    assert_same_volunteer(local, remote)
    # the same rows as CSV files, a blank line and a row of too few cells among them
    activities, spent = tmp_path / "activities.csv", tmp_path / "redemptions.csv"
    frame.write_csv(activities)
    text = redemptions.write_csv().splitlines()
    spent.write_text("\n".join([*text[:3], "", "R020,V01", *text[3:]]) + "\n")
    local = policy.volunteer.batch(activities, as_of=AS_OF, redemptions=spent)
    assert "UNREADABLE_ROW" in str(local.rejected["reason_codes"].to_list())
    remote = cs.score(policy, "volunteer", str(activities), as_of=AS_OF, partitions=2,
                      redemptions=str(spent))
    assert_same_volunteer(local, remote)


def test_a_csv_file_is_read_as_local_batch_reads_it(spark: Any, policy: Any,
                                                    tmp_path: Path) -> None:
    """Blank lines (empty, spaces, only commas) are no row and take no number; rows of
    too few or too many cells and a badly quoted cell are UNREADABLE_ROW with local
    batch's message (row and line); a BOM, CRLF ends and empty cells as local."""
    rows = hard_input("civility").write_csv().splitlines()
    width = rows[0].count(",") + 1
    lines = ["\ufeff" + rows[0], rows[1], "", "   ", "," * (width - 1), rows[2] + ",extra",
             "H1,2", *rows[3:8], 'H9,"quoted, with a comma"' + "," * (width - 2),
             'H10,"bad"quote' + "," * (width - 2), *rows[8:]]
    path = tmp_path / "households.csv"
    path.write_bytes(("\r\n".join(lines) + "\r\n").encode())
    local = policy.civility.batch(path, as_of=AS_OF)
    messages = str(local.rejected["reasons"].to_list())
    assert "cells, the header has" in messages and "cannot be read" in messages
    assert_same(local, cs.score(policy, "civility", str(path), as_of=AS_OF, partitions=2))
    # a quoted cell holding a line break: the driver reads the file, the rows are the same
    # (another file: Spark keeps the size of a file it has listed for the session)
    path = tmp_path / "households-2.csv"
    path.write_text("\n".join([rows[0], rows[1], 'H11,"two\nlines"' + "," * (width - 2),
                               "", *rows[2:]]) + "\n")
    local = policy.civility.batch(path, as_of=AS_OF)
    assert_same(local, cs.score(policy, "civility", str(path), as_of=AS_OF, partitions=2))


def test_a_column_named_like_a_helper_is_refused(spark: Any, policy: Any,
                                                 tmp_path: Path) -> None:
    """A column civicscore uses itself is refused with local batch's error, or, for a
    name only the Spark steps use, one that says so; never silently overwritten."""
    from civicscore.errors import InputError

    path = tmp_path / "households.csv"
    frame = hard_input("civility").head(3)
    frame.with_columns(pl.lit("1").alias("__row")).write_csv(path)
    with pytest.raises(InputError) as local:
        policy.civility.batch(path, as_of=AS_OF)
    with pytest.raises(InputError) as remote:
        cs.score(policy, "civility", str(path), as_of=AS_OF)
    assert str(remote.value) == str(local.value)
    for name in ("__bucket", "__fid", "__json"):
        frame.with_columns(pl.lit("1").alias(name)).write_csv(path)
        with pytest.raises(InputError, match=f"'{name}'.*on Spark; rename it"):
            cs.score(policy, "civility", str(path), as_of=AS_OF)
        with pytest.raises(InputError, match=f"'{name}'.*on Spark; rename it"):
            cs.score(policy, "civility", spark_frame(spark, frame.with_columns(
                pl.lit("1").alias(name)), 1), as_of=AS_OF)


def test_a_directory_is_read_as_spark_writes_one(spark: Any, policy: Any,
                                                 tmp_path: Path) -> None:
    """A directory's files that start with _ or . (_SUCCESS, .crc) are skipped as Hadoop
    skips them; the others are the rows, numbered file after file in name order."""
    from civicscore.errors import InputError

    frame = hard_input("visits")
    folder = tmp_path / "households"
    folder.mkdir()
    bounds = [0, 5, 6, frame.height]  # the largest file is not the first by name
    for i, (a, b) in enumerate(itertools.pairwise(bounds)):
        frame.slice(a, b - a).write_parquet(folder / f"part-{i:05d}.parquet")
    (folder / "_SUCCESS").write_bytes(b"")
    # (a .crc beside a part file is its checksum, which Hadoop's local reader checks)
    (folder / ".part-00009.parquet.crc").write_bytes(b"not parquet")
    (folder / "_committed_1").write_text("{}")
    local = policy.visits.batch(frame, as_of=AS_OF)
    assert_same(local, cs.score(policy, "visits", folder, as_of=AS_OF, partitions=2))
    empty = tmp_path / "nothing"
    empty.mkdir()
    (empty / "_SUCCESS").write_bytes(b"")
    with pytest.raises(InputError, match=r"no data files.*_SUCCESS"):
        cs.score(policy, "visits", str(empty), as_of=AS_OF)
    texts = tmp_path / "texts"
    texts.mkdir()
    frame.write_csv(texts / "part-00000.csv")
    with pytest.raises(InputError, match="Parquet files only"):
        cs.score(policy, "visits", str(texts), as_of=AS_OF)
    # a file named like one Spark skips, given on its own, is no silent empty input
    for name in ("_households.csv", ".households.parquet"):
        shutil.copy(folder / "part-00000.parquet", tmp_path / name)
        with pytest.raises(InputError, match=r"start with _ or \..*rename the file"):
            cs.score(policy, "visits", str(tmp_path / name), as_of=AS_OF)


@pytest.mark.parametrize("scheme", ["visits", "volunteer"])
def test_the_command_line_writes_the_same_json_on_spark(spark: Any, scheme: str) -> None:
    """``--format json`` on stdout, the summary and the rejects: the same bytes from
    ``--engine spark`` as from ``--engine batch`` (volunteer with its redemptions)."""
    from click.testing import CliRunner

    from civicscore.cli import main

    policy_file = str(ROOT / "policies" / "example-district.toml")
    data = str(ROOT / "examples" / EXAMPLES[scheme])
    extra = ["--with", f"redemptions={ROOT / 'examples' / 'redemptions.csv'}"] \
        if scheme == "volunteer" else []
    written = {}
    for engine in ("batch", "spark"):
        result = CliRunner().invoke(main, [
            "score", policy_file, data, "--scheme", scheme, "--engine", engine, *extra,
            "--as-of", AS_OF.isoformat(), "--format", "json"])
        assert result.exit_code == 0, result.output
        written[engine] = (result.stdout, result.stderr)
    assert written["spark"] == written["batch"]
    assert written["spark"][0].lstrip().startswith("[")


def test_several_scorecards_equal_to_local_batch(spark: Any) -> None:
    """karamay's two scorecards (liaisons, and projects of their own entity) in one input:
    one cohort per scorecard, both in the one bucket an appraisal is decided in."""
    kara = ROOT / "plugins" / "civicscore-karamay" / "examples"
    liaisons = pl.read_csv(kara / "liaisons.csv", infer_schema=False)
    projects = pl.read_csv(kara / "projects.csv", infer_schema=False)
    across = projects.head(1).with_columns(pl.lit("L01").alias("subject_id"))
    frame = pl.concat([projects, liaisons, projects.head(2), liaisons.head(1), across],
                      how="diagonal")  # the repeats are duplicates, one across scorecards
    policy = civicscore.load("karamay")
    local = policy.appraisal.batch(frame, as_of=AS_OF)
    assert set(local.output["scorecard"]) == {"liaisons", "projects"}
    for pieces, partitions in ((3, 1), (4, 2)):
        remote = cs.score(policy, "appraisal", spark_frame(spark, frame, pieces), as_of=AS_OF,
                          partitions=partitions)
        assert_same(local, remote)
