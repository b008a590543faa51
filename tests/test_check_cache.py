"""``civicscore check`` keeps a passing outcome while every input is the same.

Each check runs as an officer runs it, in a fresh process (``python -m civicscore``),
with the cache in a directory of the test's own (conftest's ``own_check_cache``);
a replay must print exactly what the check printed, on the same streams, and end
with the same status, and any change to an input must check afresh.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from civicscore import check_cache

PARENT = '[policy]\nid = "parent"\nversion = "1"\nextends = "baseline"\n'
#: a past review date: a warning on standard error, which a replay must repeat
CHILD = '[policy]\nid = "child"\nversion = "1"\nextends = "parent.toml"\nreview_by = 2020-01-01\n'


def civicscore(*args: str, cwd: Path, modules: bool = False) -> tuple[str, str, int, set[str]]:
    """(stdout, stderr, exit status, and with ``modules`` the modules the process loaded)."""
    script = textwrap.dedent(f"""
        import json, runpy, sys
        sys.argv = ["civicscore", *{list(args)!r}]
        code = 0
        try:
            runpy.run_module("civicscore", run_name="__main__", alter_sys=True)
        except SystemExit as e:
            code = e.code or 0
        sys.stdout.flush()
        if {modules!r}:
            print("\\nMODULES" + json.dumps(sorted(sys.modules)))
        sys.exit(code)
    """)
    run = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                         cwd=cwd, check=False)
    out, _, loaded = run.stdout.partition("\nMODULES")
    return out, run.stderr, run.returncode, set(json.loads(loaded)) if loaded else set()


def entries() -> list[Path]:
    return sorted(check_cache.directory().glob("*.json"))


@pytest.fixture
def chain(tmp_path: Path) -> Path:
    (tmp_path / "parent.toml").write_text(PARENT, encoding="utf-8")
    (tmp_path / "child.toml").write_text(CHILD, encoding="utf-8")
    return tmp_path


def test_a_replay_prints_the_same_lines_without_loading_the_checker(chain: Path) -> None:
    first = civicscore("check", "child.toml", cwd=chain, modules=True)
    assert first[2] == 0 and first[0].startswith("ok: child.toml: child 1")
    assert "warning: policy was due for review on 2020-01-01" in first[1]
    assert "civicscore.policy.compile" in first[3]
    assert len(entries()) == 1
    again = civicscore("check", "child.toml", cwd=chain, modules=True)
    assert again[:3] == first[:3]
    # the outcome came from the cache: nothing that checks was even imported
    assert not {"civicscore.policy.compile", "civicscore.engine", "pydantic", "pluggy",
                "polars", "holidays"} & again[3]


def test_editing_any_file_of_the_extends_chain_checks_afresh(chain: Path) -> None:
    first = civicscore("check", "child.toml", cwd=chain)
    assert civicscore("check", "child.toml", cwd=chain) == first
    # the parent, two files up the chain: a new version changes the policy's hash
    (chain / "parent.toml").write_text(PARENT.replace('version = "1"', 'version = "2"'),
                                       encoding="utf-8")
    edited = civicscore("check", "child.toml", cwd=chain, modules=True)
    assert edited[2] == 0 and edited[0] != first[0]
    assert "civicscore.policy.compile" in edited[3]  # checked, not replayed
    # a mistake in the parent is reported, never hidden behind an old "ok"
    (chain / "parent.toml").write_text(PARENT + "[volunteer]\nno_such_key = 1\n",
                                       encoding="utf-8")
    out, _err, status, _ = civicscore("check", "child.toml", cwd=chain)
    assert status == 1 and "no_such_key" in out and "ok:" not in out
    # put back as it was: the first outcome again (its entry was kept under its key)
    (chain / "parent.toml").write_text(PARENT, encoding="utf-8")
    assert civicscore("check", "child.toml", cwd=chain)[:3] == first[:3]


def test_a_file_that_appears_where_a_name_was_looked_up_checks_afresh(tmp_path: Path) -> None:
    # `check karamay` reads ./karamay when there is such a file, the installed policy
    # when there is none: the answer to that look-up is an input too
    first = civicscore("check", "karamay", cwd=tmp_path)
    assert first[2] == 0 and "karamay 2025" in first[0]
    (tmp_path / "karamay").write_text('[policy]\nid = "local"\nversion = "9"\n',
                                      encoding="utf-8")
    out, _, status, _ = civicscore("check", "karamay", cwd=tmp_path)
    assert status == 0 and "local 9" in out


def test_failures_are_not_kept_and_no_cache_keeps_nothing(chain: Path) -> None:
    (chain / "bad.toml").write_text('[policy]\nid = "bad"\n', encoding="utf-8")
    assert civicscore("check", "bad.toml", cwd=chain)[2] == 1
    assert civicscore("check", "--no-cache", "child.toml", cwd=chain)[2] == 0
    assert entries() == []
    # --log-json writes a record of each run: such a run is never a replay
    log = chain / "runs.jsonl"
    assert civicscore("--log-json", str(log), "check", "child.toml", cwd=chain)[2] == 0
    assert entries() == []


def test_no_cache_gives_what_the_cache_gives(chain: Path) -> None:
    for args in (("check", "child.toml"), ("check", "--format", "json", "child.toml"),
                 ("--lang", "zh", "check", "child.toml", "karamay")):
        fresh = civicscore(*args, "--no-cache", cwd=chain)
        kept = civicscore(*args, cwd=chain)
        assert civicscore(*args, cwd=chain) == kept == fresh, args


def test_the_key_covers_code_environment_and_arguments(tmp_path: Path,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    base = check_cache.key({"policies": ["x"]})
    assert base is not None and base == check_cache.key({"policies": ["x"]})
    assert check_cache.key({"policies": ["y"]}) != base
    monkeypatch.setenv("CIVICSCORE_PLUGINS", "karamay")
    assert check_cache.key({"policies": ["x"]}) != base
    monkeypatch.delenv("CIVICSCORE_PLUGINS")
    monkeypatch.chdir(tmp_path)
    assert check_cache.key({"policies": ["x"]}) != base
    # an installed plugin's code: editing any file of its package changes the key
    site = tmp_path / "site"
    package = site / "cachetown_plugin"
    package.mkdir(parents=True)
    (package / "__init__.py").write_text("X = 1\n", encoding="utf-8")
    info = site / "cachetown_plugin-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: cachetown-plugin\n"
                                   "Version: 1.0\n", encoding="utf-8")
    (info / "entry_points.txt").write_text("[civicscore]\ncachetown = cachetown_plugin\n",
                                           encoding="utf-8")
    monkeypatch.syspath_prepend(str(site))
    with_plugin = check_cache.key({"policies": ["x"]})
    assert with_plugin is not None
    (package / "__init__.py").write_text("X = 2\n", encoding="utf-8")
    assert check_cache.key({"policies": ["x"]}) != with_plugin


def test_the_cache_lives_where_the_user_cache_is(monkeypatch: pytest.MonkeyPatch,
                                                 tmp_path: Path) -> None:
    monkeypatch.setenv("CIVICSCORE_CACHE_DIR", str(tmp_path / "mine"))
    assert check_cache.directory() == tmp_path / "mine" / "check"
    monkeypatch.delenv("CIVICSCORE_CACHE_DIR")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert check_cache.directory() == tmp_path / "xdg" / "civicscore" / "check"
    monkeypatch.delenv("XDG_CACHE_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert check_cache.directory() == tmp_path / "home" / ".cache" / "civicscore" / "check"


def test_an_unwritable_or_broken_cache_is_only_slower(chain: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    blocker = chain / "not-a-directory"
    blocker.write_text("", encoding="utf-8")
    env_dir = os.environ["CIVICSCORE_CACHE_DIR"]
    monkeypatch.setenv("CIVICSCORE_CACHE_DIR", str(blocker))
    assert civicscore("check", "child.toml", cwd=chain)[2] == 0
    monkeypatch.setenv("CIVICSCORE_CACHE_DIR", env_dir)
    first = civicscore("check", "child.toml", cwd=chain)
    for entry in entries():
        entry.write_text("{not json", encoding="utf-8")
    assert civicscore("check", "child.toml", cwd=chain) == first


def test_an_entry_someone_else_could_have_written_is_not_believed(chain: Path) -> None:
    first = civicscore("check", "child.toml", cwd=chain)
    (entry,) = entries()
    assert entry.stat().st_mode & 0o777 == 0o600
    # a forged "ok" in a folder others may write to is ignored: checked afresh
    (chain / "child.toml").write_text(CHILD + "[volunteer]\nnope = 1\n", encoding="utf-8")
    forged = json.loads(entry.read_text(encoding="utf-8"))
    forged["files"] = [[p, r, "0" * 64] for p, r, _ in forged["files"]]
    entry.write_text(json.dumps(forged), encoding="utf-8")
    assert civicscore("check", "child.toml", cwd=chain)[2] == 1  # a wrong hash: afresh
    (chain / "child.toml").write_text(CHILD, encoding="utf-8")
    assert civicscore("check", "child.toml", cwd=chain) == first
    folder = check_cache.directory()
    folder.chmod(0o777)
    try:
        assert check_cache.get(entry.stem) is None
    finally:
        folder.chmod(0o700)
    assert check_cache.get(entry.stem) is not None


def test_old_entries_are_removed_past_the_limit(chain: Path,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(check_cache, "KEEP", 3)
    from civicscore.policy.reads import Reads

    for i in range(6):
        assert check_cache.put(f"{i:064x}", Reads(), [(False, f"line {i}")], 0, "en")
        os.utime(check_cache.directory() / f"{i:064x}.json", ns=(i * 10**9, i * 10**9))
    assert [e.stem[-1] for e in entries()] == ["3", "4", "5"]
    kept = check_cache.get(f"{5:064x}")
    assert kept is not None and kept.lines == [(False, "line 5")]


def test_installing_or_upgrading_any_distribution_changes_the_key(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    before = check_cache.key({"policies": ["x"]})
    site = tmp_path / "site"
    (site / "helper_lib-1.0.dist-info").mkdir(parents=True)
    monkeypatch.syspath_prepend(str(site))
    installed = check_cache.key({"policies": ["x"]})
    assert installed != before
    (site / "helper_lib-1.0.dist-info").rename(site / "helper_lib-1.1.dist-info")
    assert check_cache.key({"policies": ["x"]}) not in (before, installed)
