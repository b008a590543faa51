""""Did you mean ...?" for misspelt keys, names and values.

A policy with thousands of facts and thousands of misspelt names, or a batch
with thousands of records holding a bad enum value, used to compare every bad
word with every choice (``difflib`` over the whole list, 12-31 ms each), so the
time grew with the product. Now the choices are indexed once per distinct set
(lowered, sorted, and by character trigram), each bad word is compared in full
with at most :data:`CANDIDATES` choices that share the most trigrams with it,
and each distinct bad word is looked up once per set of choices. Small sets (at
most :data:`SMALL` choices) are still compared in full with ``difflib``, so the
hints for the usual handful of keys are exactly as before.
"""

from __future__ import annotations

import difflib
from collections import Counter, OrderedDict
from collections.abc import Iterable
from dataclasses import dataclass

SMALL = 64
"""Up to this many choices, every one is compared (difflib.get_close_matches)."""

CANDIDATES = 16
"""For a larger set, the choices sharing the most trigrams with the word that are
compared in full (difflib ratio); the rest cannot be the best match in practice."""

COMMON = 512
"""A trigram that this many choices share (``fact_`` in ``fact_00001`` ...) says little
and is skipped when rarer ones are there, so a lookup reads a bounded number of
postings."""

CACHED_SETS = 32
"""Distinct choice sets whose index is kept (least recently used go first)."""


@dataclass
class Counters:
    """Work done by suggestions, counted so that tests prove the bound without clocks:
    full comparisons (``ratio``), postings read, and lookups that were not cached."""

    compared: int = 0
    postings: int = 0
    lookups: int = 0


COUNTERS = Counters()


def _grams(word: str) -> set[str]:
    padded = f"  {word} "
    return {padded[i:i + 3] for i in range(len(padded) - 2)}


class _Index:
    """One set of choices, ready for many lookups."""

    def __init__(self, choices: tuple[str, ...]) -> None:
        self.options = sorted(set(choices))
        self.lowered = {o.lower(): o for o in self.options}
        self.names = list(self.lowered)
        self.grams: dict[str, list[int]] = {}
        if len(self.names) > SMALL:
            for i, name in enumerate(self.names):
                for g in _grams(name):
                    self.grams.setdefault(g, []).append(i)
        self.hints: dict[str, str] = {}
        self.suggested: dict[str, str | None] = {}

    def hint(self, word: str) -> str:
        found = self.hints.get(word)
        if found is None:
            found = self.hints[word] = self._hint(word)
        return found

    def _hint(self, word: str) -> str:
        found = self.suggestion(word)
        return f"did you mean {found!r}?" if found is not None else ""

    def suggestion(self, word: str) -> str | None:
        """The choice ``word`` is closest to, as the policy spells it, or None (looked
        up once per word: a file of 10,000 rows with the same typo costs one lookup)."""
        if word in self.suggested:
            return self.suggested[word]
        found = self.suggested[word] = self._suggestion(word)
        return found

    def _suggestion(self, word: str) -> str | None:
        COUNTERS.lookups += 1
        if not self.options:
            return None
        low = word.lower()
        if low in self.lowered and self.lowered[low] != word:
            return self.lowered[low]
        close = self._closest(low)
        return self.lowered[close] if close is not None else None

    def _closest(self, low: str) -> str | None:
        if len(self.names) <= SMALL:
            COUNTERS.compared += len(self.names)
            close = difflib.get_close_matches(low, self.names, n=1, cutoff=0.6)
            return close[0] if close else None
        postings = sorted((self.grams[g] for g in _grams(low) if g in self.grams), key=len)
        shared: Counter[int] = Counter()
        for items in postings:
            if len(items) > COMMON and shared:
                break  # only common trigrams left, and rarer ones gave candidates
            COUNTERS.postings += min(len(items), COMMON)
            shared.update(items[:COMMON])
        best = [j for j, _ in shared.most_common(CANDIDATES)]
        matcher = difflib.SequenceMatcher()
        matcher.set_seq2(low)
        scored: list[tuple[float, str]] = []
        for j in best:
            name = self.names[j]
            matcher.set_seq1(name)
            COUNTERS.compared += 1
            if (matcher.real_quick_ratio() >= 0.6 and matcher.quick_ratio() >= 0.6
                    and (score := matcher.ratio()) >= 0.6):
                scored.append((score, name))
        return max(scored)[1] if scored else None


_INDEXES: OrderedDict[tuple[str, ...], _Index] = OrderedDict()


def _index(choices: Iterable[str]) -> _Index:
    key = choices if isinstance(choices, tuple) else tuple(choices)
    index = _INDEXES.get(key)
    if index is None:
        index = _INDEXES[key] = _Index(key)
        if len(_INDEXES) > CACHED_SETS:
            _INDEXES.popitem(last=False)
    else:
        _INDEXES.move_to_end(key)
    return index


def did_you_mean(word: str, choices: Iterable[str]) -> str:
    """Return a ready-to-print hint, or "" when nothing is close enough.

    Case is ignored when comparing, because officers often type ``Patrol`` for
    ``patrol``; the hint shows the spelling the policy expects.
    """
    return _index(choices).hint(word)


def did_you_mean_both(word: str, choices: Iterable[str],
                      otherwise: tuple[str, str] = ("", "")) -> tuple[str, str]:
    """:func:`did_you_mean`'s hint in English and in Chinese (是否想写 'x'？), or
    ``otherwise`` (English, Chinese) when nothing is close enough."""
    found = closest(word, choices)
    return (f"did you mean {found!r}?", f"是否想写 {found!r}？") if found is not None \
        else otherwise


def closest(word: str, choices: Iterable[str]) -> str | None:
    """The choice ``word`` was most likely meant to be (by the rule of
    :func:`did_you_mean`), or None: for a hint worded in another language."""
    return _index(choices).suggestion(word)


def one_of(choices: Iterable[str], limit: int = 20,
           words: tuple[str, str] = (", ", " or ")) -> str:
    """List allowed values briefly: ``'a', 'b' or 'c'`` (``words``: the separator and
    the last one, ``("、", " 或 ")`` in Chinese)."""
    items = _index(choices).options
    shown = [repr(c) for c in items[:limit]]
    if len(items) > limit:
        more = len(items) - limit
        shown.append(f"... ({more} more)" if words[0] == ", " else f"……（另有 {more} 个）")
    if len(shown) == 1:
        return shown[0]
    return words[0].join(shown[:-1]) + words[1] + shown[-1]
