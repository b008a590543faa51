"""Static HTML for officers: one self-contained file, escaped text, charts as inline SVG.

Everything shown on a page of civicscore's (policy labels, descriptions,
expressions, ids, reason sentences, column values) is data written by
someone else, so it goes through :func:`esc` and nothing else: no template
engine with a "safe" switch to forget. Pages carry their own stylesheet and
no script at all; a Content-Security-Policy in the page forbids scripts,
remote styles, fonts and images, so a page opened from a mail attachment
fetches nothing and runs nothing.
"""

from __future__ import annotations

import html
from collections.abc import Iterable, Sequence
from typing import Any

CSP = ("default-src 'none'; style-src 'unsafe-inline'; img-src data:; "
       "base-uri 'none'; form-action 'none'")

STYLE = """
body{font-family:system-ui,-apple-system,"Segoe UI","Noto Sans CJK SC","PingFang SC",sans-serif;
margin:2rem auto;max-width:64rem;padding:0 1rem;color:#1b1b1b;line-height:1.5}
h1{font-size:1.6rem}h2{border-bottom:1px solid #ccc;margin-top:2.2rem}
table{border-collapse:collapse;margin:.6rem 0;width:100%}
th,td{border:1px solid #ddd;padding:.25rem .5rem;text-align:left;vertical-align:top}
th{background:#f3f3f3}td.n{text-align:right;font-variant-numeric:tabular-nums}
code{background:#f5f5f5;padding:0 .2rem;white-space:pre-wrap}
.added{color:#0a6d2c}.changed{color:#8a4b00}.removed{color:#a4161a}
.muted{color:#666}.card{border:1px solid #ddd;border-radius:4px;padding:.5rem 1rem;margin:.6rem 0}
.warn{background:#fff4e5;border-left:4px solid #e8a33d;padding:.4rem .8rem}
svg text{font-size:12px;font-family:inherit}
"""


def esc(value: Any) -> str:
    """Any value as HTML text: ``<``, ``>``, ``&`` and both quotes escaped."""
    return html.escape(_text(value), quote=True)


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, (list, tuple)):
        return ", ".join(_text(v) for v in value)
    if isinstance(value, dict):
        return ", ".join(f"{k} = {_text(v)}" for k, v in value.items())
    return str(value)


def page(title: str, body: str, lang: str) -> str:
    """A whole HTML document around ``body`` (already escaped HTML)."""
    return (f'<!DOCTYPE html>\n<html lang="{"zh-CN" if lang == "zh" else "en"}">\n<head>\n'
            f'<meta charset="utf-8">\n'
            f'<meta http-equiv="Content-Security-Policy" content="{CSP}">\n'
            f'<meta name="viewport" content="width=device-width, initial-scale=1">\n'
            f"<title>{esc(title)}</title>\n<style>{STYLE}</style>\n</head>\n<body>\n"
            f"{body}\n</body>\n</html>\n")


def table(header: Sequence[str], rows: Iterable[Sequence[Any]],
          numeric: Sequence[int] = ()) -> str:
    """An HTML table; every cell escaped, the ``numeric`` columns right-aligned."""
    out = ["<table><thead><tr>", *(f"<th>{esc(h)}</th>" for h in header), "</tr></thead><tbody>"]
    for row in rows:
        out.append("<tr>")
        for i, cell in enumerate(row):
            cls = ' class="n"' if i in numeric else ""
            out.append(f"<td{cls}>{esc(cell)}</td>")
        out.append("</tr>")
    out.append("</tbody></table>")
    return "".join(out)


PALETTE = ("#3b6ea5", "#e08a2e", "#5a9e4b", "#b84a4a", "#7d5ba6", "#8c6d46")


def bar_chart(title: str, labels: Sequence[str], series: Sequence[tuple[str, Sequence[float]]],
              *, width: int = 640, unit: str = "") -> str:
    """Horizontal grouped bars as inline SVG: one group per label, one bar per series.

    Drawn here rather than by a charting library so the file needs nothing at
    view time; labels are escaped like any other text.
    """
    if not labels or not series:
        return ""
    bar, gap, left, right = 14, 10, 200, 70
    group = bar * len(series) + gap
    legend = 22 if len(series) > 1 else 0
    height = 24 + legend + group * len(labels)
    top = max((abs(v) for _, values in series for v in values), default=0) or 1
    span = width - left - right
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" role="img" width="{width}" '
             f'height="{height}" viewBox="0 0 {width} {height}">',
             f"<title>{esc(title)}</title>",
             f'<text x="0" y="14" font-weight="bold">{esc(title)}</text>']
    if legend:
        x = left
        for k, (name, _) in enumerate(series):
            parts.append(f'<rect x="{x}" y="22" width="10" height="10" '
                         f'fill="{PALETTE[k % len(PALETTE)]}"/>')
            parts.append(f'<text x="{x + 14}" y="31">{esc(name)}</text>')
            x += 14 + 8 * len(name) + 16
    for i, label in enumerate(labels):
        y0 = 24 + legend + i * group
        shown = label if len(label) <= 28 else label[:27] + "…"
        parts.append(f'<text x="{left - 6}" y="{y0 + group / 2 + 2:.0f}" '
                     f'text-anchor="end">{esc(shown)}</text>')
        for k, (_, values) in enumerate(series):
            v = values[i] if i < len(values) else 0
            w = max(abs(v) / top * span, 0.5 if v else 0)
            y = y0 + k * bar
            parts.append(f'<rect x="{left}" y="{y}" width="{w:.1f}" height="{bar - 2}" '
                         f'fill="{PALETTE[k % len(PALETTE)]}"/>')
            parts.append(f'<text x="{left + w + 4:.1f}" y="{y + bar - 4}">'
                         f"{esc(_number(v))}{esc(unit)}</text>")
    parts.append("</svg>")
    return "".join(parts)


def _number(v: float) -> str:
    if float(v).is_integer():
        return str(int(v))
    return f"{v:.1f}"
