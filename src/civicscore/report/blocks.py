"""A page as a few kinds of block, written out as HTML or Markdown.

The policy page and the impact report are built once as blocks (headings,
paragraphs of text runs, tables, raw SVG) and then written in either format,
so the two formats cannot drift apart. Both writers escape every piece of
text: in HTML through :func:`.html.esc`; in Markdown by turning ``<``, ``>``
and ``&`` into entities (Markdown renderers pass raw HTML through) and
backslash-escaping the characters Markdown gives a meaning to.
"""

from __future__ import annotations

import html as _html
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from .html import _text, esc, page

Run = tuple[str, str]
"""A piece of text and its style: "" (plain), "code", "b" (bold) or "muted"."""


@dataclass
class Heading:
    level: int
    text: str
    anchor: str = ""


@dataclass
class Para:
    runs: list[Run]
    cls: str = ""


@dataclass
class Table:
    header: list[str]
    rows: list[list[Any]]
    numeric: tuple[int, ...] = ()


@dataclass
class Svg:
    """Inline SVG, already escaped by whoever drew it (``html.bar_chart``); HTML only."""

    markup: str


Block = Heading | Para | Table | Svg


@dataclass
class Doc:
    title: str
    lang: str
    blocks: list[Block] = field(default_factory=list)

    def h(self, level: int, text: str, anchor: str = "") -> None:
        self.blocks.append(Heading(level, text, anchor))

    def p(self, *runs: Run | str, cls: str = "") -> None:
        self.blocks.append(Para([(r, "") if isinstance(r, str) else r for r in runs], cls))

    def table(self, header: Sequence[str], rows: Sequence[Sequence[Any]],
              numeric: Sequence[int] = ()) -> None:
        self.blocks.append(Table(list(header), [list(r) for r in rows], tuple(numeric)))

    def svg(self, markup: str) -> None:
        if markup:
            self.blocks.append(Svg(markup))


# --- HTML --------------------------------------------------------------------------

_ANCHOR = re.compile(r"[^A-Za-z0-9_-]+")


def _anchor(text: str) -> str:
    return _ANCHOR.sub("-", text).strip("-").lower()


def _html_runs(runs: Sequence[Run]) -> str:
    out = []
    for text, style in runs:
        if style == "code":
            out.append(f"<code>{esc(text)}</code>")
        elif style == "b":
            out.append(f"<strong>{esc(text)}</strong>")
        elif style in ("muted", "added", "changed", "removed"):
            out.append(f'<span class="{style}">{esc(text)}</span>')
        else:
            out.append(esc(text))
    return "".join(out)


def to_html(doc: Doc) -> str:
    from .html import table

    parts: list[str] = []
    for b in doc.blocks:
        if isinstance(b, Heading):
            level = min(max(b.level, 1), 6)
            anchor = f' id="{esc(_anchor(b.anchor))}"' if b.anchor else ""
            parts.append(f"<h{level}{anchor}>{esc(b.text)}</h{level}>")
        elif isinstance(b, Para):
            cls = f' class="{esc(b.cls)}"' if b.cls else ""
            parts.append(f"<p{cls}>{_html_runs(b.runs)}</p>")
        elif isinstance(b, Table):
            parts.append(table(b.header, b.rows, b.numeric))
        else:
            parts.append(f"<figure>{b.markup}</figure>")
    return page(doc.title, "\n".join(parts), doc.lang)


# --- Markdown ----------------------------------------------------------------------

_MD_SPECIAL = re.compile(r"([\\`*_\[\]|~])")
_MD_LEAD = re.compile(r"^(\s*)([#>+=-])|^(\s*\d+)([.)])(?=\s|$)")


def md_text(value: Any, *, first: bool = True) -> str:
    """Text safe in Markdown: HTML-escaped, Markdown punctuation backslashed, one line
    (``first``: it starts a line, where ``#``, ``-``, ``1.`` would start a block)."""
    text = re.sub(r"\s+", " ", _text(value))
    text = _MD_SPECIAL.sub(r"\\\1", _html.escape(text, quote=False))
    if not first:
        return text
    return _MD_LEAD.sub(lambda m: (m.group(1) or m.group(3) or "") + "\\"
                        + (m.group(2) or m.group(4)), text)


def _md_code(value: str) -> str:
    # code spans show their content literally; a backtick run longer than any inside
    # keeps the span closed, and HTML is inert inside one
    text = " ".join(value.split())
    ticks = "`" * (max((len(m) for m in re.findall(r"`+", text)), default=0) + 1)
    pad = " " if text.startswith("`") or text.endswith("`") else ""
    return f"{ticks}{pad}{text}{pad}{ticks}"


def _md_runs(runs: Sequence[Run]) -> str:
    out = []
    for i, (text, style) in enumerate(runs):
        core = text.strip()
        first = i == 0
        if style in ("code", "b", "muted") and core:
            # emphasis markers must touch the text: spaces go outside them
            lead, tail = text[:len(text) - len(text.lstrip())], text[len(text.rstrip()):]
            mark = {"code": _md_code(core), "b": f"**{md_text(core, first=False)}**",
                    "muted": f"*{md_text(core, first=False)}*"}[style]
            out.append(f"{md_text(lead, first=first)}{mark}{md_text(tail, first=False)}")
        else:
            out.append(md_text(text, first=first))
    return "".join(out)


def to_markdown(doc: Doc) -> str:
    parts: list[str] = []
    for b in doc.blocks:
        if isinstance(b, Heading):
            parts.append("#" * min(max(b.level, 1), 6) + " " + md_text(b.text))
        elif isinstance(b, Para):
            parts.append(_md_runs(b.runs))
        elif isinstance(b, Table):
            if not b.header:
                continue
            lines = ["| " + " | ".join(md_text(h) for h in b.header) + " |",
                     "|" + "|".join("---:" if i in b.numeric else "---"
                                    for i in range(len(b.header))) + "|"]
            lines += ["| " + " | ".join(md_text(c) for c in row) + " |" for row in b.rows]
            parts.append("\n".join(lines))
        # SVG charts are HTML only; the tables next to them carry the same numbers
    return "\n\n".join(parts) + "\n"
