"""The reasons of a visits decision as templates, built once per compiled policy.

A scored household's reasons say which tier applies and why (``TIER_MATCHED``
or ``DEFAULT_TIER``), how its next visit follows from the last one
(``CADENCE``, or ``NEVER_VISITED``), each trigger that brought it forward
(``TRIGGER``) and whether the visit is late (``OVERDUE``). Their sentences are
written here once, as :mod:`civicscore.plan.words` templates: the policy's
texts (tier names, conditions, cadences in words, trigger names and events)
are literals baked in when the policy is compiled; the values of one household
are slots naming columns of its *words row*:

* the plan's outputs (``VisitsScheme.plan``: ``$tier``, ``$cadence_due``,
  ``$next_due``, ``$overdue``, per trigger ``$fired{j}``, ``$ev{j}``,
  ``$deadline{j}``, per tier ``$c{i}`` under the hit policies whose reasons name
  the other matching tiers: all but "first" and "unique");
* the facts the conditions read, ``as_of``, ``last_visit`` (``NEVER`` where
  never visited) and ``LAST_GIVEN`` (the last visit as given, null if none);
* a few values derived from those by one small step written for both engines
  side by side (:meth:`VisitsWords.row` and :meth:`VisitsWords.frame`):
  whether the household was visited, the days a visit is overdue, and (those
  hit policies) the tiers that matched, in the order the policy lists them.

The per-record path renders each reason's template with ``Words.render`` over
the row (``VisitsScheme._reasons``, on first read); batch renders
:attr:`VisitsWords.entries`, the same templates, with ``say_frame`` over the
scored rows (no Python per row). So both engines write the same sentences.

How a date is shown: ``"date"`` writes ``records.NEVER`` (0001-01-01) as
"never", which a sentence of a date that can be that day must not do (a last
visit or an as-of date given as 0001-01-01 is written so). Those use
``"text"`` (``str`` of a date is its ISO form); every other date here is later
than the last visit (with "never" as 0001-01-01), so it cannot be that day.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from ...expr import Expression
from ...plan.words import Branch, Choose, Entry, Part, Slot, Words, entry_columns

if TYPE_CHECKING:  # polars is the optional batch extra: imported where batch runs
    import polars as pl

#: Derived columns of the words row (no plan step or fact is named so: facts cannot
#: start with "$", and the plan's steps have no ".").
VISITED = "$w.visited"
DAYS_OVERDUE = "$w.days_overdue"
SEVERAL = "$w.several"
MATCHING = "$w.matching"
CADENCE_AT = "$w.cadence"  # the tier, where the household was visited (else null)
NEVER_AT = "$w.where $never"  # 0 where the household was never visited (else null)


class _Cadence(Protocol):
    @property
    def text(self) -> str: ...

    def describe(self, lang: str = "en") -> str: ...


class _Tier(Protocol):
    """What the templates read of a compiled tier (``scheme._Tier``)."""

    @property
    def id(self) -> str: ...
    @property
    def name(self) -> str: ...
    @property
    def label(self) -> str: ...
    @property
    def label_en(self) -> str: ...
    @property
    def when(self) -> Expression | None: ...
    @property
    def cadence(self) -> _Cadence: ...
    @property
    def priority(self) -> int | None: ...


class _Trigger(Protocol):
    """What the templates read of a compiled trigger (``scheme._Trigger``)."""

    @property
    def name(self) -> str: ...
    @property
    def label(self) -> str: ...
    @property
    def label_en(self) -> str: ...
    @property
    def id(self) -> str: ...
    @property
    def event(self) -> Expression: ...
    @property
    def within_days(self) -> int: ...


def _days(n: int) -> str:
    return f"{n} day" if n == 1 else f"{n} days"


def _values(names: Sequence[str], lang: str = "en") -> list[Part]:
    """``age = 82, alone = true``: each fact read, shown as an officer writes it
    (``age = 82，alone = true`` in a Chinese sentence)."""
    parts: list[Part] = []
    sep, show = ("，", "fact_zh") if lang == "zh" else (", ", "fact")
    for k, name in enumerate(names):
        parts += [sep if k else "", f"{name} = ", Slot(name, show)]  # type: ignore[arg-type]
    return parts


def _zh_name(label: str, label_en: str, id: str) -> str:
    """A tier or trigger as a Chinese sentence names it: its Chinese label (else the
    English one, else its id), then ``[id]`` where it is a tier."""
    return label or label_en or id


@dataclass(frozen=True)
class VisitsWords:
    """The reason templates of one compiled visits section (see the module docstring)."""

    matched: tuple[Words, ...]  # TIER_MATCHED, per tier with a condition
    default: Words  # DEFAULT_TIER
    cadence: tuple[Words, ...]  # CADENCE, per tier, the default last
    never: Words  # NEVER_VISITED
    triggers: tuple[Words, ...]  # TRIGGER, per trigger
    overdue: Words  # OVERDUE
    #: under the hit policies that say which other tiers matched (all but "first" and
    #: "unique"): ``(i, label)`` of every tier, in the order the note lists those that
    #: matched (``i`` the tier's ``$c{i}``); None under the others (no note, no columns)
    matching: tuple[tuple[int, str], ...] | None
    last_given: str  # the plan input of the last visit as given (null: never visited)
    entries: tuple[Entry, ...] = field(init=False)
    #: (flag, its derived index) of every reason said where a flag of the plan holds
    _wheres: tuple[tuple[str, str], ...] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        # The reasons in the order _reasons gives them: the tier's, the due date's, each
        # fired trigger's, overdue. A reason said on some rows only is a Choose over an
        # index that is null elsewhere (``_where``), so batch renders it on those rows only
        # (a Say with ``when`` renders every row, then drops the others).
        entries: tuple[Entry, ...] = (
            Choose("$tier", (*self.matched, self.default)),
            Choose(CADENCE_AT, self.cadence),
            Choose(NEVER_AT, (self.never,)),
            *(Choose(_where(f"$fired{j}"), (w,)) for j, w in enumerate(self.triggers)),
            Choose(_where("$overdue"), (self.overdue,)))
        object.__setattr__(self, "entries", entries)
        flags = ("$overdue", *(f"$fired{j}" for j in range(len(self.triggers))))
        object.__setattr__(self, "_wheres", tuple((f, _where(f)) for f in flags))

    @property
    def columns(self) -> set[str]:
        """The columns a frame given to :meth:`frame` must hold: those the templates read
        but the derived ones, and those these are derived from."""
        need = {c for c in entry_columns(self.entries) if not c.startswith("$w.")}
        need |= {self.last_given, "$next_due", "$tier", "as_of", *(f for f, _ in self._wheres)}
        if self.matching is not None:
            need |= {f"$c{i}" for i, _ in self.matching}
        return need

    # -- the derived values, for both engines -----------------------------------------
    def row(self, outputs: Sequence[str], trace: Sequence[Any], env: Mapping[str, Any],
            last: dt.date | None, as_of: dt.date) -> dict[str, Any]:
        """The words row of one household: its plan outputs by name, the values its
        expressions read (``env``), and the derived values (as :meth:`frame` adds them)."""
        row = dict(zip(outputs, trace, strict=True))
        row.update(env)
        row["as_of"] = as_of
        row[self.last_given] = last
        visited = row[VISITED] = last is not None
        row[CADENCE_AT] = row["$tier"] if visited else None
        row[NEVER_AT] = None if visited else 0
        for flag, at in self._wheres:
            row[at] = 0 if row[flag] is True else None
        next_due = row["$next_due"]
        row[DAYS_OVERDUE] = None if next_due is None else (as_of - next_due).days
        if self.matching is not None:
            held = [label for i, label in self.matching if row[f"$c{i}"] is True]
            row[SEVERAL] = len(held) > 1
            row[MATCHING] = ", ".join(held)
        return row

    def frame(self, frame: pl.DataFrame, as_of: dt.date) -> pl.DataFrame:
        """``frame`` (plan outputs, facts, ``as_of``, ``last_visit`` and ``last_given``
        by name, one row per scored household) with the derived values, as :meth:`row`
        computes them, as columns."""
        import polars as pl

        visited = pl.col(self.last_given).is_not_null()
        derived = [visited.alias(VISITED),
                   pl.when(visited).then(pl.col("$tier")).alias(CADENCE_AT),
                   pl.when(~visited).then(pl.lit(0, dtype=pl.Int8)).alias(NEVER_AT),
                   *(pl.when(pl.col(flag)).then(pl.lit(0, dtype=pl.Int8)).alias(at)
                     for flag, at in self._wheres),
                   (pl.lit(as_of, dtype=pl.Date) - pl.col("$next_due")).dt.total_days()
                   .alias(DAYS_OVERDUE)]
        if self.matching is not None:
            held = [pl.col(f"$c{i}").fill_null(False) for i, _ in self.matching]
            derived.append((pl.sum_horizontal(h.cast(pl.Int64) for h in held) > 1)
                           .alias(SEVERAL) if held else pl.lit(False).alias(SEVERAL))
            derived.append(pl.concat_str([pl.when(h).then(pl.lit(label)) for h, (_, label)
                                          in zip(held, self.matching, strict=True)],
                                         separator=", ", ignore_nulls=True)
                           .fill_null("").alias(MATCHING) if held
                           else pl.lit("").alias(MATCHING))
        return frame.with_columns(derived)


def _where(flag: str) -> str:
    """The derived index of a reason said where the plan's ``flag`` holds: 0 there, null
    elsewhere (``NEVER_AT``, where the household was never visited, is named alike)."""
    return f"$w.where {flag}"


#: Per hit policy (and collect's aggregation), the note a tier's reason adds when several
#: tiers matched: which policy chose it among which tiers, in English and in Chinese.
_NOTES: dict[tuple[str, str | None], tuple[str, str]] = {
    ("priority", None): ("; it has the highest priority among the matching tiers: ",
                         "；在条件成立的各档中它的优先级最高："),
    ("any", None): ("; hit_policy 'any': every matching tier visits at this cadence, and "
                    "the first in the policy is named: ",
                    "；hit_policy 'any'：条件成立的各档探访频率相同，取政策中最先的一档："),
    ("rule order", None): ("; hit_policy 'rule order' lists the matching tiers in policy "
                           "order and places the household in the first: ",
                           "；hit_policy 'rule order' 按政策顺序列出条件成立的各档，住户归入"
                           "第一档："),
    ("output order", None): ("; hit_policy 'output order' lists the matching tiers by "
                             "priority, highest first, and places the household in the "
                             "first: ",
                             "；hit_policy 'output order' 按优先级从高到低列出条件成立的各档，"
                             "住户归入第一档："),
    ("collect", "max"): ("; hit_policy 'collect' with aggregation 'max': of the matching "
                         "tiers it visits most often (the most care any of them calls "
                         "for): ",
                         "；hit_policy 'collect'（aggregation 'max'）：在条件成立的各档中它"
                         "探访最频繁（其中所需照护最多的一档）："),
    ("collect", "min"): ("; hit_policy 'collect' with aggregation 'min': of the matching "
                         "tiers it visits least often: ",
                         "；hit_policy 'collect'（aggregation 'min'）：在条件成立的各档中它"
                         "探访最少："),
}


def hit_note(tiers: Sequence[_Tier], hit_policy: str, aggregation: str | None, lang: str
             ) -> tuple[tuple[tuple[int, str], ...] | None, list[Part]]:
    """The tiers a reason lists as matched (``(i, label)`` in the order the hit policy
    lists them) and the note naming the policy, said where several tiers matched; no
    list and no note under ``first`` and ``unique`` (one tier is all they look at)."""
    words = _NOTES.get((hit_policy, aggregation))
    if words is None:
        return None, []
    order = list(range(len(tiers)))
    if hit_policy == "output order":  # the list is in priority order, highest first
        order.sort(key=lambda i: -(tiers[i].priority or 0))
    if hit_policy in ("priority", "output order"):
        labels = [f"{tiers[i].id} ({tiers[i].priority})" for i in order]
    elif hit_policy == "collect":
        labels = [f"{tiers[i].id} ({tiers[i].cadence.text})" for i in order]
    else:
        labels = [tiers[i].id for i in order]
    note: list[Part] = [Branch(SEVERAL, Words.of(words[lang == "zh"], Slot(MATCHING)),
                               Words.of())]
    return tuple(zip(order, labels, strict=True)), note


def visits_words(tiers: Sequence[_Tier], default: _Tier, triggers: Sequence[_Trigger],
                 hit_policy: str, last_given: str, lang: str = "en",
                 labels: Mapping[str, str] | None = None,
                 aggregation: str | None = None) -> VisitsWords:
    """The templates of a visits section: ``tiers`` with a condition, in policy order,
    then the default tier and the triggers, as ``compile_visits`` made them;
    ``last_given`` names the plan input of the last visit as given. ``lang`` is the
    language of the sentences (``en`` or ``zh``); both read the same columns, so
    either renders over the same words row or frame. ``labels`` names the facts in
    Chinese: the Chinese sentences say each condition in words (``expr.words``)."""
    if lang == "zh":
        return _visits_words_zh(tiers, default, triggers, hit_policy, last_given,
                                labels or {}, aggregation)
    matching, note = hit_note(tiers, hit_policy, aggregation, "en")
    matched = []
    for t in tiers:
        assert t.when is not None
        read = list(t.when.reads)
        matched.append(Words.of(
            f"tier {t.name} applies because its condition holds: {t.when.text}",
            *((" (", *_values(read), ")") if read else ()), *note))
    checked = ", ".join(t.id for t in tiers)
    read_any = list(dict.fromkeys(name for t in tiers if t.when is not None
                                  for name in t.when.reads))
    default_words = Words.of(
        "no other tier's condition holds",
        *((f" (checked {checked}; ", *_values(read_any), ")") if checked else ()),
        f", so the default tier {default.name} applies")
    cadence = tuple(Words.of(
        "last visit on ", Slot(last_given, "text"),
        f", {t.cadence.describe()} ({t.cadence.text}): next visit due on ",
        Slot("$cadence_due", "date")) for t in (*tiers, default))
    never = Words.of("no visit on record: the first visit is due now (", Slot("as_of", "text"),
                     ")")
    trigger_words = tuple(Words.of(
        f"{tr.name}: event on ", Slot(f"$ev{j}", "date"), f" ({tr.event.text}), ",
        Branch(VISITED, Words.of("after the last visit on ", Slot(last_given, "text")),
               Words.of("and no visit since")),
        f"; a visit is due within {_days(tr.within_days)}, by ",
        Slot(f"$deadline{j}", "date")) for j, tr in enumerate(triggers))
    overdue = Words.of("the next visit was due on ", Slot("$next_due", "date"), ", ",
                       Slot(DAYS_OVERDUE, "days"), " before ", Slot("as_of", "date"))
    return VisitsWords(tuple(matched), default_words, cadence, never, trigger_words, overdue,
                       matching, last_given)


def _visits_words_zh(tiers: Sequence[_Tier], default: _Tier, triggers: Sequence[_Trigger],
                     hit_policy: str, last_given: str,
                     labels: Mapping[str, str], aggregation: str | None = None
                     ) -> VisitsWords:
    """:func:`visits_words` in Chinese: the same reasons, slots and branches, worded for
    an officer or a household that reads Chinese (a condition in words, by the facts'
    labels, then the values it read as the policy names them; dates in ISO form, 从未
    for never)."""
    from ...expr.words import plain_zh  # only where reasons are worded in Chinese

    matching, note = hit_note(tiers, hit_policy, aggregation, "zh")

    def tier_name(t: _Tier) -> str:
        return f"{_zh_name(t.label, t.label_en, t.id)}档 [{t.id}]"

    matched = []
    for t in tiers:
        assert t.when is not None
        read = list(t.when.reads)
        matched.append(Words.of(
            f"归入{tier_name(t)}，因为条件成立：{plain_zh(t.when.node, labels)}",
            *(("（", *_values(read, "zh"), "）") if read else ()), *note))
    checked = ", ".join(t.id for t in tiers)
    read_any = list(dict.fromkeys(name for t in tiers if t.when is not None
                                  for name in t.when.reads))
    default_words = Words.of(
        "其他各档的条件均不成立",
        *((f"（已检查 {checked}；", *_values(read_any, "zh"), "）") if checked else ()),
        f"，因此归入默认的{tier_name(default)}")
    cadence = tuple(Words.of(
        "上次探访于 ", Slot(last_given, "text"),
        f"，{t.cadence.describe('zh')}探访一次（{t.cadence.text}）：下次探访应于 ",
        Slot("$cadence_due", "date_zh"), " 前完成") for t in (*tiers, default))
    never = Words.of("没有探访记录：首次探访即刻到期（", Slot("as_of", "text"), "）")
    trigger_words = tuple(Words.of(
        f"{_zh_name(tr.label, tr.label_en, tr.id)}：事件发生于 ", Slot(f"$ev{j}", "date_zh"),
        f"（{plain_zh(tr.event.node, labels)}），",
        Branch(VISITED, Words.of("在上次探访（", Slot(last_given, "text"), "）之后"),
               Words.of("此后尚无探访")),
        f"；须在 {tr.within_days} 天内探访，即 ", Slot(f"$deadline{j}", "date_zh"), " 前")
        for j, tr in enumerate(triggers))
    overdue = Words.of("下次探访原应于 ", Slot("$next_due", "date_zh"), " 完成，截至 ",
                       Slot("as_of", "date_zh"), " 已逾期 ", Slot(DAYS_OVERDUE, "days_zh"))
    return VisitsWords(tuple(matched), default_words, cadence, never, trigger_words, overdue,
                       matching, last_given)
