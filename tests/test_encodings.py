"""CSV files as Excel writes them on a Chinese Windows: GBK / GB18030 in (named with
``--encoding``, never guessed), a UTF-8 byte-order mark accepted, and CSV files written with the mark by default
(``--no-bom`` turns it off) so that Excel opens them without mojibake. The files are real bytes written here."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from civicscore.cli import main
from civicscore.errors import InputError, UsageError
from civicscore.io import read_records

from .conftest import EXAMPLE_POLICY, EXAMPLES

VISITS = EXAMPLES / "visits-households.csv"


def run(*args: Any) -> Any:
    result = CliRunner().invoke(main, [str(a) for a in args], catch_exceptions=False)
    assert "Traceback" not in result.output + result.stderr
    return result


def chinese_households() -> str:
    """The example households with Chinese ids and liaisons (what officers' files hold)."""
    text = VISITS.read_text(encoding="utf-8")
    return text.replace("H00", "户").replace("G0", "网格员")


def score(path: Path, out: Path, *extra: Any) -> Any:
    return run("score", EXAMPLE_POLICY, "--scheme", "visits", path, "--as-of", "2025-12-31",
               "-o", out, *extra)


@pytest.mark.parametrize("engine", ["per-record", "batch"])
@pytest.mark.parametrize("encoding", ["gbk", "gb18030", "GB18030", "cp936"])
def test_a_gbk_export_scores_as_its_utf8_twin(tmp_path: Path, engine: str,
                                              encoding: str) -> None:
    utf8 = tmp_path / "utf8.csv"
    utf8.write_text(chinese_households(), encoding="utf-8")
    gbk = tmp_path / "gbk.csv"
    gbk.write_bytes(chinese_households().replace("\n", "\r\n").encode("gbk"))
    r = score(utf8, tmp_path / "a.jsonl", "--engine", engine)
    assert r.exit_code == 0, r.stderr
    r = score(gbk, tmp_path / "b.jsonl", "--engine", engine, "--encoding", encoding)
    assert r.exit_code == 0, r.stderr
    assert (tmp_path / "a.jsonl").read_bytes() == (tmp_path / "b.jsonl").read_bytes()
    assert "户1" in (tmp_path / "b.jsonl").read_text(encoding="utf-8")


def test_a_gbk_file_without_encoding_says_which_to_pass(tmp_path: Path) -> None:
    gbk = tmp_path / "gbk.csv"
    gbk.write_bytes(chinese_households().encode("gbk"))
    for engine in ("per-record", "batch"):
        r = score(gbk, tmp_path / "out.jsonl", "--engine", engine)
        assert r.exit_code == 2
        assert f"{gbk}:2: the file is not UTF-8 text; it reads as GB18030: add --encoding " \
               f"gb18030" in r.stderr
        assert not (tmp_path / "out.jsonl").exists()


def test_big5_is_named_and_other_bytes_get_the_general_advice(tmp_path: Path) -> None:
    big5 = tmp_path / "big5.csv"
    big5.write_bytes(b"household_id\n" + "戶一\n".encode("big5"))
    # the message names the encoding the line reads as Chinese in (GB18030 is tried first,
    # what a mainland office's file is); the reader never picks one by itself
    with pytest.raises(InputError, match="it reads as Big5: add --encoding big5"):
        list(read_records(big5))
    assert list(read_records(big5, encoding="big5")) == [{"household_id": "戶一"}]
    latin = tmp_path / "latin.csv"
    latin.write_bytes(b"household_id\n" + "café\n".encode("latin-1"))
    with pytest.raises(InputError, match=r"latin\.csv:2: the file is not UTF-8 text; save it "
                                         r"as UTF-8 \(Excel: 'CSV UTF-8'\), or name its "
                                         r"encoding with --encoding"):
        list(read_records(latin))


def test_gb18030_characters_beyond_gbk(tmp_path: Path) -> None:
    """A name with a character GBK lacks (four bytes in GB18030) reads right."""
    path = tmp_path / "names.csv"
    path.write_bytes("household_id,name\nH1,吉𠮷\n".encode("gb18030"))
    assert list(read_records(path, encoding="gb18030")) == [{"household_id": "H1",
                                                             "name": "吉𠮷"}]
    with pytest.raises(InputError, match=r"names\.csv:2: the file is not gbk text"):
        list(read_records(path.with_name("names.csv"), encoding="gbk"))


def test_byte_order_marks_on_input(tmp_path: Path) -> None:
    path = tmp_path / "bom.csv"
    path.write_bytes(b"\xef\xbb\xbf" + chinese_households().encode("utf-8"))
    rows = list(read_records(path))
    assert next(iter(rows[0])) == "household_id"  # the mark is not part of the first name
    gb_bom = tmp_path / "gb-bom.csv"  # GB18030's own byte-order mark
    gb_bom.write_bytes("\ufeff".encode("gb18030") + chinese_households().encode("gb18030"))
    assert list(read_records(gb_bom, encoding="gb18030")) == rows
    jsonl = tmp_path / "bom.jsonl"
    jsonl.write_bytes(b"\xef\xbb\xbf" + '{"household_id": "户1"}\n'.encode())
    assert list(read_records(jsonl)) == [{"household_id": "户1"}]


def test_encodings_that_cannot_be_read_are_refused(tmp_path: Path) -> None:
    path = tmp_path / "in.csv"
    path.write_text(chinese_households(), encoding="utf-8")
    with pytest.raises(UsageError, match="'utf-16': files in utf-16 cannot be read"):
        read_records(path, encoding="utf-16")
    r = score(path, tmp_path / "o.jsonl", "--encoding", "gbx")
    assert r.exit_code == 2 and "--encoding 'gbx': not an encoding Python knows" in r.stderr


@pytest.mark.parametrize("engine", ["per-record", "batch"])
def test_bom_output_for_excel(tmp_path: Path, engine: str) -> None:
    source = tmp_path / "in.csv"
    source.write_text(chinese_households(), encoding="utf-8")
    plain, marked = tmp_path / "plain.csv", tmp_path / "marked.csv"
    rejects, details = tmp_path / "rejects.csv", tmp_path / "details.csv"
    assert score(source, plain, "--engine", engine, "--no-bom").exit_code == 0
    assert not plain.read_bytes().startswith(b"\xef\xbb\xbf")
    default = tmp_path / "default.csv"
    assert score(source, default, "--engine", engine).exit_code == 0
    r = score(source, marked, "--engine", engine, "--bom", "--rejects", rejects,
              "--details", details)
    assert r.exit_code == 0, r.stderr
    # the mark is on by default and --bom says the same; the bytes after it are --no-bom's
    assert marked.read_bytes() == b"\xef\xbb\xbf" + plain.read_bytes()
    assert default.read_bytes() == marked.read_bytes()
    assert rejects.read_bytes().startswith(b"\xef\xbb\xbfinput,row,id")
    assert details.read_bytes().startswith(b"\xef\xbb\xbf")
    assert "户1" in marked.read_text(encoding="utf-8-sig")
    # stdout is read by programs: never a mark, even with --bom
    r = run("score", EXAMPLE_POLICY, "--scheme", "visits", source, "--as-of", "2025-12-31",
            "--format", "csv", "--bom", "--engine", engine)
    assert r.exit_code == 0 and r.stdout.startswith("row,household_id")
    # and a file written with the mark reads back as input
    assert list(read_records(marked)) == list(read_records(plain))
