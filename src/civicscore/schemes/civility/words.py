"""The sentences of steps 3 to 5 of a civility decision, as templates both engines render.

A scored household's reasons after its stars are three: its revocation (if it
has one), its title (if the policy has titles and no bar is in force) and its
review. Each is one of a few sentences; which one is chosen by an index the
plan computes (``revocation_say``, ``title_say``, ``review_say``: see
``civility_plan``), so both engines choose alike, and the sentence is worded
by ``plan.words`` from one template: :func:`say_row` per record,
:func:`say_frame` in batch, with no Python per row.

What is literal and what is a slot:

* ``bar_years``, ``review_years``, the titles' labels and their ``min_stars``
  are literals, built once per compiled policy.
* The title sentence depends on the star count only (a household that is not
  barred holds the title its stars reach), so there is one literal sentence
  per possible star count, 0 to the number of stars: "4 star(s): 2 more
  needed for the title ..." needs no arithmetic per row, and batch words it
  with one gather.
* Dates are slots shown ``iso`` (``str(date)``, as the per-record sentences have
  always written them, ``0001-01-01`` included; ``plan.words``' ``date`` show
  writes it "never", which these sentences never did). The slots hold the dates
  themselves: ``plan.words`` formats them, per record by ``show_iso`` and in batch
  natively in polars, and only on the rows whose sentence reads them (a revocation
  date is formatted for the few revoked households, not for every row).
  :func:`iso_frame` remains for the step-1 sentences the batch module words.

Each item also carries what its :class:`~civicscore.results.Reason` says
besides the message (code, rule, threshold), so the per-record Reason objects
keep exactly the code, rule, facts, threshold and effect they had.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import TYPE_CHECKING, Any

from ...plan.words import Choose, Entry, Slot, Words, say_frame
from ...plan.words import both_labels as _both
from ...plan.words import show_iso as iso  # noqa: F401 - re-exported for the batch module
from ...results import Reason

if TYPE_CHECKING:  # polars is the optional batch extra
    import polars as pl

#: The index columns (plan outputs) that choose each sentence, in reason order.
REVOCATION, TITLE, REVIEW = "revocation_say", "title_say", "review_say"

#: The date columns the sentences read (shown ``iso``), besides the indices and ``earned``.
DATE_SLOTS = ("revoked_on", "as_of", "bar_end", "review_date", "next_review")


def iso_frame(days: pl.Expr) -> pl.Expr:
    """``iso`` (``plan.words.show_iso``) of a Date column in polars (null stays null:
    the sentences that read a date are only said where it is given)."""
    return days.dt.strftime("%Y-%m-%d")


@dataclass(frozen=True, slots=True)
class _Meta:
    """What a sentence's Reason says besides its message."""

    code: str
    rule: str


@dataclass(frozen=True)
class CivilityWords:
    """The reason templates of one compiled civility policy (steps 3 to 5)."""

    entries: tuple[Entry, ...]
    metas: tuple[tuple[_Meta, ...], ...]  # per entry, per item
    bar_years: int
    review_years: int
    min_stars: tuple[int, ...]  # per title_say item: the threshold its Reason names
    lang: str = "en"  # the language of the sentences

    @staticmethod
    def of(titles: Sequence[Any], star_count: int, bar_years: int,
           review_years: int, lang: str = "en") -> CivilityWords:
        """The templates for ``titles`` (sorted by ``min_stars``; each has ``min_stars``,
        ``label``, ``label_en``) over ``star_count`` stars, in ``lang`` (``en`` or
        ``zh``: the same items, slots and metas, worded in that language)."""
        say = _ZH if lang == "zh" else _EN
        entries: list[Entry] = [Choose(REVOCATION, say.revocation(bar_years))]
        metas: list[tuple[_Meta, ...]] = [(
            _Meta("REVOCATION_PENDING", "record.revoked_on"),
            _Meta("REVOKED", "civility.bar_years"),
            _Meta("REVOCATION_ENDED", "civility.bar_years"))]
        min_stars: list[int] = []
        if titles:
            items, title_metas = [], []
            lowest = titles[0]
            for k in range(star_count + 1):
                reached = [t for t in titles if t.min_stars <= k]
                if reached:
                    t = reached[-1]
                    items.append(Words.of(say.title(k, say.name(t), t.min_stars)))
                    title_metas.append(_Meta("TITLE", "civility.titles"))
                    min_stars.append(t.min_stars)
                else:
                    items.append(Words.of(say.no_title(k, lowest.min_stars - k,
                                                       say.name(lowest))))
                    title_metas.append(_Meta("NO_TITLE", "civility.titles"))
                    min_stars.append(lowest.min_stars)
            entries.append(Choose(TITLE, tuple(items)))
            metas.append(tuple(title_metas))
        entries.append(Choose(REVIEW, say.review(review_years)))
        metas.append((_Meta("REVIEW_DUE", "civility.review_years"),
                      _Meta("REVIEW_DUE", "civility.review_years"),
                      _Meta("REVIEW_VALID", "civility.review_years")))
        return CivilityWords(tuple(entries), tuple(metas), bar_years, review_years,
                             tuple(min_stars), lang)

    # -- per record ------------------------------------------------------------------------
    def reasons(self, trace: Any, as_of: dt.date, revoked: dt.date | None, why: str,
                review: dt.date | None) -> list[Reason]:
        """The Reasons of steps 3 to 5 of one scored household, from the plan's ``trace``
        (its ``revocation_say``, ``title_say``, ``review_say``, ``earned``, ``bar_end``,
        ``next_review``) and the fields it read: each message rendered from its template."""
        out = []
        at = trace.revocation_say
        if at is not None:
            revocation = self.entries[0]
            assert isinstance(revocation, Choose)
            row = {"revoked_on": revoked, "revocation_reason": why, "as_of": as_of,
                   "bar_end": trace.bar_end, "earned": trace.earned}
            meta, message = self.metas[0][at], revocation.items[at].render(row)
            facts = {"revoked_on": revoked, "revocation_reason": why}
            if meta.code == "REVOCATION_PENDING":
                out.append(Reason(meta.code, meta.rule, message, facts, as_of))
            elif meta.code == "REVOKED":
                out.append(Reason(meta.code, meta.rule, message, facts, self.bar_years,
                                  f"-{trace.earned} stars"))
            else:
                out.append(Reason(meta.code, meta.rule, message, facts, self.bar_years))
        at = trace.title_say
        if self.min_stars and at is not None:  # literal sentences: rendered once, here
            meta = self.metas[1][at]
            out.append(Reason(meta.code, meta.rule, self._titles[at], {"stars": at},
                              self.min_stars[at]))
        review_words = self.entries[-1]
        assert isinstance(review_words, Choose)
        at = trace.review_say
        message = review_words.items[at].render(
            {"review_date": review, "next_review": trace.next_review})
        meta = self.metas[-1][at]
        out.append(Reason(meta.code, meta.rule, message, {"review_date": review},
                          self.review_years))
        return out

    @cached_property
    def _titles(self) -> tuple[str, ...]:
        """The title sentences (literals), rendered once per policy."""
        title = self.entries[1]
        assert isinstance(title, Choose)
        return tuple(w.render({}) for w in title.items)

    # -- batch -----------------------------------------------------------------------------
    def frame_columns(self, plan: Mapping[str, pl.Expr], scored: pl.Expr, why: pl.Expr,
                      as_of: dt.date) -> list[pl.Expr]:
        """The columns :meth:`say` reads, as polars expressions over the batch frame:
        ``plan[name]`` is the plan's column ``name``; the indices are null where the row
        is not ``scored`` (a rejected row has no sentences of these steps)."""
        import polars as pl

        cols = [pl.when(scored).then(plan[name]).alias(name)
                for name in (REVOCATION, TITLE, REVIEW)]
        cols += [plan[name].alias(name)
                 for name in ("revoked_on", "bar_end", "review_date", "next_review")]
        cols += [pl.lit(as_of, dtype=pl.Date).alias("as_of"),
                 why.alias("revocation_reason"), plan["earned"].alias("earned")]
        return cols

    def say(self, frame: pl.DataFrame, more: Sequence[tuple[pl.Series, pl.Series]] = ()
            ) -> pl.Series:
        """The sentences of every row of ``frame`` (a List(String) column ``reasons``),
        ``frame`` holding the columns of :meth:`frame_columns`: the lists
        ``plan.words.say_frame`` gives.
        ``more`` adds sentences after them: (row position, text) pairs of columns (the
        rejected rows' reasons)."""
        return say_frame(self.entries, frame, more)


# --- the sentences, per language ------------------------------------------------------
#
# The structure above (which items, in which order, with which metas) is written once;
# only the words differ. Each language's sentences read the same slots.

_REVOKED, _WHY = Slot("revoked_on", "iso"), Slot("revocation_reason")
_AS_OF, _END, _EARNED = Slot("as_of", "iso"), Slot("bar_end", "iso"), Slot("earned", "int")
_REVIEW, _NEXT = Slot("review_date", "iso"), Slot("next_review", "iso")


@dataclass(frozen=True)
class _Sentences:
    """One language's sentences of steps 3 to 5."""

    revocation: Callable[[int], tuple[Words, Words, Words]]  # pending, revoked, ended
    title: Callable[[int, str, int], str]  # stars, the title's name, its min_stars
    no_title: Callable[[int, int, str], str]  # stars, how many more, the lowest title
    review: Callable[[int], tuple[Words, Words, Words]]  # never, due, valid
    name: Callable[[Any], str]  # a title as a sentence names it


_EN = _Sentences(
    revocation=lambda bar: (
        Words.of("a revocation dated ", _REVOKED, " (", _WHY, ") is after the as-of date ",
                 _AS_OF, ", so it is not in effect yet"),
        Words.of("stars revoked on ", _REVOKED, " (", _WHY, "): no stars and no title "
                 "until ", _END, f" ({bar} year(s) bar); without the bar the "
                 "household would hold ", _EARNED, " star(s)"),
        Words.of("stars were revoked on ", _REVOKED, " (", _WHY, f"); the {bar} "
                 "year(s) bar ended on ", _END)),
    title=lambda k, name, low: f"{k} star(s) reach the title {name} (from {low} stars)",
    no_title=lambda k, more, name: f"{k} star(s): {more} more needed for the title {name}",
    review=lambda years: (
        Words.of("review due: never reviewed (no review_date)"),
        Words.of("review due since ", _NEXT, " (reviewed on ", _REVIEW, "; stars are valid "
                 f"{years} year(s))"),
        Words.of("reviewed on ", _REVIEW, "; next review due on ", _NEXT)),
    name=lambda t: _both(t.label, t.label_en, str(t.min_stars)))

_ZH = _Sentences(
    revocation=lambda bar: (
        Words.of("撤销记录的日期 ", _REVOKED, "（", _WHY, "）晚于计算日期 ", _AS_OF, "，尚未生效"),
        Words.of("已于 ", _REVOKED, " 撤销星级（", _WHY, "）：", _END, f" 前无星级、无称号（禁评 "
                 f"{bar} 年）；若无禁评，该户可得 ", _EARNED, " 颗星"),
        Words.of("曾于 ", _REVOKED, " 撤销星级（", _WHY, f"）；{bar} 年禁评期已于 ", _END,
                 " 结束")),
    title=lambda k, name, low: f"{k} 颗星，达到称号{name}（{low} 颗星起）",
    no_title=lambda k, more, name: f"{k} 颗星：还差 {more} 颗星可获称号{name}",
    review=lambda years: (
        Words.of("需要复评：从未评定（无 review_date）"),
        Words.of("自 ", _NEXT, " 起需要复评（上次评定于 ", _REVIEW,
                 f"；星级有效期 {years} 年）"),
        Words.of("已于 ", _REVIEW, " 评定；下次复评日期 ", _NEXT)),
    name=lambda t: t.label or t.label_en or str(t.min_stars))
