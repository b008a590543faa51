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
from collections.abc import Mapping, Sequence
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
        if lang == "zh":
            return _of_zh(titles, star_count, bar_years, review_years)
        revoked, why = Slot("revoked_on", "iso"), Slot("revocation_reason")
        as_of, end, earned = Slot("as_of", "iso"), Slot("bar_end", "iso"), Slot("earned", "int")
        review, nxt = Slot("review_date", "iso"), Slot("next_review", "iso")
        entries: list[Entry] = [Choose(REVOCATION, (
            Words.of("a revocation dated ", revoked, " (", why, ") is after the as-of date ",
                     as_of, ", so it is not in effect yet"),
            Words.of("stars revoked on ", revoked, " (", why, "): no stars and no title "
                     "until ", end, f" ({bar_years} year(s) bar); without the bar the "
                     "household would hold ", earned, " star(s)"),
            Words.of("stars were revoked on ", revoked, " (", why, f"); the {bar_years} "
                     "year(s) bar ended on ", end)))]
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
                    items.append(Words.of(
                        f"{k} star(s) reach the title "
                        f"{_both(t.label, t.label_en, str(t.min_stars))} "
                        f"(from {t.min_stars} stars)"))
                    title_metas.append(_Meta("TITLE", "civility.titles"))
                    min_stars.append(t.min_stars)
                else:
                    items.append(Words.of(
                        f"{k} star(s): {lowest.min_stars - k} more needed for the title "
                        f"{_both(lowest.label, lowest.label_en, str(lowest.min_stars))}"))
                    title_metas.append(_Meta("NO_TITLE", "civility.titles"))
                    min_stars.append(lowest.min_stars)
            entries.append(Choose(TITLE, tuple(items)))
            metas.append(tuple(title_metas))
        entries.append(Choose(REVIEW, (
            Words.of("review due: never reviewed (no review_date)"),
            Words.of("review due since ", nxt, " (reviewed on ", review, "; stars are valid "
                     f"{review_years} year(s))"),
            Words.of("reviewed on ", review, "; next review due on ", nxt))))
        metas.append((_Meta("REVIEW_DUE", "civility.review_years"),
                      _Meta("REVIEW_DUE", "civility.review_years"),
                      _Meta("REVIEW_VALID", "civility.review_years")))
        return CivilityWords(tuple(entries), tuple(metas), bar_years, review_years,
                             tuple(min_stars))

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



def _zh_label(label: str, label_en: str, fallback: str) -> str:
    """A star or title as a Chinese sentence names it: its Chinese label, else the
    English one, else ``fallback``."""
    return label or label_en or fallback


def _of_zh(titles: Sequence[Any], star_count: int, bar_years: int,
           review_years: int) -> CivilityWords:
    """:meth:`CivilityWords.of` in Chinese."""
    revoked, why = Slot("revoked_on", "iso"), Slot("revocation_reason")
    as_of, end, earned = Slot("as_of", "iso"), Slot("bar_end", "iso"), Slot("earned", "int")
    review, nxt = Slot("review_date", "iso"), Slot("next_review", "iso")
    entries: list[Entry] = [Choose(REVOCATION, (
        Words.of("撤销记录的日期 ", revoked, "（", why, "）晚于计算日期 ", as_of, "，尚未生效"),
        Words.of("已于 ", revoked, " 撤销星级（", why, "）：", end, f" 前无星级、无称号（禁评 "
                 f"{bar_years} 年）；若无禁评，该户可得 ", earned, " 颗星"),
        Words.of("曾于 ", revoked, " 撤销星级（", why, f"）；{bar_years} 年禁评期已于 ", end,
                 " 结束")))]
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
                items.append(Words.of(
                    f"{k} 颗星，达到称号{_zh_label(t.label, t.label_en, str(t.min_stars))}"
                    f"（{t.min_stars} 颗星起）"))
                title_metas.append(_Meta("TITLE", "civility.titles"))
                min_stars.append(t.min_stars)
            else:
                items.append(Words.of(
                    f"{k} 颗星：还差 {lowest.min_stars - k} 颗星可获称号"
                    f"{_zh_label(lowest.label, lowest.label_en, str(lowest.min_stars))}"))
                title_metas.append(_Meta("NO_TITLE", "civility.titles"))
                min_stars.append(lowest.min_stars)
        entries.append(Choose(TITLE, tuple(items)))
        metas.append(tuple(title_metas))
    entries.append(Choose(REVIEW, (
        Words.of("需要复评：从未评定（无 review_date）"),
        Words.of("自 ", nxt, " 起需要复评（上次评定于 ", review,
                 f"；星级有效期 {review_years} 年）"),
        Words.of("已于 ", review, " 评定；下次复评日期 ", nxt))))
    metas.append((_Meta("REVIEW_DUE", "civility.review_years"),
                  _Meta("REVIEW_DUE", "civility.review_years"),
                  _Meta("REVIEW_VALID", "civility.review_years")))
    return CivilityWords(tuple(entries), tuple(metas), bar_years, review_years,
                         tuple(min_stars), "zh")
