"""The console and Python examples in docs/ run, and print what the pages say they print.

Each page's ``console`` blocks run in order in a folder of their own, as a reader's
folder would be: the repository's ``policies/``, ``examples/`` and ``plugins/``, and the
files that ship with the docs (``docs/files/``), which the pages name by their bare
names (``civicscore check my-street.toml``). ``$ civicscore ...`` runs the command line
in process; a command with a pipe or a redirect, or another program (``cat``, ``cut``),
runs in a shell with ``civicscore`` as this Python's ``-m civicscore``. Every line a page
shows under a command must be a line of its output (runs of spaces and of a table's
border characters count as one, and a table's words must come in the order shown,
however its width wrapped them; ``...`` stands for lines left out).

Not every block runs yet: the commands in ``PENDING`` need files the page describes but
does not ship (a page of typo variants such as expressions.md's ``expr-demo.toml``),
or a Spark cluster; each entry says why, and each is a command to make runnable by
shipping its file in docs/files/. A page or command not listed must run.
"""

from __future__ import annotations

import contextlib
import io
import os
import re
import shlex
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from click.testing import CliRunner

from civicscore.cli import main

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
FENCE = re.compile(r"^```(\w*)[^\n]*\n(.*?)^```", re.M | re.S)

# page -> why its console commands do not run yet (the whole page)
PENDING_PAGES = {
    "expressions.md": "its commands check variants of expr-demo.toml written in comments "
                      "(`# when = ...`), not files",
    "policy-format.md": "typo.toml, syntax.toml, meta.toml and the other demo files are "
                        "shown in part or not at all",
}
# (page, start of the command) -> why it does not run yet
PENDING = {
    ("index.md", "civicscore score caps.toml"): "caps.toml and caps.csv are not shown",
    ("index.md", "civicscore score missing.toml"): "missing.toml is not shown",
    ("index.md", "civicscore explain caps.toml"): "caps.toml is not shown",
    ("appraisal.md", "civicscore check weights.toml"): "weights.toml is not shown",
    ("appraisal.md", "echo $?"): "follows the weights.toml check",
    ("civility.md", "civicscore check mistakes.toml"): "mistakes.toml is not shown",
    ("input-files.md", "civicscore score policies/example-district.toml households.csv"):
        "the page's GBK households.csv has Chinese on line 2 (docs/files/households-gbk.csv"
        " has it on line 3: zh/input-files.md runs that one)",
    ("spark.md", "python benchmarks/spark_bench.py"): "a benchmark on Spark, minutes long",
    **dict.fromkeys((("spark.md", start) for start in (
        "export SPARK_HOME", "$SPARK_HOME/bin/spark-class", "SPARK_LOCAL_IP=127.0.0.1",
        "grep registered", "PYTHONPATH=$WT/src", "grep -h -E", "kill $WORKER_PID")),
        "a standalone Spark cluster of two daemons started on the reader's machine "
        "(tests/test_spark*.py run the same plans in local mode)"),
    ("impact.md", "civicscore impact baseline stricter.toml"): "stricter.toml is not shown",
}
# page -> line of each Python block that does not run yet, and why
PENDING_PYTHON = {
    ("batch.md", "households.parquet"): "reads households.parquet, which does not ship",
    ("events.md", "events.jsonl"): "reads events.jsonl, which does not ship",
    ("spark.md", "master=\"yarn\""): "needs a YARN cluster and HDFS (tests/test_spark.py runs "
                                      "the same in local mode)",
    ("spark.md", "redemptions=\"redemptions.csv\""): "reads activities.parquet, which does "
                                                      "not ship (tests/test_spark.py scores "
                                                      "redemptions on Spark)",
    ("service.md", "httpx"): "calls a running server (tests/test_service*.py serve one)",
    ("input-files.md", "big.xlsx"): "a timing of a 10^5-row workbook written apart",
}
# Python blocks that other tests run already, with the output they check
RUN_ELSEWHERE = {
    "civility.md": "tests/test_civility.py", "ledger.md": "tests/test_ledger.py",
    "plugins.md": "tests/test_plugins.py",
}


@dataclass
class Command:
    line: int
    text: str
    expected: list[str] = field(default_factory=list)


def pages() -> list[Path]:
    return sorted(p for p in DOCS.rglob("*.md") if "hooks" not in p.parts)


def name(page: Path) -> str:
    return page.relative_to(DOCS).as_posix()


def blocks(page: Path, lang: str) -> list[tuple[int, str]]:
    text = page.read_text(encoding="utf-8")
    return [(text[:m.start()].count("\n") + 1, m[2]) for m in FENCE.finditer(text)
            if m[1] == lang]


def console_commands(page: Path) -> list[Command]:
    """The ``$ ...`` lines of the page's console blocks (a trailing ``\\`` joins the next
    line), each with the output lines shown under it."""
    found: list[Command] = []
    for line, body in blocks(page, "console"):
        joined = re.sub(r"\\\n\s*", " ", body)
        for text in joined.splitlines():
            if text.startswith("$ "):
                found.append(Command(line, text[2:].split("  # ")[0].strip()))
            elif found and found[-1].line == line:
                found[-1].expected.append(text)
    return found


def pending(page: str, command: str) -> str | None:
    if page in PENDING_PAGES:
        return PENDING_PAGES[page]
    return next((why for (p, start), why in PENDING.items()
                 if p == page and command.startswith(start)), None)


_RUNS = re.compile(r"([\u2500-\u257f ])\1+")
_BOX = re.compile(r"[\u2500-\u257f]")


def normal(line: str) -> str:
    """Runs of spaces or border characters as one; the UTF-8 mark a CSV file starts
    with (``cat`` shows it as nothing)."""
    return _RUNS.sub(r"\1", line.strip().lstrip("\ufeff"))


def table_words(lines: list[str]) -> list[str]:
    """The words of a table's lines in order: a table printed at another width wraps
    its cells onto other lines, but its words come in the same order."""
    return [w for line in lines if _BOX.search(line)
            for w in re.split(r"[\s\u2500-\u257f]+", line) if w]


def reader_folder(tmp: Path) -> Path:
    for shipped in ("policies", "examples", "plugins"):
        (tmp / shipped).symlink_to(ROOT / shipped, target_is_directory=True)
    for path in (DOCS / "files").iterdir():
        shutil.copy(path, tmp / path.name)
    return tmp


def run(command: str, cwd: Path, last_status: int) -> tuple[int, str]:
    if command == "echo $?":
        return 0, f"{last_status}\n"
    shell = not command.startswith("civicscore ") or re.search(r"[|<>;&`$]", command)
    if not shell:
        result = CliRunner().invoke(main, shlex.split(command)[1:])
        assert not isinstance(result.exception, Exception) or isinstance(
            result.exception, SystemExit), (command, result.output)
        return result.exit_code, result.output
    line = re.sub(r"(^|\| *)civicscore ", rf"\1{shlex.quote(sys.executable)} -m civicscore ",
                  command)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT / "src"),
                                                        os.environ.get("PYTHONPATH", "")])}
    done = subprocess.run(line, shell=True, cwd=cwd, capture_output=True, text=True,
                          timeout=120, env=env)
    return done.returncode, done.stdout + done.stderr


CONSOLE_PAGES = [p for p in pages() if console_commands(p)]


@pytest.mark.parametrize("page", CONSOLE_PAGES, ids=name)
def test_console_examples_print_what_the_page_shows(page: Path, tmp_path: Path,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    if name(page) in PENDING_PAGES:
        pytest.skip(f"{name(page)}: {PENDING_PAGES[name(page)]}")
    monkeypatch.chdir(reader_folder(tmp_path))
    status, ran = 0, 0
    for command in console_commands(page):
        if pending(name(page), command.text):
            continue
        status, output = run(command.text, tmp_path, status)
        ran += 1
        assert "Traceback" not in output, (command.text, output)
        got = {normal(x) for x in output.splitlines()}
        missing = [x for x in command.expected if x.strip() and x.strip() != "..."
                   and not _BOX.search(x) and normal(x) not in got]
        assert table_words(command.expected) in ([], table_words(output.splitlines())), (
            f"docs/{name(page)}:{command.line}: $ {command.text}: the table differs\n"
            f"{output}")
        assert not missing, (f"docs/{name(page)}:{command.line}: $ {command.text}\n"
                             f"shown but not printed: {missing}\nprinted:\n{output}")
    if not ran:
        pytest.skip(f"docs/{name(page)}: every command is pending (PENDING)")


def test_every_pending_entry_still_names_a_command() -> None:
    """PENDING shrinks as files ship: an entry whose command is gone is stale."""
    commands = {(name(p), c.text) for p in pages() for c in console_commands(p)}
    for page, start in PENDING:
        assert any(p == page and c.startswith(start) for p, c in commands), (page, start)
    for page in PENDING_PAGES:
        assert (DOCS / page).is_file(), page


PYTHON_BLOCKS = [(p, line, code) for p in pages() for line, code in blocks(p, "python")
                 if name(p) not in RUN_ELSEWHERE]


def _python_pending(page: str, code: str) -> str | None:
    return next((why for (p, marker), why in PENDING_PYTHON.items()
                 if p == page and marker in code), None)


@pytest.mark.parametrize(("page", "line", "code"), PYTHON_BLOCKS,
                         ids=[f"{name(p)}:{line}" for p, line, _ in PYTHON_BLOCKS])
def test_python_examples_run(page: Path, line: int, code: str, tmp_path: Path,
                             monkeypatch: pytest.MonkeyPatch) -> None:
    why = _python_pending(name(page), code)
    if why:
        pytest.skip(f"docs/{name(page)}:{line}: {why}")
    monkeypatch.chdir(reader_folder(tmp_path))
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        exec(compile(code, f"docs/{name(page)}:{line}", "exec"), {"__name__": "__docs__"})
    if "print(" in code:
        assert out.getvalue().strip(), f"docs/{name(page)}:{line} printed nothing"


def test_python_blocks_run_elsewhere_are_run_there() -> None:
    for page, test in RUN_ELSEWHERE.items():
        assert f"docs/{page}" in (ROOT / test).read_text(encoding="utf-8"), (page, test)
