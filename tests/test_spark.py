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
import json
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
    mixed = tmp_path / "mixed"
    mixed.mkdir()
    frame.write_csv(mixed / "part-00000.csv")
    shutil.copy(folder / "part-00001.parquet", mixed / "part-00001.parquet")
    with pytest.raises(InputError, match=r"it holds CSV \(part-00000.csv\) and Parquet"):
        cs.score(policy, "visits", str(mixed), as_of=AS_OF)
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


# --- directories of CSV and JSON Lines files, as Spark jobs write them ------------------


def part_files(scheme: str, folder: Path, kind: str) -> pl.DataFrame:
    """``hard_input`` written as part files as a Spark job writes them (with
    ``_SUCCESS`` and a ``.crc``): the first rows, an empty file, then the rest (every
    id of the first file repeated), with a blank line and a ragged row (CSV) or a line
    that is not JSON and one that is no object (JSON Lines, and a fourth file of one
    line cut short) among them."""
    frame = hard_input(scheme)
    folder.mkdir()
    half = frame.height // 2
    first, rest = frame.head(half), frame.slice(half)
    if kind == "csv":
        (folder / "part-00000.csv").write_text(first.write_csv())
        (folder / "part-00001.csv").write_bytes(b"")
        lines = rest.write_csv().splitlines()
        lines[2:2] = ["", "X1,2"]  # a blank line (3), then a row of two cells (line 4)
        (folder / "part-00002.csv").write_text("\n".join(lines) + "\n")
    else:
        def text(part: pl.DataFrame) -> list[str]:
            return [json.dumps({k: v for k, v in r.items() if v is not None})
                    for r in part.to_dicts()]

        (folder / "part-00000.jsonl").write_text("\n".join(text(first)) + "\n")
        (folder / "part-00001.jsonl").write_bytes(b"")
        lines = text(rest)
        lines[1:1] = ["", '{"broken', "[1, 2]"]  # lines 3 and 4 are no record
        (folder / "part-00002.jsonl").write_text("\n".join(lines) + "\n")
        # a string cut short at the very end (no line break): another error than "\n"
        # inside a string, as in line 3
        (folder / "part-00003.jsonl").write_text('{"cut')
    (folder / "_SUCCESS").write_bytes(b"")
    (folder / f".part-00000.{kind}.crc").write_bytes(b"\x00")
    return first


def assert_per_record_agrees(policy: Any, scheme: str, local: Any, folder: Path) -> None:
    """The per-record run of the directory gives local batch's rows, row for row."""
    from civicscore.io import read_records
    from civicscore.testing import first_difference

    per_record = policy.scheme(scheme).run(read_records(folder), as_of=AS_OF)
    for what, mine, theirs in (
            ("output", list(per_record.output_rows()), list(local.output_rows())),
            ("details", list(per_record.detail_rows()), list(local.detail_rows())),
            ("rejected", per_record.rejected_rows(), local.rejected_rows())):
        assert first_difference(what, mine, theirs) is None, first_difference(
            what, mine, theirs)
    assert per_record.summary() == local.summary()


@pytest.mark.parametrize("kind", ["csv", "jsonl"])
@pytest.mark.parametrize("scheme", ["visits", "civility", "appraisal", "volunteer"])
def test_a_directory_of_text_files_is_one_input(spark: Any, policy: Any, tmp_path: Path,
                                                scheme: str, kind: str) -> None:
    """Three part files (one empty) read as if they were one: rows numbered through the
    whole input, an unreadable row named by its file and its own line, ids of the
    first file repeated in the third rejected as duplicates; Spark, local batch and
    the per-record run give the same rows, over one partition and three."""
    folder = tmp_path / "part-files"
    first = part_files(scheme, folder, kind)
    local = policy.scheme(scheme).batch(folder, as_of=AS_OF)
    rejected = local.rejected
    said = dict(zip(rejected["row"].to_list(),
                    ["; ".join(r) for r in rejected["reasons"].to_list()], strict=True))
    n = first.height
    if kind == "csv":
        cells = first.width
        assert said[n + 2] == f"row {n + 2} (part-00002.csv line 4) has 2 cells, the " \
                              f"header has {cells}"
    else:
        assert said[n + 2].startswith(f"row {n + 2} (part-00002.jsonl line 3) is not "
                                      f"valid JSON: ")
        assert said[n + 3] == f"row {n + 3} (part-00002.jsonl line 4) is not a JSON object"
        last = hard_input(scheme).height + 3
        assert said[last] == f"row {last} (part-00003.jsonl line 1) is not valid JSON: " \
                             f"Unterminated string starting at"
    first_id = first[IDS[scheme]][0]
    assert any(f"{first_id} already appears in row 1" in text for text in said.values())
    assert local.rows_in == hard_input(scheme).height + (1 if kind == "csv" else 3)
    assert_per_record_agrees(policy, scheme, local, folder)
    for partitions in (1, 3):
        assert_same(local, cs.score(policy, scheme, str(folder), as_of=AS_OF,
                                    partitions=partitions))


def test_a_directory_that_is_not_one_input_is_refused_alike(spark: Any, policy: Any,
                                                            tmp_path: Path) -> None:
    """Files of two kinds, CSV headers that differ, a subdirectory: the same message from
    local batch, the per-record reader and Spark, before any row is read."""
    from civicscore.errors import InputError
    from civicscore.io import read_records

    rows = hard_input("visits").head(4)
    cases = {}
    mixed = tmp_path / "mixed"
    mixed.mkdir()
    rows.write_csv(mixed / "part-00000.csv")
    rows.write_ndjson(mixed / "part-00001.jsonl")
    cases[mixed] = (f"{mixed}: a directory is read as one input when its files are all of "
                    f"one kind, and it holds CSV (part-00000.csv) and JSON Lines "
                    f"(part-00001.jsonl); give the files of one kind")
    headers = tmp_path / "headers"
    headers.mkdir()
    rows.write_csv(headers / "part-00000.csv")
    (headers / "part-00001.csv").write_bytes(b"")  # an empty file has no header: fine
    rows.select("household_id", "liaison_id").write_csv(headers / "part-00002.csv")
    cases[headers] = (f"{headers / 'part-00002.csv'}: its header (household_id, liaison_id) "
                      f"differs from the header of part-00000.csv ({', '.join(rows.columns)})"
                      f"; the files of a directory are read as one input, and must have the "
                      f"same columns in the same order")
    nested = tmp_path / "nested"
    (nested / "region=north").mkdir(parents=True)
    rows.write_csv(nested / "region=north" / "part-00000.csv")
    rows.write_csv(nested / "part-00000.csv")
    cases[nested] = (f"{nested}: a directory with subdirectories (region=north); civicscore "
                     f"reads a directory of files of one kind (CSV, JSON Lines, JSON or "
                     f"Parquet), not partition subdirectories; give the files in one "
                     f"directory, or one file")
    for folder, message in cases.items():
        for score in (lambda f=folder: policy.visits.batch(f, as_of=AS_OF),
                      lambda f=folder: list(read_records(f)),
                      lambda f=folder: cs.score(policy, "visits", str(f), as_of=AS_OF)):
            with pytest.raises(InputError) as e:
                score()
            assert str(e.value) == message


def test_the_command_line_scores_a_directory_alike_on_every_engine(spark: Any,
                                                                   tmp_path: Path) -> None:
    """``civicscore score POLICY DIR``: the same results and rejects, byte for byte, with
    --engine per-record, batch and spark."""
    from click.testing import CliRunner

    from civicscore.cli import main

    folder = tmp_path / "households"
    part_files("visits", folder, "csv")
    policy_file = str(ROOT / "policies" / "example-district.toml")
    written = {}
    for engine in ("per-record", "batch", "spark"):
        out, rejects = tmp_path / "out.csv", tmp_path / "rejects.csv"  # named alike
        result = CliRunner().invoke(main, [
            "score", policy_file, str(folder), "--scheme", "visits", "--engine", engine,
            "--as-of", AS_OF.isoformat(), "-o", str(out), "--rejects", str(rejects)])
        assert result.exit_code == 0, result.output
        written[engine] = (out.read_bytes(), rejects.read_bytes(), result.stderr)
    assert written["per-record"] == written["batch"] == written["spark"]
    assert b"part-00002.csv line 4" in written["spark"][1]


def test_a_part_file_whose_cell_holds_a_line_break(spark: Any, policy: Any,
                                                   tmp_path: Path) -> None:
    """A part file with a quoted cell over two lines is read on the driver (as one such
    file is), its rows still numbered after the files before it and its unreadable row
    naming it; the files around it are read by Spark."""
    rows = hard_input("civility").write_csv().splitlines()
    width = rows[0].count(",") + 1
    folder = tmp_path / "parts"
    folder.mkdir()
    (folder / "part-00000.csv").write_text("\n".join(rows[:6]) + "\n")
    (folder / "part-00001.csv").write_text("\n".join(
        [rows[0], 'H11,"two\nlines"' + "," * (width - 2), "H12,1", *rows[6:12]]) + "\n")
    (folder / "part-00002.csv").write_text("\n".join([rows[0], *rows[1:4], "H13"]) + "\n")
    local = policy.civility.batch(folder, as_of=AS_OF)
    said = str(local.rejected["reasons"].to_list())
    assert "row 7 (part-00001.csv line 4) has 2 cells" in said
    assert "row 17 (part-00002.csv line 5) has 1 cells" in said
    assert_same(local, cs.score(policy, "civility", str(folder), as_of=AS_OF, partitions=2))


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


def test_results_written_by_the_executors_equal_local_batch(spark: Any, policy: Any,
                                                           tmp_path: Path) -> None:
    """A result too large for the driver is written from the executors (run().write):
    read back and put in local batch's order, each frame equals local batch's, with the
    columns Spark cannot hold as polars types them (an unsigned count, a Categorical)
    in the signed and plain types that hold them (it failed on an unsigned count)."""
    rows = pl.read_csv(ROOT / "examples" / EXAMPLES["visits"], infer_schema=False)
    local = policy.visits.batch(rows, as_of=AS_OF)
    batch = cs.run(policy, "visits", spark_frame(spark, rows, 3), as_of=AS_OF, partitions=2)
    template = batch._template()
    for kind in ("output", "details", "rejected"):
        batch.write(kind, str(tmp_path / kind))
        written = pl.read_parquet(tmp_path / kind / "*.parquet")
        want = getattr(local, kind)
        got = written.cast(getattr(template, kind).schema, strict=False) if want.width \
            else written
        assert_frame_equal(want, got.sort(*batch.order(kind, got), maintain_order=True))
