"""The words of an appraisal decision's reasons, written once as templates.

Both engines word a scored subject's reasons from these entries (``plan.words``):
the per-record path renders them over one row of its trace (``say_row``), batch
over a slice of its frame (``say_frame``). The policy's texts (indicator and
grade labels, weights, bands' bounds, veto conditions) are literals of the
templates, built once per compiled policy; the numbers are slots naming the
plan's values already written as text (``$tR<i>`` raw, ``$tN<i>`` score,
``$tW<i>`` weighted, ``$tX:<fact>`` a rater's value, ``$tT`` the total,
``$tShort`` how far below the next grade), and a few trace columns:

* ``$how<i>``: how the score was found (``how_text``, one function for both);
* ``$flag<i>``: the value reached no step / fell in no band;
* ``$band``: the grade index the total gives (which GRADE sentence);
* ``$vb<j>``: the band index where veto ``j`` holds, else null (which VETO
  sentence, each naming the band the total gave);
* ``$read:<name>``: a value a veto read (shown as Python's ``str``);
* ``$quota`` (0 kept, 1 demoted, else null) and ``$rank``, for the quota's.
"""

from __future__ import annotations

import functools
import math
from decimal import ROUND_HALF_UP, Decimal
from typing import TYPE_CHECKING

from ...plan.ops import EXACT_CONTEXT
from ...plan.words import Choose, Entry, Part, Say, Slot, Words
from ...plan.words import both_labels as _both

if TYPE_CHECKING:  # polars is the optional batch extra: imported where batch runs

    from .scheme import AppraisalScheme

CONFIRM = "a human must confirm this before it takes effect"
CONFIRM_ZH = "须经人工确认后方可生效"


def _name(label: str, label_en: str, fallback: str, lang: str) -> str:
    """A thing named in a sentence: both labels in English (``任务完成率 (Task
    completion)``), the Chinese label alone in Chinese (else the English one, else its id)."""
    if lang == "zh":
        return label or label_en or fallback
    return _both(label, label_en, fallback)


def dec(x: float | int | Decimal) -> Decimal:
    """A number as it was written: an int as is, a float at its shortest spelling
    (``Decimal(repr(x))``: 92.82 is 92.82, not the double nearest to it)."""
    if isinstance(x, Decimal):
        return x
    if isinstance(x, bool):
        return Decimal(int(x))
    if isinstance(x, int):
        return Decimal(x)
    return Decimal(repr(float(x)))


def _fmt(x: float | int | Decimal) -> str:
    """A number as an officer writes it: at most 4 decimals (rounded half-up from the
    exact decimal), no exponent, no trailing 0. (Cached by type and value: a reason
    writes the policy's constants again and again.)"""
    return _fmt_of(x)


@functools.lru_cache(maxsize=8192, typed=True)  # typed: 1, 1.0 and Decimal(1) cached apart
def _fmt_of(x: float | int | Decimal) -> str:
    if isinstance(x, float) and not math.isfinite(x):
        return f"{x:g}"
    d = dec(x)
    if abs(d) >= Decimal(10) ** 15:
        return f"{float(d):g}"
    q = d.quantize(Decimal("0.0001"), rounding=ROUND_HALF_UP, context=EXACT_CONTEXT)
    text = f"{q:f}".rstrip("0").rstrip(".")
    return "0" if text in ("-0", "") else text


def indicator_words(scheme: AppraisalScheme, i: int, lang: str = "en") -> Words:
    """The INDICATOR sentence of indicator ``i``: source -> score (how) x weights."""
    ind = scheme.indicators[i]
    zh = lang == "zh"
    name = _name(ind.label, ind.label_en, ind.id, lang)
    raw = Slot(f"$tR{i}")
    source: list[Part]
    if ind.value is not None:
        source = [f"{ind.value.text} = ", raw]
    else:
        source = ["评价人加权平均：" if zh else "rater-weighted mean of "]
        for j, (fact, w) in enumerate(ind.raters):
            source += [(("，" if zh else ", ") if j else "") + f"{fact} ", Slot(f"$tX:{fact}"),
                       f" x{_fmt(w)}"]
        source += [" = ", raw]
    if zh:
        group = (f" x 分组 {ind.group_label} {_fmt(ind.group_weight)}"
                 if ind.group is not None else "")
        return Words.of(f"{name}：", *source, " -> ", Slot(f"$tN{i}"), "（", Slot(f"$how{i}"),
                        f"）x 权重 {_fmt(ind.weight)}{group} = ", Slot(f"$tW{i}"))
    group = (f" x group {ind.group_label} {_fmt(ind.group_weight)}"
             if ind.group is not None else "")
    return Words.of(f"{name}: ", *source, " -> ", Slot(f"$tN{i}"), " (", Slot(f"$how{i}"),
                    f") x weight {_fmt(ind.weight)}{group} = ", Slot(f"$tW{i}"))


def flag_words(scheme: AppraisalScheme, i: int, lang: str = "en") -> Words | None:
    """The OUT_OF_BANDS / NO_STEP_REACHED sentence of indicator ``i`` (None: it has none)."""
    ind = scheme.indicators[i]
    method = ind.norm.method
    if method not in ("bands", "thresholds"):
        return None
    name = _name(ind.label, ind.label_en, ind.id, lang)
    if lang == "zh":
        tail = (" 不在政策的任何区间内，因此得 0 分" if method == "bands"
                else " 未达到任何一档，因此得 0 分")
        return Words.of(f"{name}：数值 ", Slot(f"$tR{i}"), tail)
    tail = (" falls in no band of the policy, so it scores 0" if method == "bands"
            else " reaches no step, so it scores 0")
    return Words.of(f"{name}: the value ", Slot(f"$tR{i}"), tail)


def total_words(scheme: AppraisalScheme, lang: str = "en") -> Words:
    """The TOTAL sentence: every weighted score, summed, rounded."""
    terms: list[Part] = []
    for i in range(len(scheme.indicators)):
        terms += [" + " if i else "", Slot(f"$tW{i}")]
    if lang == "zh":
        return Words.of("总分 = ", *terms, " = ", Slot("$tT"), "（四舍五入保留 2 位小数）")
    return Words.of("total = ", *terms, " = ", Slot("$tT"), " (rounded half-up to 2 decimals)")


def grade_choice(scheme: AppraisalScheme, lang: str = "en") -> Choose:
    """The GRADE sentence of each band (index ``$band``)."""
    items = []
    grades = scheme.grades
    zh = lang == "zh"
    for g, grade in enumerate(grades):
        note: list[Part] = []
        name = _name(grade.label, grade.label_en, grade.id, lang)
        if g > 0:
            better = grades[g - 1]
            other = _name(better.label, better.label_en, better.id, lang)
            note = ([f"（距{other} {_fmt(better.min_score)} 分还差 ", Slot("$tShort"), " 分）"]
                    if zh else [" (", Slot("$tShort"), f" short of {other} at "
                                f"{_fmt(better.min_score)})"])
        if zh:
            items.append(Words.of("总分 ", Slot("$tT"), f" 达到 {_fmt(grade.min_score)} 分，"
                                  f"即{name}的最低分", *note))
        else:
            items.append(Words.of("a total of ", Slot("$tT"),
                                  f" reaches {_fmt(grade.min_score)}, "
                                  f"the lowest score for {name}", *note))
    return Choose("$band", tuple(items))


def veto_reads(scheme: AppraisalScheme, j: int) -> tuple[str, ...]:
    """The names veto ``j``'s sentence quotes: the facts and ``as_of`` its condition reads."""
    return tuple(n for n in scheme.vetoes[j].when.reads if n == "as_of" or n in scheme.facts)


def veto_choice(scheme: AppraisalScheme, j: int, lang: str = "en") -> Choose:
    """The VETO sentence of veto ``j``, one per band the total gave (index ``$vb<j>``)."""
    v = scheme.vetoes[j]
    lowest = scheme.grades[-1]
    zh = lang == "zh"
    read: list[Part] = []
    for name in veto_reads(scheme, j):
        sep = ("；读取 " if zh else "; read ") if not read else ("，" if zh else ", ")
        read += [sep + f"{name} = ", Slot(f"$read:{name}")]
    item = _name(v.label, v.label_en, v.id, lang)
    worst = _name(lowest.label, lowest.label_en, lowest.id, lang)
    if zh:
        from ...expr.words import plain_zh  # only where reasons are worded in Chinese

        said = plain_zh(v.when.node, {n: f.label for n, f in scheme.facts.items()})
        head = Words.of(f"否决项 {item} 成立（{said}", *read,
                        f"）：无论总分多少，等次均为{worst}（按总分应为")
        return Choose(f"$vb{j}", tuple(
            Words.of(*head.parts, f"{_name(g.label, g.label_en, g.id, lang)}）；{CONFIRM_ZH}")
            for g in scheme.grades))
    head = Words.of(f"veto item {item} holds ({v.when.text}", *read,
                    f"): the grade is {worst} whatever the total (the bands gave ")
    return Choose(f"$vb{j}", tuple(
        Words.of(*head.parts, f"{_both(g.label, g.label_en, g.id)}); {CONFIRM}")
        for g in scheme.grades))


def reason_entries(scheme: AppraisalScheme) -> tuple[Entry, ...]:
    """Every reason of a scored subject before the quota, in order: the very templates
    the per-record path renders (``scheme.words``), as entries for ``say_frame``."""
    w = scheme.words
    out: list[Entry] = []
    for i, words in enumerate(w.indicators):
        out.append(Say(words))
        flag = w.flags[i]
        if flag is not None:
            out.append(Say(flag, when=f"$flag{i}"))
    out += [Say(w.total), w.grade, *w.vetoes]
    return tuple(out)


def quota_rule(scheme: AppraisalScheme, cohort: int, places: int, lang: str = "en") -> str:
    """The quota's rule as worded for a cohort of ``cohort`` scored subjects."""
    q = scheme.quota
    assert q is not None
    grade = scheme._grade(q.grade)
    if lang == "zh":
        return (f"{cohort} 名已计分对象中至多 {_fmt(q.max_share * 100)}% 可评为"
                f"{_name(grade.label, grade.label_en, grade.id, lang)}：{q.rounding}("
                f"{_fmt(q.max_share)} x {cohort}) = {places} 个名额")
    return (f"at most {_fmt(q.max_share * 100)}% of the {cohort} scored subjects may be "
            f"{_both(grade.label, grade.label_en, grade.id)}: {q.rounding}("
            f"{_fmt(q.max_share)} x {cohort}) = {places} place(s)")


def quota_choice(scheme: AppraisalScheme, cohort: int, places: int, candidates: int,
                 lang: str = "en") -> Choose:
    """The QUOTA_KEPT (``$quota`` 0) and QUOTA_DEMOTED (1) sentences of a cohort, each
    quoting the subject's ``$rank``."""
    q = scheme.quota
    assert q is not None
    grades = scheme.grades
    lower = grades[[g.id for g in grades].index(q.grade) + 1]
    if lang == "zh":
        head = (f"名额限制：{quota_rule(scheme, cohort, places, lang)}；"
                f"按{scheme._order_text(lang)}排序，第 ")
        of = f" 名（共 {candidates} 名），因此"
        return Choose("$quota", (
            Words.of(head, Slot("$rank", "int"), of, "保留等次"),
            Words.of(head, Slot("$rank", "int"), of,
                     f"调整为{_name(lower.label, lower.label_en, lower.id, lang)}；"
                     f"在人工确认之前这只是建议")))
    head = f"quota: {quota_rule(scheme, cohort, places)}; ranked "
    of = f" of {candidates} by {scheme._order_text()}, so "
    return Choose("$quota", (
        Words.of(head, Slot("$rank", "int"), of, "the grade is kept"),
        Words.of(head, Slot("$rank", "int"), of,
                 f"moved to {_both(lower.label, lower.label_en, lower.id)}; this is a "
                 f"recommendation until a human confirms it")))
