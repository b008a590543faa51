"""The command line's own messages in Chinese and English: one catalogue, one lookup,
``--lang`` (on ``civicscore`` or on the command) and ``CIVICSCORE_LANG`` pick the
language, English when nothing is asked (the words scripts already match)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from civicscore.cli import main
from civicscore.errors import Problem
from civicscore.messages import (
    LANGS,
    MESSAGES,
    POLICY_LANG,
    language,
    locale_language,
    problem_line,
    say,
)

from .conftest import EXAMPLE_POLICY, EXAMPLES
from .test_policy_load import FOUR_MISTAKES

ACTIVITIES = EXAMPLES / "volunteer-activities.csv"


def run(*args: Any, env: dict[str, str] | None = None) -> Any:
    result = CliRunner().invoke(main, [str(a) for a in args], catch_exceptions=False,
                                env=env)
    assert "Traceback" not in result.output + result.stderr
    return result


@pytest.mark.parametrize("key", sorted(MESSAGES))
def test_every_message_has_both_languages_with_the_same_slots(key: str) -> None:
    texts = MESSAGES[key]
    assert set(texts) == set(LANGS)
    slots = {lang: sorted(re.findall(r"\{(\w+)\}", text)) for lang, text in texts.items()}
    assert slots["zh"] == slots["en"]
    assert re.search(r"[\u4e00-\u9fff]", texts["zh"]), "the Chinese text is Chinese"


def test_the_language_is_asked_then_the_environment_then_english(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CIVICSCORE_LANG", raising=False)
    assert language() == "en" and language("zh") == "zh"
    monkeypatch.setenv("CIVICSCORE_LANG", "zh_CN.UTF-8")
    assert language() == "zh" and language("en") == "en"
    monkeypatch.setenv("CIVICSCORE_LANG", "fr")  # not in the catalogue: English
    assert language() == "en"


def test_a_problem_line_in_each_language() -> None:
    p = Problem("p.toml", 3, 5, "expected a number", path="volunteer.cap", hint="write 10")
    assert problem_line(p, "en") == str(p) == \
        "p.toml:3:5: expected a number [volunteer.cap] (write 10)"
    assert problem_line(p, "zh") == \
        "p.toml 第 3 行第 5 列：expected a number [volunteer.cap]（建议：write 10）"
    w = Problem("p.toml", 1, 1, "unused", severity="warning")
    assert problem_line(w, "zh") == "p.toml 第 1 行第 1 列：提示：unused"
    assert say("problems", "zh", n=4) == "共 4 处问题，本政策未被使用。"


def test_the_policys_locale_comes_after_the_environment(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CIVICSCORE_LANG", raising=False)
    token = POLICY_LANG.set(locale_language("zh-CN"))
    try:
        assert language() == "zh" and language("en") == "en"
        monkeypatch.setenv("CIVICSCORE_LANG", "en")
        assert language() == "en"
    finally:
        POLICY_LANG.reset(token)
    assert [locale_language(x) for x in ("zh_TW", "en-GB", "EN", "fr", "", None, 3)] == \
        ["zh", "en", "en", None, None, None, None]


def _policy_in(tmp_path: Path, locale: str | None, *, broken: bool = False) -> Path:
    """A copy of the example policy (extending the installed baseline) whose locale is
    ``locale`` (None: the line removed), ``broken`` with one problem."""
    text = EXAMPLE_POLICY.read_text(encoding="utf-8")
    line = 'locale = "zh-CN"\n'
    assert line in text
    text = text.replace(line, f'locale = "{locale}"\n' if locale else "")
    if broken:
        text = text.replace('version = "2025.2"', 'version = ""')
    path = tmp_path / f"district-{locale}{'-broken' if broken else ''}.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_check_speaks_the_policys_locale_by_default(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CIVICSCORE_LANG", raising=False)
    zh = _policy_in(tmp_path, "zh-CN")
    assert run("check", zh).stdout.startswith("检查通过：")
    assert run("check", "--lang", "en", zh).stdout.startswith("ok: ")
    assert run("check", zh, env={"CIVICSCORE_LANG": "en"}).stdout.startswith("ok: ")
    en = _policy_in(tmp_path, "en")
    assert run("check", en).stdout.startswith("ok: ")
    # a policy that does not load is worded in the locale its file states
    broken = _policy_in(tmp_path, "zh-CN", broken=True)
    r = run("check", broken)
    assert r.exit_code == 1 and f"{broken}：共 1 处问题" in r.stderr, r.stderr
    assert "第 " in r.stdout and "problem(s)" not in r.stderr
    r = run("check", "--lang", "en", broken)
    assert f"{broken}: 1 problem(s)" in r.stderr
    # one command, two policies: each is worded in its own language
    both = run("check", broken, en)
    assert f"{broken}：共 1 处问题" in both.stderr and f"\nok: {en}: " in both.stdout


def test_score_speaks_the_policys_locale_by_default(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CIVICSCORE_LANG", raising=False)
    args = ("--scheme", "volunteer", ACTIVITIES, "--as-of", "2025-12-31")
    zh = run("score", EXAMPLE_POLICY, *args)  # locale = "zh-CN"
    assert "activities 第 11 行（A011）未通过校验：" in zh.stderr
    assert "rejected activities" not in zh.stderr
    en = run("score", "--lang", "en", EXAMPLE_POLICY, *args)
    assert "rejected activities row 11 (A011)" in en.stderr
    assert "未通过" not in en.stderr
    english = run("score", _policy_in(tmp_path, "en"), *args)
    assert "rejected activities row 11 (A011)" in english.stderr


def test_check_speaks_the_language_asked(tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text(FOUR_MISTAKES.lstrip("\n"), encoding="utf-8")
    en = run("check", bad)
    zh = run("check", "--lang", "zh", bad)
    assert en.exit_code == zh.exit_code == 1
    assert f"{bad}: 4 problem(s)" in en.stderr
    assert f"{bad}：共 4 处问题" in zh.stderr and "problem(s)" not in zh.stderr
    zh_lines = [ln for ln in zh.stdout.splitlines() if ln.startswith(str(bad))]
    assert len(zh_lines) == 4 and all(" 第 " in ln and " 列：" in ln for ln in zh_lines)
    ok = run("--lang", "zh", "check", EXAMPLE_POLICY)  # on the group too
    assert ok.exit_code == 0 and ok.stdout.startswith("检查通过：")


def test_score_speaks_the_environments_language() -> None:
    args = ("score", EXAMPLE_POLICY, "--scheme", "volunteer", ACTIVITIES,
            "--as-of", "2025-12-31")
    en = run(*args)
    zh = run(*args, env={"CIVICSCORE_LANG": "zh"})
    assert "rejected activities row 11 (A011)" in en.stderr
    assert "activities 第 11 行（A011）未通过校验：" in zh.stderr
    assert "rejected activities" not in zh.stderr
    # the option wins over the environment, and is forgotten when the command ends
    assert "rejected activities row 11" in run(*args, "--lang", "en",
                                               env={"CIVICSCORE_LANG": "zh"}).stderr
    assert "rejected activities row 11" in run(*args).stderr


def test_a_usage_error_in_chinese(tmp_path: Path) -> None:
    r = run("--lang", "zh", "score", EXAMPLE_POLICY, "--scheme", "volunteer",
            tmp_path / "missing.csv", "-o", tmp_path / "o.csv")
    assert r.exit_code == 2 and r.stderr.startswith("civicscore：错误："), r.stderr


SCHEME_INPUTS = {"visits": "visits-households.csv", "civility": "civility-households.csv",
                 "volunteer": "volunteer-activities.csv",
                 "appraisal": "appraisal-subjects.csv"}


def _summary(stderr: str) -> str:
    """The summary line of a ``score`` run's stderr: the one that names the policy."""
    lines = [ln for ln in stderr.splitlines() if "example-district" in ln]
    assert len(lines) == 1, stderr
    return lines[0]


@pytest.mark.parametrize("scheme", sorted(SCHEME_INPUTS))
def test_the_summary_line_in_each_language(scheme: str, tmp_path: Path) -> None:
    args = ("score", EXAMPLE_POLICY, "--scheme", scheme, EXAMPLES / SCHEME_INPUTS[scheme],
            "--as-of", "2025-12-31", "-o", tmp_path / "out.jsonl")
    if scheme == "volunteer":
        args += ("--redemptions", EXAMPLES / "redemptions.csv")
    en = {engine: _summary(run(*args, "--lang", "en", "--engine", engine).stderr)
          for engine in ("per-record", "batch")}
    zh = {engine: _summary(run(*args, "--lang", "zh", "--engine", engine).stderr)
          for engine in ("per-record", "batch")}
    # the engine changes neither line
    assert en["batch"] == en["per-record"] and zh["batch"] == zh["per-record"]
    e, z = en["batch"], zh["batch"]
    assert " scored, " in e and "; policy example-district" in e
    assert "已计分" in z and "；政策 example-district" in z and "计算日 2025-12-31" in z
    # every count of the English line is in the Chinese one, in no English words
    assert sorted(re.findall(r"\d+", e)) == sorted(re.findall(r"\d+", z))
    words = {w for w in re.findall(r"[a-z]{3,}", z)} - {"example", "district"}
    assert not words & {"scored", "rejected", "policy", "overdue", "caseload", "stars",
                        "barred", "reviews", "due", "volunteer", "statements", "vetoed",
                        "quota", "kept", "moved", "down", "need", "warnings", "households",
                        "activity", "records", "subjects"}, z


def test_every_summary_word_is_the_catalogues() -> None:
    """The summary's parts and every scheme's notes are worded through the catalogue: the
    presenters name its keys, and each key is used by one."""
    import inspect

    from civicscore.events import core as events_core
    from civicscore.schemes import base
    from civicscore.schemes.appraisal import scheme as appraisal
    from civicscore.schemes.civility import scheme as civility
    from civicscore.schemes.visits import scheme as visits
    from civicscore.schemes.volunteer import scheme as volunteer

    sources = "".join(inspect.getsource(m) for m in (
        base, visits, civility, volunteer, appraisal, events_core))
    for key in (k for k in MESSAGES if k.startswith(("summary_", "note_"))):
        assert f'"{key}"' in sources, key
