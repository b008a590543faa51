"""``civicscore render``: every shipped policy renders; officer-written text never becomes markup."""

from __future__ import annotations

import html.parser
import re
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

import civicscore
from civicscore.cases import run_cases
from civicscore.cli import main
from civicscore.report.blocks import md_text
from civicscore.report.layers import load_layers
from civicscore.report.render import render_policy

from .conftest import EXAMPLE_POLICY, ROOT

ENGINE = civicscore.Engine()
SHIPPED = [str(p) for p in sorted((ROOT / "policies").glob("*.toml"))] + ENGINE.policy_names()


def page(source: str | Path, fmt: str = "html", lang: str | None = None,
         engine: civicscore.Engine = ENGINE) -> str:
    policy = engine.load(source)
    return render_policy(policy, load_layers(source, engine.registry.environment()), fmt, lang)


class _Tags(html.parser.HTMLParser):
    """Every start tag and attribute of a page, to check what the page can do."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict[str, Any]]] = []
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def parsed(text: str) -> _Tags:
    p = _Tags()
    p.feed(text)
    p.close()
    return p


ALLOWED_TAGS = {"html", "head", "meta", "title", "style", "body", "h1", "h2", "h3", "h4", "h5",
                "h6", "p", "table", "thead", "tbody", "tr", "th", "td", "code", "strong",
                "span", "figure", "svg", "rect", "text"}


def assert_static(text: str) -> None:
    """Only the tags civicscore writes; no script, no handler, nothing fetched."""
    tags = parsed(text).tags
    assert {t for t, _ in tags} <= ALLOWED_TAGS
    for tag, attrs in tags:
        assert not any(a.startswith("on") for a in attrs), (tag, attrs)
        assert not any(a in ("src", "href") for a in attrs), (tag, attrs)
    assert "Content-Security-Policy" in text and "default-src 'none'" in text


@pytest.mark.parametrize("source", SHIPPED)
def test_every_shipped_policy_renders_in_both_formats_and_languages(source: str) -> None:
    policy = ENGINE.load(source)
    for lang in ("zh", "en"):
        text = page(source, "html", lang)
        assert_static(text)
        assert policy.hash in text and policy.id in text
        for name in policy.schemes:
            assert f"[{name}]" in text
        md = page(source, "md", lang)
        assert "<" not in md.replace("&lt;", "")  # no raw HTML in the Markdown
        assert policy.hash in md


def test_the_page_says_what_the_locality_changed_against_its_parent() -> None:
    md = page(EXAMPLE_POLICY, "md", "en")
    section = md.split("## Layers", 1)[1].split("## Facts", 1)[0]
    rows = {line.split(" | ")[0].strip("| ").replace("\\", ""): line
            for line in section.splitlines() if line.startswith("| ")}
    patrol = rows["volunteer.activities.patrol.points_per_hour"]
    assert "changed" in patrol and "named in overrides" in patrol
    assert "2023-01-01 = 2, 2025-07-01 = 3" in patrol
    assert "added" in rows["volunteer.activities.school_guard"]
    assert "School-gate guarding" in rows["volunteer.activities.school_guard"]
    assert "named in overrides" not in rows["volunteer.caps.points_per_day"]  # new, not changed
    assert "volunteer.activities.general" not in rows  # inherited unchanged: not listed


def test_a_wholesale_override_shows_the_parents_rules_as_removed() -> None:
    md = page("karamay", "md", "en")
    assert re.search(r"visits\.tiers\.weekly\\_care \| removed", md)
    assert re.search(r"visits\.tiers\.warm\\_heart \| added", md)


def test_dated_values_become_one_timeline() -> None:
    md = page(EXAMPLE_POLICY, "md", "en")
    timeline = md.split("## Dated values", 1)[1].split("\n## ", 1)[0]
    assert "| 2025-07-01 | volunteer.activities.patrol.points\\_per\\_hour | 2 → 3 |" in timeline
    assert "| 2023-01-01 | example-district | policy in effect |" in timeline


def test_rules_are_in_the_formats_own_words_with_the_labels_of_the_facts_they_read() -> None:
    md = page("baseline", "md", "en")
    tiers = md.split("### visits.tiers", 1)[1]
    assert "**Weekly visits** (每周探访)" in tiers
    # the condition as written, and what each fact it reads is called
    assert "age\\_oldest = Age of the oldest member" in tiers
    assert "Condition on care-need facts" in tiers  # the model's description of 'when'
    assert "The tier of a household no other tier matches." in md  # default_tier


def test_cases_and_coverage_are_the_case_runners() -> None:
    md = page(EXAMPLE_POLICY, "md", "en")
    results, coverage = run_cases(ENGINE.load(EXAMPLE_POLICY))
    assert [r.passed for r in results] == [True]
    assert "| night patrol after the July 2025 rate change | volunteer | 2025-12-31 |" in md
    assert "| pass |" in md
    assert f"**{coverage.percent:.0f}%**" in md
    assert "`visits.tiers.routine`" in md  # not exercised by any case


def test_language_follows_the_policy_locale_unless_asked(write_policy) -> None:
    assert "## 政策层级" in page(EXAMPLE_POLICY, "md")  # zh-CN
    assert "## Layers" in page(EXAMPLE_POLICY, "md", "en")
    path = write_policy('[policy]\nid = "en-town"\nversion = "1"\nlocale = "en"\n'
                        'extends = "baseline"\n')
    text = page(path, "md")
    assert "## Layers" in text and "**Weekly visits** (每周探访)" in text


HOSTILE = '<script>alert("x")</script>'


def test_officer_written_text_never_becomes_markup(write_policy) -> None:
    path = write_policy(f'''
        [policy]
        id = "hostile"
        version = "1 <b>bold</b>"
        title = "{HOSTILE.replace('"', "'")}"
        extends = "baseline"
        description = "</p><img src=x onerror=alert(1)>"

        [[policy.references]]
        title = "ref"
        url = "javascript:alert(1)"
        note = "<a href='http://evil.example'>x</a>"

        [facts.household]
        pets = {{ type = "bool", default = false, label = "<svg onload=alert(1)>" }}

        [[civility.stars]]
        id = "tidy"
        label = "{HOSTILE.replace('"', "'")}"
        label_en = "` | ]]> <!-- x"
        description = "*bold* [link](javascript:alert(1)) | pipe"
        when = "pets or hygiene_inspections_passed >= 11"
    ''')
    text = page(path, "html", "zh")
    assert_static(text)
    assert "<script" not in text.lower() and "<img" not in text and "<a " not in text
    assert "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt;" in text
    shown = "".join(parsed(text).text)
    assert "<script>alert('x')</script>" in shown  # shown as text, exactly as written
    assert "javascript:alert(1)" in shown  # a url is text, never a link
    md = page(path, "md", "en")
    assert "<script" not in md and "<svg" not in md and "<a " not in md and "<img" not in md
    assert "\\[link\\](javascript:alert(1))" in md  # no Markdown link either
    assert "\\*bold\\*" in md


def test_markdown_text_escapes() -> None:
    assert md_text("1. a") == "1\\. a"
    assert md_text("- x") == "\\- x"
    assert md_text("a|b <i>") == "a\\|b &lt;i&gt;"
    assert md_text("2025-07-01") == "2025-07-01"


def test_a_plugin_scheme_renders_like_a_built_in_one(tmp_path: Path) -> None:
    from .test_plugins import GREETING_POLICY, greeting_plugin

    engine = civicscore.Engine(plugins=[greeting_plugin()], entry_points=False)
    path = tmp_path / "greetings.toml"
    path.write_text(GREETING_POLICY, encoding="utf-8")
    text = page(path, "md", "en", engine)
    assert "## \\[greeting\\]" in text
    assert "age &gt;= 80" in text and "生日快乐" in text
    assert "an 83-year-old gets a card" in text


def _cli(*args: object) -> Any:
    result = CliRunner().invoke(main, [str(a) for a in args])
    assert "Traceback" not in result.output + result.stderr
    return result


def test_cli_render_writes_one_file(tmp_path: Path) -> None:
    out = tmp_path / "page.html"
    r = _cli("render", EXAMPLE_POLICY, "-o", out)
    assert r.exit_code == 0, r.output
    text = out.read_text(encoding="utf-8")
    assert text.startswith("<!DOCTYPE html>") and text.rstrip().endswith("</html>")
    assert text == page(EXAMPLE_POLICY)
    r = _cli("render", "karamay", "--format", "md", "--lang", "en")
    assert r.exit_code == 0 and r.stdout.startswith("# ")
    assert [p.name for p in tmp_path.iterdir()] == ["page.html"]  # no temporary left over


def test_cli_render_of_a_broken_policy_is_located_and_writes_nothing(tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text('[policy]\nid = "x"\nversion = "1"\n[visits]\ndefault_tier = 3\n',
                   encoding="utf-8")
    out = tmp_path / "page.html"
    r = _cli("render", bad, "-o", out)
    assert r.exit_code == 1 and f"{bad}:5:" in r.stderr
    assert not out.exists()
    r = _cli("render", "no-such-policy")
    assert r.exit_code == 1 and "no such policy" in r.stderr
