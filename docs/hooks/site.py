"""MkDocs hooks for the civicscore site (mkdocs.yml names this file; not a page).

The pages in docs/ are read in two places: on the forge, as plain Markdown files
next to the code, and on the built site. Both must agree on where a link lands, so:

* Headings get GitHub's anchors (lower case, punctuation dropped, spaces to ``-``,
  Chinese kept), because the pages' own links were written against the forge:
  ``#5-facts-factsentity`` for ``## 5. Facts: `[facts.<entity>]` ``, ``#中文``.
* A link from a page to a repository file outside docs/ (``../benchmarks/RESULTS.md``)
  works on the forge but has no page on the site; on the site it becomes the file's
  repository path in code type, which the reader finds in the checkout. A link whose
  target does not exist stays as written, so ``mkdocs build --strict`` still fails on it.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

_DROP = re.compile(r"[^\w\- ]", flags=re.UNICODE)
_LINK = re.compile(r"\[(?P<text>[^\]\n]+)\]\((?P<target>\.\./[^)\s#]+)(?P<anchor>#[^)\s]*)?\)")


def github_slug(value: str, separator: str = "-") -> str:
    """The anchor GitHub gives a heading whose text (tags included) is ``value``."""
    return _DROP.sub("", value.strip().lower()).replace(" ", separator)


def on_config(config: Any) -> Any:
    config.mdx_configs.setdefault("toc", {})["slugify"] = github_slug
    return config


def on_page_markdown(markdown: str, page: Any, config: Any, files: Any) -> str:
    docs = Path(config.docs_dir).resolve()
    root = docs.parent
    here = (docs / page.file.src_uri).parent

    def repository_path(match: re.Match[str]) -> str:
        target = (here / match["target"]).resolve()
        if target.is_relative_to(docs) or not target.is_relative_to(root) \
                or not target.exists():
            return match[0]  # a docs link (mkdocs checks it), or a broken one
        path = target.relative_to(root).as_posix()
        text = match["text"]
        return f"`{path}`" if text.strip("`") == path else f"{text} (`{path}`)"

    return _LINK.sub(repository_path, markdown)
