"""The documentation site builds with ``mkdocs build --strict`` (mkdocs.yml at the root).

Strict, with mkdocs.yml's validation settings, means every page is in the navigation and
every link and anchor lands; the API reference is generated from the docstrings of the
names in ``civicscore.__all__``, and each of them must appear there. The build runs once
per module (a few seconds: most of it is griffe reading the package for the API page).

The packages are the ``docs`` extra (in ``dev`` too). Without them the tests skip, except
in CI (``CI`` set), where a missing package is a missing install step and fails.
"""

from __future__ import annotations

import importlib.util
import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path
from types import ModuleType

import pytest

import civicscore

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"


def _installed(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is not None
    except ModuleNotFoundError:  # its parent package is missing
        return False


def _require_mkdocs() -> None:
    for module in ("mkdocs", "material", "mkdocstrings", "mkdocstrings_handlers.python"):
        if not _installed(module):
            if os.environ.get("CI"):
                pytest.fail(f"{module} is not installed in CI (it is in the docs extra)")
            pytest.skip(f"{module} is not installed (pip install 'civicscore[docs]')")


def build(config: Path, site: Path) -> subprocess.CompletedProcess[str]:
    _require_mkdocs()
    return subprocess.run(
        # never --quiet: it drops the warnings before --strict counts them
        [sys.executable, "-m", "mkdocs", "build", "--strict",
         "--config-file", str(config), "--site-dir", str(site)],
        cwd=config.parent, capture_output=True, text=True, timeout=300,
        env={**os.environ, "NO_MKDOCS_2_WARNING": "1",
             # griffe reads this checkout's source, not the venv's editable install
             "PYTHONPATH": os.pathsep.join([str(ROOT / "src"),
                                            os.environ.get("PYTHONPATH", "")])})


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("site")
    result = build(ROOT / "mkdocs.yml", out)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "WARNING" not in result.stderr, result.stderr
    return out


def test_the_site_builds_strictly_with_every_page(site: Path) -> None:
    pages = sorted(p.relative_to(DOCS).with_suffix("").as_posix()
                   for p in DOCS.rglob("*.md") if "hooks" not in p.parts)
    for page in pages:
        html = site / ("index.html" if page == "index" else
                       page.removesuffix("/index") + "/index.html")
        assert html.is_file(), page


def test_the_api_reference_documents_every_public_name(site: Path) -> None:
    html = (site / "api" / "index.html").read_text(encoding="utf-8")
    ids = set(re.findall(r'id="civicscore\.([A-Za-z_]+)"', html))
    assert set(civicscore.__all__) <= ids, sorted(set(civicscore.__all__) - ids)
    # from the docstrings, not written into the page: load's own first line
    assert "Load, check and compile a policy from a TOML file path" in html


def test_officers_have_a_chinese_entry(site: Path) -> None:
    """The navigation's second section is Chinese, and its pages are written in it."""
    home = (site / "index.html").read_text(encoding="utf-8")
    assert "中文（政策专员）" in home and 'href="zh/"' in home
    for page in ("zh/index.md", "zh/policy.md", "zh/input-files.md"):
        text = (DOCS / page).read_text(encoding="utf-8")
        prose = re.sub(r"```.*?```", "", text, flags=re.S)
        han = len(re.findall(r"[\u4e00-\u9fff]", prose))
        latin = len(re.findall(r"[A-Za-z]", prose))
        assert han > latin, (page, han, latin)  # Chinese pages, not English with a title


def test_the_example_files_are_published(site: Path) -> None:
    for path in (DOCS / "files").iterdir():
        assert (site / "files" / path.name).read_bytes() == path.read_bytes()


def _hooks() -> ModuleType:
    spec = importlib.util.spec_from_file_location("civicscore_docs_hooks",
                                                  DOCS / "hooks" / "site.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize(("heading", "anchor"), [
    ("5. Facts: [facts.<entity>]", "5-facts-factsentity"),
    ("中文", "中文"),
    ("3. 让编辑器使用它（任选一种）", "3-让编辑器使用它任选一种"),
    ("`effective`: scoring outside the dates is refused",
     "effective-scoring-outside-the-dates-is-refused"),
])
def test_headings_get_the_anchors_the_forge_gives_them(heading: str, anchor: str) -> None:
    assert _hooks().github_slug(heading, "-") == anchor


def test_a_link_out_of_docs_becomes_a_path_unless_it_is_broken(tmp_path: Path) -> None:
    """A link to a repository file outside docs/ is shown as its path; a link to a file
    that does not exist still fails the strict build."""
    (tmp_path / "NOTES.md").write_text("n", encoding="utf-8")
    docs = tmp_path / "docs"
    (docs / "hooks").mkdir(parents=True)
    (docs / "hooks" / "site.py").write_bytes((DOCS / "hooks" / "site.py").read_bytes())
    (docs / "index.md").write_text("# Home\n\nSee [the notes](../NOTES.md).\n",
                                   encoding="utf-8")
    config = tmp_path / "mkdocs.yml"
    config.write_text(textwrap.dedent("""\
        site_name: t
        exclude_docs: /hooks/
        hooks: [docs/hooks/site.py]
        validation: {links: {not_found: warn, anchors: warn}}
        markdown_extensions: [toc]
        """), encoding="utf-8")
    result = build(config, tmp_path / "site")
    assert result.returncode == 0, result.stderr
    assert "the notes (<code>NOTES.md</code>)" in (
        tmp_path / "site" / "index.html").read_text(encoding="utf-8")
    (docs / "index.md").write_text("# Home\n\nSee [the notes](../GONE.md).\n",
                                   encoding="utf-8")
    result = build(config, tmp_path / "site")
    assert result.returncode != 0 and "GONE.md" in result.stderr
