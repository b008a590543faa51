"""Reading damaged inputs: every row is read or reported, and whole-file faults are clear."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

import civicscore
from civicscore.errors import InputError
from civicscore.io import read_records, write_rows
from civicscore.records import UnreadableRow

from .conftest import EXAMPLE_POLICY

HEADER = "record_id,volunteer_id,activity,start,end,confirmed,submitted_at\n"
GOOD = "a1,v1,general,2025-03-01T09:00,2025-03-01T11:00,yes,2025-03-01T12:00\n"


def test_csv_ragged_rows_and_blank_lines(tmp_path: Path) -> None:
    path = tmp_path / "in.csv"
    path.write_text("\ufeff" + HEADER + GOOD + "\n" + "a2,v1,general\n" + GOOD.replace("a1", "a3"),
                    encoding="utf-8")
    rows = list(read_records(path))
    assert len(rows) == 3
    assert rows[0]["record_id"] == "a1"  # the byte-order mark is not part of the header
    assert isinstance(rows[1], UnreadableRow) and "has 3 cells, the header has 7" in rows[1].message


def test_csv_duplicate_header_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "in.csv"
    path.write_text("a,b,a\n1,2,3\n", encoding="utf-8")
    with pytest.raises(InputError, match="column names appear twice: a"):
        list(read_records(path))


def test_jsonl_truncated_and_non_objects(tmp_path: Path) -> None:
    path = tmp_path / "in.jsonl"
    path.write_text('{"record_id": "a1"}\n[1, 2]\n\n{"record_id": "a2", "volu', encoding="utf-8")
    rows = list(read_records(path))
    assert rows[0] == {"record_id": "a1"}
    assert isinstance(rows[1], UnreadableRow) and "not a JSON object" in rows[1].message
    assert isinstance(rows[2], UnreadableRow) and "(line 4) is not valid JSON" in rows[2].message


def test_non_utf8_names_the_line(tmp_path: Path) -> None:
    path = tmp_path / "in.csv"
    path.write_bytes(HEADER.encode() + "a1,v1,巡逻\n".encode("gbk"))
    with pytest.raises(InputError, match=r"in.csv:2: the file is not UTF-8"):
        list(read_records(path))


def test_json_list_and_unknown_extension(tmp_path: Path) -> None:
    path = tmp_path / "in.json"
    path.write_text('[{"record_id": "a"}, 3]', encoding="utf-8")
    rows = list(read_records(path))
    assert rows[0] == {"record_id": "a"} and isinstance(rows[1], UnreadableRow)
    with pytest.raises(InputError, match="unknown file type"):
        read_records(tmp_path / "in.txt")


def test_rows_are_conserved_through_scoring(tmp_path: Path) -> None:
    path = tmp_path / "in.jsonl"
    good = ('{"record_id": "%s", "volunteer_id": "v1", "activity": "general", '
            '"start": "2025-03-0%dT09:00", "end": "2025-03-0%dT10:00", "confirmed": true, '
            '"submitted_at": "2025-03-0%dT12:00"}\n')
    path.write_text(good % ("a", 1, 1, 1) + "not json\n" + good % ("b", 2, 2, 2) + '{"x": 1',
                    encoding="utf-8")
    policy = civicscore.load(EXAMPLE_POLICY)
    result = policy.volunteer.evaluate(read_records(path), as_of=dt.date(2025, 12, 31))
    assert len(result.records) == 4
    assert len(result.scored) + len(result.rejected) == 4
    assert [d.reason_codes[0] for d in result.rejected] == ["UNREADABLE_ROW", "UNREADABLE_ROW"]


def test_parquet_round_trip(tmp_path: Path) -> None:
    pytest.importorskip("pyarrow")
    rows = [{"record_id": f"a{i}", "n": i, "day": dt.date(2025, 1, 1)} for i in range(3)]
    path = tmp_path / "x.parquet"
    assert write_rows(rows, path) == 3
    back = list(read_records(path))
    assert [r["record_id"] for r in back] == ["a0", "a1", "a2"]


def test_damaged_parquet_is_an_input_error(tmp_path: Path) -> None:
    pytest.importorskip("pyarrow")
    path = tmp_path / "x.parquet"
    path.write_bytes(b"PAR1 truncated")
    with pytest.raises(InputError, match="not a readable Parquet file"):
        read_records(path)


def _two_id_columns(path: Path) -> Path:
    pa = pytest.importorskip("pyarrow")
    pq = pytest.importorskip("pyarrow.parquet")
    table = pa.table([pa.array(["h1", "h2"]), pa.array([80, 90]), pa.array(["x1", "x2"])],
                     names=["household_id", "age_oldest", "household_id"])
    pq.write_table(table, path)
    return path


def test_parquet_with_two_columns_of_one_name_is_refused(tmp_path: Path) -> None:
    path = _two_id_columns(tmp_path / "in.parquet")
    with pytest.raises(InputError, match="column names appear twice: household_id"):
        list(read_records(path))


@pytest.mark.parametrize("engine", ["per-record", "batch"])
def test_parquet_with_two_columns_of_one_name_exits_2_in_both_engines(tmp_path: Path,
                                                                       engine: str) -> None:
    from click.testing import CliRunner

    from civicscore.cli import main

    if engine == "batch":
        pytest.importorskip("polars")
    path = _two_id_columns(tmp_path / "in.parquet")
    r = CliRunner().invoke(main, ["score", str(EXAMPLE_POLICY), str(path), "--scheme", "visits",
                                  "--engine", engine, "-o", str(tmp_path / "o.csv")])
    assert r.exit_code == 2
    assert "Traceback" not in r.output
    assert r.stderr.strip() == (f"civicscore: error: {path}: column names appear twice: "
                                f"household_id (columns 1 and 3) (give each column its own "
                                f"name)")


def test_json_output_is_one_array_and_jsonl_one_object_a_line(tmp_path: Path) -> None:
    rows = [{"a": 1, "d": dt.date(2025, 1, 2), "l": ["x", "y"]}, {"a": 2, "d": None, "l": []}]
    write_rows(rows, tmp_path / "o.json")
    text = (tmp_path / "o.json").read_text(encoding="utf-8")
    assert text == '[\n  {\n    "a": 1,\n    "d": "2025-01-02",\n    "l": [\n      "x",\n' \
                   '      "y"\n    ]\n  },\n  {\n    "a": 2,\n    "d": null,\n    "l": []\n' \
                   '  }\n]\n'
    import json

    assert json.loads(text) == [{"a": 1, "d": "2025-01-02", "l": ["x", "y"]},
                                {"a": 2, "d": None, "l": []}]
    write_rows([], tmp_path / "e.json")
    assert (tmp_path / "e.json").read_text(encoding="utf-8") == "[]\n"
    write_rows(rows, tmp_path / "o.jsonl")
    assert len((tmp_path / "o.jsonl").read_text(encoding="utf-8").splitlines()) == 2


# --- a frame is written as its rows are (the batch engine's CSV) ---------------------------

pl = pytest.importorskip("polars")
from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from civicscore.io import write_frame  # noqa: E402

_TEXT = st.one_of(st.none(), st.sampled_from(["", " ", "a,b", 'say "hi"', "two\nlines", "cr\r",
                                               "区", "x; y", "None"]), st.text(max_size=6))
_COLUMNS = {
    "s": (pl.String, _TEXT),
    "i": (pl.Int64, st.one_of(st.none(), st.integers(-(2**53), 2**53))),
    "b": (pl.Boolean, st.one_of(st.none(), st.booleans())),
    "d": (pl.Date, st.one_of(st.none(), st.dates(dt.date(1, 1, 1), dt.date(9999, 12, 31)))),
    "f": (pl.Float64, st.one_of(st.none(), st.floats(), st.sampled_from(
        [0.0, -0.0, 1e-4, 9.99e-5, 1e16, 9999999999999998.0, 0.1 + 0.2, 90.0])) ),
    "l": (pl.List(pl.String), st.one_of(st.none(), st.lists(st.one_of(_TEXT.filter(
        lambda t: t is not None), st.none()), max_size=3))),
}


@st.composite
def frames(draw: st.DrawFn) -> object:
    names = draw(st.lists(st.sampled_from(sorted(_COLUMNS)), min_size=1, max_size=6,
                          unique=True))
    n = draw(st.integers(0, 6))
    data = {name: pl.Series(name, [draw(_COLUMNS[name][1]) for _ in range(n)],
                            dtype=_COLUMNS[name][0]) for name in names}
    return pl.DataFrame(data)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(frames(), st.sampled_from(["csv", "jsonl", "json"]))
def test_a_frame_is_written_byte_for_byte_as_its_rows(tmp_path_factory, frame,
                                                      fmt: str) -> None:
    """The batch engine's frames and the per-record rows make the same files."""
    where = tmp_path_factory.mktemp(fmt)
    write_frame(frame, where / f"frame.{fmt}")
    write_rows(frame.to_dicts(), where / f"rows.{fmt}")
    assert (where / f"frame.{fmt}").read_bytes() == (where / f"rows.{fmt}").read_bytes()


def test_csv_of_a_frame_with_tricky_values(tmp_path: Path) -> None:
    frame = pl.DataFrame({"only": ["", "a", None, 'q"']})  # a lone column quotes ""
    write_frame(frame, tmp_path / "a.csv")
    write_rows(frame.to_dicts(), tmp_path / "b.csv")
    assert (tmp_path / "a.csv").read_bytes() == (tmp_path / "b.csv").read_bytes()
    floats = pl.DataFrame({"x": [1e-5, 1e300, float("inf"), float("nan"), None, 2.5]})
    write_frame(floats, tmp_path / "f.csv")
    assert (tmp_path / "f.csv").read_text().split() == ["x", "1e-05", "1e+300", '""', '""',
                                                        '""', "2.5"]


def test_a_table_with_two_columns_of_one_name_is_refused_by_batch() -> None:
    pa = pytest.importorskip("pyarrow")
    table = pa.table([pa.array(["h1"]), pa.array([80]), pa.array(["x"])],
                     names=["household_id", "age_oldest", "household_id"])
    policy = civicscore.load(EXAMPLE_POLICY)
    with pytest.raises(InputError, match="the pyarrow table: column names appear twice: "
                                         "household_id"):
        policy.visits.batch(table, as_of=dt.date(2025, 12, 31))


# --- a directory of files, read as one input ------------------------------------------


def test_a_directory_is_its_files_one_after_another(tmp_path: Path) -> None:
    """Files in name order (``_`` and ``.`` names skipped), each CSV with its own header,
    rows numbered through the whole input, an unreadable row naming its file and line;
    local batch numbers and words the rows alike, in English and in Chinese."""
    from civicscore import record_words as rw

    folder = tmp_path / "parts"
    folder.mkdir()
    (folder / "part-00000.csv").write_text(HEADER + GOOD + GOOD.replace("a1", "a2"))
    (folder / "part-00001.csv").write_bytes(b"")  # an empty file: no rows
    (folder / "part-00002.csv").write_text(HEADER + "\n" + "a3,v1\n" + GOOD)
    (folder / "_SUCCESS").write_bytes(b"")
    (folder / ".part-00000.csv.crc").write_bytes(b"\x00")
    rows = list(read_records(folder))
    assert [r["record_id"] for r in rows if not isinstance(r, UnreadableRow)] == ["a1", "a2",
                                                                                  "a1"]
    from civicscore.columns import column_names  # for the warning of a column missing

    assert column_names(folder) == HEADER.strip().split(",")
    bad = rows[2]
    assert isinstance(bad, UnreadableRow) and bad.row == 3
    assert bad.message == "row 3 (part-00002.csv line 3) has 2 cells, the header has 7"
    assert rw.unreadable(bad.message, "zh") == \
        "第 3 行（part-00002.csv 第 3 行）有 2 个单元格，表头有 7 个"
    pl = pytest.importorskip("polars")
    from civicscore.batch.frames import ROW, UNREADABLE, read_source

    frame = read_source(folder)
    assert frame[ROW].to_list() == [1, 2, 3, 4]
    assert frame[UNREADABLE].to_list() == [None, None, bad.message, None]
    said = pl.select(rw.unreadable_expr(pl.Series([bad.message]), "zh")).to_series()
    assert said.to_list() == [rw.unreadable(bad.message, "zh")]


def test_a_directory_of_json_files_and_of_parquet_files(tmp_path: Path) -> None:
    """``.jsonl`` and ``.ndjson`` are JSON Lines, ``.json`` a JSON list (as each file is
    read alone); Parquet files are concatenated, in both engines."""
    lines = tmp_path / "lines"
    lines.mkdir()
    (lines / "a.jsonl").write_text('{"record_id": "a1"}\n')
    (lines / "b.ndjson").write_text('\n[1]\n{"record_id": "a2"}\n')
    rows = list(read_records(lines))
    assert isinstance(rows[1], UnreadableRow)
    assert rows[1].message == "row 2 (b.ndjson line 2) is not a JSON object"
    assert rows[2] == {"record_id": "a2"}
    lists = tmp_path / "lists"
    lists.mkdir()
    (lists / "a.json").write_text('[{"record_id": "a1"}]')
    (lists / "b.json").write_text('[{"record_id": "a2"}, 7]')
    rows = list(read_records(lists))
    assert isinstance(rows[2], UnreadableRow)
    assert rows[2].message == "row 3 (b.json item 2) is not a JSON object"
    pytest.importorskip("pyarrow")
    pl = pytest.importorskip("polars")
    from civicscore.batch.frames import ROW, read_source

    tables = tmp_path / "tables"
    tables.mkdir()
    pl.DataFrame({"record_id": ["a1", "a2"]}).write_parquet(tables / "part-0.parquet")
    pl.DataFrame({"record_id": ["a3"]}).write_parquet(tables / "part-1.pq")
    assert [r["record_id"] for r in read_records(tables)] == ["a1", "a2", "a3"]
    assert read_source(tables)[ROW].to_list() == [1, 2, 3]
    pl.DataFrame({"id": ["a4"]}).write_parquet(tables / "part-2.parquet")
    with pytest.raises(InputError, match=r"part-2.parquet: its columns \(id\) differ from "
                                         r"the columns of part-0.parquet \(record_id\)"):
        read_source(tables)


@pytest.mark.parametrize(("files", "message"), [
    ({"a.csv": HEADER, "b.parquet": ""},
     "{d}: a directory is read as one input when its files are all of one kind, and it "
     "holds CSV (a.csv) and Parquet (b.parquet); give the files of one kind"),
    ({"a.jsonl": "", "b.json": "[]"},
     "{d}: a directory is read as one input when its files are all of one kind, and it "
     "holds JSON Lines (a.jsonl) and JSON (b.json); give the files of one kind"),
    ({"a.csv": HEADER, "b.txt": ""},
     "{d}: b.txt is not a file civicscore reads in a directory (its files are all .csv, "
     "all .jsonl or .ndjson, all .json or all .parquet)"),
    ({"a.csv": "a,b\n", "b.csv": "a, b ,c\n"},
     "{d}/b.csv: its header (a, b, c) differs from the header of a.csv (a, b); the files "
     "of a directory are read as one input, and must have the same columns in the same "
     "order"),
    ({"_SUCCESS": ""},
     "{d}: a directory with no data files (it holds _SUCCESS; names that start with _ or . "
     "are skipped, as Spark and Hadoop skip them)"),
])
def test_a_directory_that_is_not_one_input_is_refused(tmp_path: Path, files: dict[str, str],
                                                      message: str) -> None:
    for name, text in files.items():
        (tmp_path / name).write_text(text)
    with pytest.raises(InputError) as e:
        read_records(tmp_path)
    assert str(e.value) == message.format(d=tmp_path)


def test_the_command_line_scores_a_directory(tmp_path: Path) -> None:
    """``civicscore score POLICY DIR``: per-record and batch write the same bytes."""
    pytest.importorskip("polars")
    from click.testing import CliRunner

    from civicscore.cli import main

    folder = tmp_path / "parts"
    folder.mkdir()
    (folder / "part-00000.csv").write_text(HEADER + GOOD)
    (folder / "part-00001.csv").write_text(HEADER + "a2,v1\n" + GOOD)
    written = []
    for engine in ("per-record", "batch"):
        out, rejects = tmp_path / "out.csv", tmp_path / "rejects.csv"
        result = CliRunner().invoke(main, [
            "score", str(EXAMPLE_POLICY), str(folder), "--scheme", "volunteer", "--engine",
            engine, "--as-of", "2025-12-31", "-o", str(out), "--rejects", str(rejects)])
        assert result.exit_code == 0, result.output
        written.append((out.read_bytes(), rejects.read_bytes(), result.stderr))
    assert written[0] == written[1]
    assert b"row 2 (part-00001.csv line 2) has 2 cells" in written[0][1]
    assert b"already appears in row 1" in written[0][1]
