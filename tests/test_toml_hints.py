"""Typing a policy on a Chinese keyboard: full-width punctuation, smart quotes, 【】, the
ideographic space and unquoted Chinese keys get a located "did you mean" with the line as
TOML needs it, not the parser's bare message (nor a wrong hint)."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from civicscore.cli import main
from civicscore.errors import PolicyError
from civicscore.policy.load import read_source

HEAD = '[policy]\nid = "t"\nversion = "1"\n'


@pytest.mark.parametrize("line,fixed,typed", [
    ('label ＝ "巡逻"', 'label = "巡逻"', "＝"),
    ('label = “巡逻”', 'label = "巡逻"', "“ ”"),
    ("label = ‘巡逻’", "label = '巡逻'", "‘ ’"),
    ('label = 「巡逻」', 'label = "巡逻"', "「 」"),
    ("points = ４", "points = 4", "４"),
    ('values = ["a"，"b"]', 'values = ["a","b"]', "，"),
    ("【volunteer】", "[volunteer]", "【 】"),
    ('label\u3000= "巡逻"', 'label = "巡逻"', "ideographic space"),
    ('label： "巡逻"', 'label= "巡逻"', "："),
])
def test_full_width_typing_gets_the_half_width_line(line: str, fixed: str, typed: str) -> None:
    with pytest.raises(PolicyError) as e:
        read_source("p.toml", HEAD + line + "\n", None)
    (problem,) = e.value.problems
    assert problem.line == 4
    assert problem.hint == (f"did you mean: {fixed} ({typed} typed on a Chinese keyboard; "
                            f"TOML needs half-width punctuation)")
    assert "text values need quotes" not in str(e.value)


def test_full_width_text_inside_quotes_is_the_officers_own() -> None:
    """A full-width comma inside a quoted label is text, not a mistake: no hint rewrites it."""
    with pytest.raises(PolicyError) as e:
        read_source("p.toml", HEAD + 'label = "巡逻，夜间" extra\n', None)
    assert "did you mean" not in str(e.value)


def test_unquoted_chinese_key_and_value() -> None:
    with pytest.raises(PolicyError) as e:
        read_source("p.toml", HEAD + "巡逻 = 2\n", None)
    assert e.value.problems[0].hint == ('keys are written in English letters (e.g. patrol); '
                                        'Chinese goes in quotes as a value: label = "巡逻"')
    with pytest.raises(PolicyError) as e:
        read_source("p.toml", HEAD + "label = 巡逻\n", None)
    assert e.value.problems[0].hint == 'text values need quotes, e.g. label = "巡逻"'


def test_unquoted_chinese_key_inside_an_inline_table() -> None:
    """``input = { 夜间 = true }``: the key of an inline table is a name too (it gave
    TOML's bare "Invalid initial character for a key part")."""
    with pytest.raises(PolicyError) as e:
        read_source("p.toml", HEAD + "input = { age = 80, 夜间 = true }\n", None)
    (problem,) = e.value.problems
    assert problem.hint == ('inside { } a key is a name too: write it in English letters, '
                            'as the policy names the field (e.g. night_patrol), or put it '
                            'in quotes: "夜间" = ...')


def test_check_prints_the_hint_located(tmp_path: Path) -> None:
    path = tmp_path / "p.toml"
    path.write_text(HEAD + 'label ＝ "巡逻"\n', encoding="utf-8")
    r = CliRunner().invoke(main, ["check", str(path)])
    assert r.exit_code == 1
    assert f'{path}:4:7: TOML syntax error' in r.output
    assert 'did you mean: label = "巡逻"' in r.output
