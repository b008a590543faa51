"""JSON input on Spark decides exactly what local batch decides from the same file.

The files are made hard for a reader: a byte-order mark, CRLF line ends, blank lines
(no record, yet they count as lines), a line that is not JSON and one that is not an
object (``UNREADABLE_ROW`` with the reader's row and line numbers), an id given as a
number in one record and as text in the others (a column of two Python types, coerced
value by value), a field some records lack, every id repeated far away under another
group. Spark reads the text in many small partitions (``maxPartitionBytes``), so lines
of one file land in several partitions and the row numbers must be counted over the
whole file.
"""

from __future__ import annotations

import datetime as dt
import json
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

pl = pytest.importorskip("polars")
pytest.importorskip("pyspark")
pytest.importorskip("pandas")
if shutil.which("java") is None:  # pragma: no cover - .ci/run installs it
    pytest.skip("Spark needs Java (.ci/run installs openjdk-17-jre-headless)",
                allow_module_level=True)

from polars.testing import assert_frame_equal  # noqa: E402

import civicscore  # noqa: E402
from civicscore import spark as cs  # noqa: E402
from civicscore.errors import InputError  # noqa: E402
from civicscore.io import read_records  # noqa: E402
from civicscore.records import UnreadableRow  # noqa: E402
from civicscore.spark.json_input import line_record  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
AS_OF = dt.date(2026, 3, 1)
EXAMPLES = {"visits": ("visits-households.csv", "household_id", "liaison_id"),
            "volunteer": ("volunteer-activities.csv", "record_id", "volunteer_id")}


@pytest.fixture(scope="module")
def spark() -> Iterator[Any]:
    session = cs.session("local[2]")
    # a few hundred bytes a partition: one file's lines spread over many partitions
    session.conf.set("spark.sql.files.maxPartitionBytes", "400")
    yield session
    session.stop()


@pytest.fixture(scope="module")
def policy() -> Any:
    return civicscore.load(ROOT / "policies" / "example-district.toml")


def records(scheme: str) -> list[dict[str, Any]]:
    """The example rows, then again with the group rotated (every id repeated far away,
    under another liaison or volunteer), one id a number, one field left out."""
    name, id_field, group = EXAMPLES[scheme]
    rows = pl.read_csv(ROOT / "examples" / name, infer_schema=False).to_dicts()
    rows = [{k: v for k, v in r.items() if v is not None} for r in rows]
    groups = [r.get(group) for r in rows]
    again = [{**{k: v for k, v in r.items() if k != group}, **({group: g} if g else {})}
             for r, g in zip(rows, groups[1:] + groups[:1], strict=True)]
    out = rows + again
    out[1] = dict(out[1], **{id_field: 7})  # a number among text ids
    out[2] = {k: v for k, v in out[2].items() if k != group}  # no group field at all
    return out


def jsonl_text(items: list[Any]) -> str:
    """JSON Lines with a BOM, CRLF ends, blank lines and two lines that are no record."""
    lines = [json.dumps(r, ensure_ascii=False) for r in items]
    lines.insert(3, "")
    lines.insert(5, "   \t")
    lines.insert(8, '{"household_id": "X1", broken')
    lines.insert(12, '["a", "list"]')
    ends = ["\r\n" if i % 3 == 0 else "\n" for i in range(len(lines))]
    return "\ufeff" + "".join(line + end for line, end in zip(lines, ends, strict=True))


def assert_same(local: Any, remote: Any) -> None:
    for kind in ("output", "details", "rejected"):
        assert_frame_equal(getattr(local, kind), getattr(remote, kind), check_exact=True)
    assert remote.rows_in == local.rows_in
    assert remote.summary() == local.summary()


@pytest.mark.parametrize("scheme", ["visits", "volunteer"])
def test_json_lines_equal_to_local_batch(spark: Any, policy: Any, scheme: str,
                                         tmp_path: Path) -> None:
    path = tmp_path / "input.jsonl"
    path.write_text(jsonl_text(records(scheme)), encoding="utf-8", newline="")
    local = policy.scheme(scheme).batch(path, as_of=AS_OF)
    codes = set(local.rejected["reason_codes"].explode().to_list())
    assert "UNREADABLE_ROW" in codes  # the input does hold lines that are no record
    for partitions in (1, 3):
        assert_same(local, cs.score(policy, scheme, str(path), as_of=AS_OF,
                                    partitions=partitions))


def test_a_json_array_equal_to_local_batch(spark: Any, policy: Any, tmp_path: Path) -> None:
    path = tmp_path / "input.json"
    items: list[Any] = records("volunteer")
    items.insert(4, "not an object")
    items.insert(9, {"record_id": "F1", "volunteer_id": "V01", "start": 3.5})
    path.write_text(json.dumps(items, ensure_ascii=False, indent=1), encoding="utf-8")
    local = policy.volunteer.batch(path, as_of=AS_OF)
    assert local.rejected.height
    for partitions in (2, 4):
        assert_same(local, cs.score(policy, "volunteer", str(path), as_of=AS_OF,
                                    partitions=partitions))


def test_every_line_reads_as_the_per_record_reader_reads_it(tmp_path: Path) -> None:
    lines = ['{"a": 1}', "not json", "[1, 2]", '"text"', "1" * 5000, "[" * 100_000,
             '{"a": NaN}', '{"a": 1} {"b": 2}', "{}"]
    path = tmp_path / "lines.jsonl"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    read = list(read_records(path))
    assert len(read) == len(lines)
    for n, (line, expected) in enumerate(zip(lines, read, strict=True), start=1):
        value, message = line_record(line, n, n)
        if isinstance(expected, UnreadableRow):
            assert (value, message) == (None, expected.message)
        else:
            assert (value, message) == (expected, None)


def test_bytes_that_are_not_utf8_are_refused_as_local_batch_refuses_them(
        spark: Any, policy: Any, tmp_path: Path) -> None:
    path = tmp_path / "gbk.jsonl"
    path.write_bytes(b'{"household_id": "H1"}\n' + '{"household_id": "张三"}\n'.encode("gbk"))
    with pytest.raises(InputError) as local:
        policy.visits.batch(path, as_of=AS_OF)
    with pytest.raises(InputError) as remote:
        cs.score(policy, "visits", str(path), as_of=AS_OF, partitions=2)
    assert str(remote.value) == str(local.value)


def test_a_real_replacement_character_is_a_value(spark: Any, policy: Any,
                                                 tmp_path: Path) -> None:
    path = tmp_path / "fffd.jsonl"
    rows = records("visits")[:4]
    rows[0] = dict(rows[0], household_id="H\ufffd1")
    path.write_text("\n".join(json.dumps(r) for r in rows) + "\n", encoding="utf-8")
    assert_same(policy.visits.batch(path, as_of=AS_OF),
                cs.score(policy, "visits", str(path), as_of=AS_OF, partitions=2))


def test_a_directory_of_json_lists_equal_to_local_batch(spark: Any, policy: Any,
                                                       tmp_path: Path) -> None:
    """``.json`` part files are JSON lists, as one ``.json`` file is: read on the driver,
    their rows numbered through the directory, an item that is no object named by its
    file and its place in the list."""
    items: list[Any] = records("volunteer")
    folder = tmp_path / "lists"
    folder.mkdir()
    (folder / "part-0.json").write_text(json.dumps(items[:5]), encoding="utf-8")
    (folder / "part-1.json").write_text(json.dumps([*items[5:], "no object"]),
                                        encoding="utf-8")
    (folder / "_SUCCESS").write_bytes(b"")
    local = policy.volunteer.batch(folder, as_of=AS_OF)
    said = str(local.rejected["reasons"].to_list())
    assert f"row {len(items) + 1} (part-1.json item {len(items) - 4}) is not a JSON " \
           f"object" in said
    assert_same(local, cs.score(policy, "volunteer", str(folder), as_of=AS_OF, partitions=2))
