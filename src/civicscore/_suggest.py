""""Did you mean ...?" for misspelt keys, names and values."""

from __future__ import annotations

import difflib
from collections.abc import Iterable


def did_you_mean(word: str, choices: Iterable[str]) -> str:
    """Return a ready-to-print hint, or "" when nothing is close enough.

    Case is ignored when comparing, because officers often type ``Patrol`` for
    ``patrol``; the hint shows the spelling the policy expects.
    """
    options = sorted(set(choices))
    if not options:
        return ""
    lowered = {o.lower(): o for o in options}
    if word.lower() in lowered and lowered[word.lower()] != word:
        return f"did you mean {lowered[word.lower()]!r}?"
    close = difflib.get_close_matches(word.lower(), list(lowered), n=1, cutoff=0.6)
    if close:
        return f"did you mean {lowered[close[0]]!r}?"
    return ""


def one_of(choices: Iterable[str], limit: int = 20) -> str:
    """List allowed values briefly: ``'a', 'b' or 'c'``."""
    items = sorted(set(choices))
    shown = [repr(c) for c in items[:limit]]
    if len(items) > limit:
        shown.append(f"... ({len(items) - limit} more)")
    if len(shown) == 1:
        return shown[0]
    return ", ".join(shown[:-1]) + " or " + shown[-1]
