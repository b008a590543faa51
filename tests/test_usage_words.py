"""Input and usage errors told in Chinese: each template of ``usage_words`` is raised by
the code that raises it (so English the table does not follow fails here), reads back
into Chinese, and the command line says it in the officer's language."""

from __future__ import annotations

import errno
import re
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

import civicscore
from civicscore import usage_words
from civicscore.cli import main
from civicscore.errors import CivicScoreError
from civicscore.io import cannot_write, output_format, read_records

from .conftest import EXAMPLE_POLICY


def _slots(template: str) -> set[str]:
    return {s[:-3] if s.endswith("_zh") else s for s in re.findall(r"\{(\w+)\}", template)}


@pytest.mark.parametrize("name", sorted(usage_words.ERRORS))
def test_every_error_is_in_both_languages(name: str) -> None:
    texts = usage_words.ERRORS[name]
    assert set(texts) == {"en", "zh"}
    assert _slots(texts["zh"]) == _slots(texts["en"])
    assert re.search(r"[\u4e00-\u9fff]", texts["zh"])


def _error(make: Any) -> str:
    with pytest.raises((CivicScoreError, OSError)) as e:
        make()
    return str(e.value)


def _write(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


def _raised(tmp_path: Path) -> dict[str, str]:
    """Each template's error, raised by the code that raises it."""
    policy = civicscore.load(EXAMPLE_POLICY)
    return {
        "no_such_file": _error(lambda: list(read_records(tmp_path / "none.csv"))),
        "unknown_file_type": _error(lambda: list(read_records(
            _write(tmp_path / "x.txt", b"a\n")))),
        "cannot_write": str(cannot_write(tmp_path / "no" / "x.csv",
                                         FileNotFoundError(errno.ENOENT, "x"))),
        "read_only_kind": _error(lambda: output_format("out.xlsx")),
        "not_codec": _error(lambda: list(read_records(
            _write(tmp_path / "gbk.csv", "id,名字\n1,张三\n".encode("gbk")), encoding="utf-8"))),
        "unknown_encoding": _error(lambda: list(read_records(
            _write(tmp_path / "e.csv", b"a\n1\n"), encoding="klingon"))),
        "not_valid_json": _error(lambda: list(read_records(
            _write(tmp_path / "bad.json", b"[{\"a\": 1,]")))),
        "json_list": _error(lambda: list(read_records(_write(tmp_path / "o.json", b"{}")))),
        "unclosed_quote": _error(lambda: list(read_records(
            _write(tmp_path / "q.csv", b'a,b\n1,"open\n2,3\n')))),
        "no_section": _error(lambda: policy.scheme("visitz")),
        "not_utf8_guessed": _error(lambda: list(read_records(
            _write(tmp_path / "gbk2.csv", "id,名字\n1,张三\n".encode("gbk"))))),
    }


def test_each_error_as_raised_reads_back_into_chinese(tmp_path: Path) -> None:
    raised = _raised(tmp_path)
    for name, message in raised.items():
        said = usage_words.zh(message)
        assert said != message, (name, message)
        assert re.search(r"[\u4e00-\u9fff]", said), (name, said)
        found = next(n for n, p in usage_words._PATTERNS if p.fullmatch(message))
        assert found == name, (name, found, message)


def test_the_operating_systems_reason_is_in_chinese_too(tmp_path: Path) -> None:
    message = str(cannot_write(tmp_path / "no" / "x.csv", FileNotFoundError(errno.ENOENT, "x")))
    assert usage_words.zh(message) == (f"无法写入 {tmp_path / 'no' / 'x.csv'}：目录不存在；"
                                       f"没有写入任何内容")
    assert usage_words.zh("nothing like a template") == "nothing like a template"


def test_the_command_line_says_it_in_the_officers_language(tmp_path: Path) -> None:
    args = ["score", str(EXAMPLE_POLICY), "--scheme", "visits", str(tmp_path / "none.csv"),
            "--as-of", "2025-12-31"]
    zh = CliRunner().invoke(main, ["--lang", "zh", *args])
    en = CliRunner().invoke(main, ["--lang", "en", *args])
    assert zh.exit_code == en.exit_code == 2
    assert f"civicscore：错误：{tmp_path / 'none.csv'}：文件不存在" in zh.output
    assert f"civicscore: error: {tmp_path / 'none.csv'}: no such file" in en.output
    both = CliRunner().invoke(main, ["--lang", "zh", *args, "--format", "json"])
    import json

    error = json.loads(both.stdout)
    assert error["message"] == f"{tmp_path / 'none.csv'}: no such file"
    assert error["message_zh"] == f"{tmp_path / 'none.csv'}：文件不存在"
