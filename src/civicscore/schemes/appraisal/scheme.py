"""Appraisal: weighted indicator scorecards -> grades, with vetoes and a quota.

Performance appraisals of community workers and of communities. Every
subject's decision keeps the whole trace, in this order, so that an officer
can check it on paper and a subject can see why:

1. **Record.** One record per subject: ``subject_id`` plus the facts declared
   under ``[facts.<entity>]``, each coerced by its declaration; a care-need fact
   is never read (no rule here may read one, so its column is not checked,
   kept or logged). A record with
   any problem (missing or malformed field, duplicate id, an expression that
   cannot be computed) is *rejected* with every reason found; it is never
   dropped and never given a grade.
2. **Raw value** of each indicator: its ``value`` expression, or the
   rater-weighted mean ``sum(w_i * x_i) / sum(w_i)`` of its ``raters`` (e.g.
   staff 3 : users 6 : departments 3 : leaders 3), rounded half-up to 6
   decimals.
3. **Normalised score** (0-100): ``linear`` maps ``floor`` to 0 and ``target``
   to 100, ``(raw - floor) x 100 / (target - floor)`` rounded half-up to 6
   decimals, and clamps: a raw value worse than the floor scores 0, one better
   than the target 100 (with ``higher_is_better = false`` the floor is the
   worst value and the target the best, so the same formula runs downhill);
   ``thresholds`` gives the score of the highest step reached (lower is
   better: the lowest step not exceeded), 0 if none; ``bands`` gives the score
   of the band ``from <= raw < to`` (the last band includes its ``to``), 0
   outside every band; ``none`` takes the raw value as the score and rejects a
   value outside 0-100 rather than guess. A policy may not say "higher is
   better" and then score a better value lower: the loader refuses steps and
   bands that contradict ``higher_is_better``, so the total can only rise when
   a subject does better.
4. **Weighted** = normalised x indicator weight x group weight, exactly; the
   **total** is their exact sum rounded half-up to 2 decimals (as on paper,
   not as binary floating point rounds). Weights are checked at load time to sum to 1 within
   each group and across groups, so totals are on the same 0-100 scale as the
   scores.
5. **Band:** the first grade, in the order written, whose ``min_score`` the
   total reaches. Grades must be written best first with strictly decreasing
   ``min_score`` and the last at 0, so every total has exactly one grade.
6. **Quota** (only over a cohort, ``decide_many``): of the *n* subjects
   scored in the run, at most ``k = rounding(max_share x n)`` may keep the
   quota grade. Candidates are ranked by ``tie_break`` (total: higher first;
   ``indicator:<id>``: higher normalised score first; subject_id: ascending),
   and anything still tied by subject_id, so the order is total and the result
   never depends on input order. The first *k* keep the grade; the rest move to
   the next grade down. *n* counts every scored subject, vetoed ones included
   (they were appraised), but not rejected records (they were not).
7. **Veto:** a critical item (e.g. a major safety incident) that holds sends
   the subject to the lowest grade, whatever the total. Vetoed subjects do not
   take a quota place.

A veto or a quota demotion is a recommendation: the decision says
``needs_confirmation = True`` and ``grade_status = "proposed"`` and keeps the
grade the bands gave (``computed_grade``) beside the recommended ``grade``,
because a person must confirm it before it takes effect (``civicscore review``
records that); every other scored grade is ``"final"``.

**Numbers.** The arithmetic of steps 2-5 is exact decimal arithmetic, the same
as Python's :mod:`decimal` with unlimited precision would do on paper:

* every number is taken at the decimal it was written as: an ``int`` as is, a
  float (a fact read from a record, a constant of the policy, the result of a
  ``value`` expression) at its shortest spelling, ``Decimal(repr(x))``, so
  92.82 is 92.82 and not the binary double nearest to it;
* sums, differences and products are exact (never rounded);
* there are exactly three roundings, all ROUND_HALF_UP (halves away from
  zero): the rater-weighted mean and the ``linear`` division are rounded to
  ``DIV_PLACES`` = 6 decimals, each as one exact quotient (the numerator and
  the divisor exact, the quotient rounded once), and the total is rounded to
  ``TOTAL_PLACES`` = 2 decimals before its grade is chosen;
* comparisons (steps, bands, clamping, grades, the quota's ranking) are exact.

So 92.82 / 96 / 94.35 on the baseline is 32.82 + 40 + 17.175 = 89.995 -> 90
(优秀). The value expressions themselves stay IEEE doubles (their semantics
are ``expr``'s); only the scorecard arithmetic on top of them is decimal. The
public fields (``total``, ``raw``, ``normalised``, ``weighted``) are the
``float`` of the exact decimal (the total, at 2 decimals, is exact as a float),
and reasons show the exact values, at most 4 decimals (``_fmt``): a total of
90.00 is worded ``= 90``.

**One plan, two engines.** Steps 2-5 and 7 are written once, as a plan
(:func:`appraisal_plan`) over the exact-decimal ops of ``plan.ops``
(``Exact``, ``ExactSum``, ``DivHalfUp``, ``Interval``, ``ExactPick``): this
module runs it as generated Python on ``decimal`` (the polars backend of the
plan runs it on Int128 fixed point, a row it cannot hold so marked unfit, for
``schemes/appraisal/batch.py``). The quota is ``quota_op``, a frame op of ``plan.rank``
over Python rows or a frame. The reasons' words are templates
(``words``, ``AppraisalScheme.words``) that this module renders over
one subject's trace and batch over a slice of its frame.
A plan that fails for a record is explained by the step-by-step code below
(``_indicator``), in the per-record order.
"""

from __future__ import annotations

import datetime as dt
import functools
import itertools
import math
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from decimal import ROUND_HALF_UP, Decimal
from typing import TYPE_CHECKING, Any, NamedTuple

from ... import record_words as rw
from ..._suggest import did_you_mean_both, one_of
from ...errors import RecordError
from ...expr import Expression, FunctionTable, Type
from ...expr.ir import Name, walk
from ...messages import reasons_language, say
from ...plan.ops import EXACT as EXACT_TYPE
from ...plan.ops import (
    EXACT_CONTEXT,
    AnyOf,
    Compare,
    DivHalfUp,
    Exact,
    ExactFloat,
    ExactPick,
    ExactSum,
    ExactText,
    Failed,
    Input,
    Interval,
    IsNull,
    Let,
    Lit,
    Operand,
    Plan,
    Ref,
    Span,
)
from ...plan.ops import Expr as PlanExpr
from ...plan.ops import div_half_up as plan_div_half_up
from ...plan.python import PlanFunction, compile_plan
from ...plan.rank import Quota, Rank, SortKey, places, quota_rows
from ...plan.words import Choose, Words
from ...policy import care
from ...policy.compile import CompileContext, ensure_in_effect
from ...policy.model import Appraisal, FactSpec, Normalise, PolicyModel, Scorecard
from ...records import coerce_facts, is_missing, to_id, unreadable_reason
from ...results import INTERNAL, PolicyRef, Reason, to_jsonable
from ..base import (
    BatchEngine,
    Column,
    Presenter,
    Table,
    policy_columns,
    reject_row,
    run_summary,
    run_table,
)
from .words import (
    CONFIRM,  # noqa: F401  (re-exported: batch and plugins import it from here)
    _both,
    _fmt,
    dec,
    flag_words,
    grade_choice,
    indicator_words,
    quota_choice,
    total_words,
    veto_choice,
    veto_reads,
)

if TYPE_CHECKING:
    from .cards import Scorecards

SCORED = "scored"
REJECTED = "rejected"
TOLERANCE = 1e-9
RESERVED = ("subject_id",)
#: Decimals of the two divisions (rater-weighted mean, linear normalisation).
DIV_PLACES = 6
#: Decimals of the total.
TOTAL_PLACES = 2
#: Exact arithmetic: + - x never round under this context (nothing here divides in it).
EXACT = EXACT_CONTEXT  # the unrounded context of the plan's exact ops: one definition


# --- results ------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class RaterValue:
    """One rater's score and weight in a rater-weighted indicator."""

    fact: str
    label: str
    value: float
    weight: float


@dataclass(frozen=True, slots=True)
class IndicatorTrace:
    """How one indicator contributed to a subject's total: raw -> normalised -> weighted."""

    id: str
    label: str
    label_en: str
    group: str | None
    method: str
    raw: float
    normalised: float
    weight: float
    group_weight: float
    weighted: float
    raters: tuple[RaterValue, ...] = ()
    facts: Mapping[str, Any] | None = None
    how: str = ""
    flag: str = ""


#: ``grade_status`` of a scored decision: the grade stands, or it waits for a person.
GRADE_FINAL = "final"
GRADE_PROPOSED = "proposed"


@dataclass(frozen=True, slots=True)
class AppraisalDecision:
    """The grade one subject gets (or why the record was rejected), with the whole trace."""

    subject_id: str
    status: str
    total: float | None
    computed_grade: str
    grade: str
    grade_label: str
    grade_label_en: str
    vetoed: tuple[str, ...]
    needs_confirmation: bool
    indicators: tuple[IndicatorTrace, ...]
    reasons: tuple[Reason, ...]
    policy: PolicyRef
    as_of: dt.date
    row: int
    rank: int | None = None
    quota_applied: bool = False
    quota_note: str = ""
    computed_grade_label: str = ""
    computed_grade_label_en: str = ""
    #: the scorecard that appraised it (``[[appraisal.scorecard]]``): its id and labels;
    #: None for a policy of one scorecard written in ``[appraisal]`` itself, "" for a
    #: subject no scorecard (or two) applied to
    scorecard: str | None = None
    scorecard_label: str = ""
    scorecard_label_en: str = ""
    #: where its scorecard's rules are: ``appraisal``, or ``appraisal.scorecard.<id>``
    rule_root: str = field(default="appraisal", compare=False, repr=False)
    #: the language its reasons are worded in (``en`` or ``zh``), and ``explain``'s
    lang: str = field(default="en", compare=False, repr=False)

    @property
    def rejected(self) -> bool:
        return self.status == REJECTED

    @property
    def reason_codes(self) -> tuple[str, ...]:
        return tuple(r.code for r in self.reasons)

    @property
    def grade_status(self) -> str:
        """``"proposed"`` while a veto or quota demotion waits for a person to confirm it,
        ``"final"`` for a grade the bands alone gave, ``""`` for a rejected record: an
        output file read on its own never shows a demotion as if it were final."""
        if self.rejected:
            return ""
        return GRADE_PROPOSED if self.needs_confirmation else GRADE_FINAL

    def indicator(self, indicator_id: str) -> IndicatorTrace:
        for t in self.indicators:
            if t.id == indicator_id:
                return t
        raise KeyError(indicator_id)

    def explain(self, lang: str | None = None) -> str:
        """Plain-language account of the decision, for an officer or the subject, in
        ``lang`` (``zh`` or ``en``; by default the language its reasons are worded in)."""
        if (lang or self.lang) == "zh":
            return self._explain_zh()
        head = f"Subject {self.subject_id} (row {self.row})"
        if self.rejected:
            lines = [f"{head} was rejected and has no grade:"]
        else:
            grade = _both(self.grade_label, self.grade_label_en, self.grade)
            lines = [f"{head}: total {self.total:g}, "
                     + (f"recommended grade {grade}, to be confirmed by a person."
                        if self.needs_confirmation else f"grade {grade}.")]
            lines.append("  How the total was reached (raw -> normalised 0-100 x weight x "
                         "group weight = weighted):")
        if self.scorecard:
            lines.insert(1, "  Scorecard: " + _both(self.scorecard_label,
                                                     self.scorecard_label_en,
                                                     self.scorecard) + ".")
        lines += [f"  - {r.message}" for r in self.reasons]
        if self.needs_confirmation:
            band = _both(self.computed_grade_label, self.computed_grade_label_en,
                         self.computed_grade)
            grade = _both(self.grade_label, self.grade_label_en, self.grade)
            lines.append(f"  Needs confirmation: the total alone gives {band}; {grade} is a "
                         f"recommendation until a person confirms it.")
        if self.quota_note:
            lines.append(f"  {self.quota_note}")
        lines.append(f"  Policy {self.policy}, as of {self.as_of}.")
        return "\n".join(lines)

    def _explain_zh(self) -> str:
        """:meth:`explain` in Chinese (the reasons as they are worded)."""
        head = f"考核对象 {self.subject_id}（第 {self.row} 行）"
        if self.rejected:
            lines = [f"{head}未通过校验，没有等次："]
        else:
            grade = self.grade_label or self.grade_label_en or self.grade
            lines = [f"{head}：总分 {self.total:g}，"
                     + (f"建议等次{grade}，须经人工确认。" if self.needs_confirmation
                        else f"等次{grade}。")]
            lines.append("  总分的计算（原始值 -> 换算为 0-100 分 x 权重 x 分组权重 = 加权得分）：")
        if self.scorecard:
            card = self.scorecard_label or self.scorecard_label_en or self.scorecard
            lines.insert(1, f"  考核表：{card}（{self.scorecard}）。")
        lines += [f"  - {r.message}" for r in self.reasons]
        if self.needs_confirmation:
            band = (self.computed_grade_label or self.computed_grade_label_en
                    or self.computed_grade)
            grade = self.grade_label or self.grade_label_en or self.grade
            lines.append(f"  须经确认：按总分应为{band}；{grade}在人工确认之前只是建议。")
        if self.quota_note:
            lines.append(f"  {self.quota_note}")
        lines.append(f"  政策 {self.policy}，计算日期 {self.as_of}。")
        return "\n".join(lines)

    def to_row(self) -> dict[str, Any]:
        return {
            "row": self.row, "subject_id": self.subject_id, "status": self.status,
            "total": self.total, "computed_grade": self.computed_grade, "grade": self.grade,
            "grade_label": self.grade_label, "grade_status": self.grade_status,
            "rank": self.rank, "vetoed": list(self.vetoed),
            "needs_confirmation": self.needs_confirmation,
            "reason_codes": list(self.reason_codes),
            "reasons": [r.message for r in self.reasons],
            **policy_columns(self.policy), "as_of": self.as_of,
            **({} if self.scorecard is None else {"scorecard": self.scorecard}),
        }


@dataclass(frozen=True, slots=True)
class QuotaOutcome:
    """What the quota did to one cohort."""

    grade: str
    max_share: float
    rounding: str
    cohort: int
    places: int
    candidates: int
    kept: tuple[str, ...]
    demoted: tuple[str, ...]
    #: the scorecard (None: the one of ``[appraisal]``) and the cohort's values of
    #: ``cohort_by`` (empty: the whole run is one cohort)
    scorecard: str | None = None
    cohort_key: tuple[Any, ...] = ()


@dataclass(frozen=True)
class AppraisalResult:
    """Everything one run produced: every input record is in ``decisions``, in input order."""

    as_of: dt.date
    policy: PolicyRef
    decisions: tuple[AppraisalDecision, ...]
    quota: QuotaOutcome | None
    scheme: AppraisalScheme | Scorecards = field(repr=False, compare=False,
                                                 metadata=INTERNAL)
    #: every cohort's quota (one per scorecard and value of ``cohort_by``), in order
    quotas: tuple[QuotaOutcome, ...] = ()

    def fired_rules(self) -> set[str]:
        """Indicators scored, vetoes that held and grades given (for test coverage)."""
        fired = {f"{d.rule_root}.grades.{d.grade}" for d in self.scored}
        fired |= {r.rule for d in self.scored for r in d.reasons
                  if r.code in ("INDICATOR", "VETO")}
        return fired

    @property
    def scored(self) -> tuple[AppraisalDecision, ...]:
        return tuple(d for d in self.decisions if not d.rejected)

    @property
    def rejected(self) -> tuple[AppraisalDecision, ...]:
        return tuple(d for d in self.decisions if d.rejected)

    def by_subject(self) -> dict[str, AppraisalDecision]:
        """Scored decisions by subject id (rejected rows may lack a usable id)."""
        return {d.subject_id: d for d in self.scored}

    def to_jsonable(self) -> Any:
        return to_jsonable(self)

    # -- the SchemeRun protocol (used by the CLI) -------------------------------------
    def output_rows(self) -> Iterator[dict[str, Any]]:
        return (d.to_row() for d in self.decisions)

    def detail_rows(self) -> Iterator[dict[str, Any]]:
        for d in self.decisions:
            for t in d.indicators:
                yield {
                    "row": d.row, "subject_id": d.subject_id, "indicator": t.id,
                    "label": t.label, "group": t.group or "", "method": t.method,
                    "raw": t.raw,
                    "raters": [f"{r.fact}={_fmt(r.value)} x{_fmt(r.weight)}" for r in t.raters],
                    "normalised": t.normalised, "weight": t.weight,
                    "group_weight": t.group_weight, "weighted": t.weighted,
                    "how": t.how, "total": d.total, "grade": d.grade,
                    **policy_columns(d.policy), "as_of": d.as_of,
                }

    def rejected_rows(self) -> list[dict[str, Any]]:
        return [reject_row("subjects", d.row, d.subject_id, d.reason_codes,
                           [r.message for r in d.reasons]) for d in self.rejected]

    def summary(self) -> str:
        return run_summary(AppraisalPresenter(self.scheme), self, rows_in=len(self.decisions),
                           policy=self.policy, as_of=self.as_of)

    def table(self) -> Table:
        return run_table(AppraisalPresenter(self.scheme), self, policy=self.policy,
                         as_of=self.as_of)


class AppraisalPresenter(Presenter):
    """An appraisal run on a terminal: a subject per row with its notes (veto, quota, to
    confirm); the summary counts vetoes, what the quota did and what needs a person.
    Read off the output rows, so both engines show the same."""

    noun = "subjects"
    input_kind = "subjects"
    title = "Appraisal"
    columns = ("subject", "total", "grade", "notes")

    def cells(self, row: Mapping[str, Any]) -> list[str]:
        codes = row["reason_codes"]
        if row["status"] != SCORED:
            return [row["subject_id"], "-", "-", "rejected: " + ", ".join(codes)]
        notes = []
        if row["vetoed"]:
            notes.append("veto: " + ", ".join(row["vetoed"])
                         + f" (bands gave {row['computed_grade']})")
        if "QUOTA_DEMOTED" in codes:
            notes.append(f"quota: moved down from {row['computed_grade']} (rank {row['rank']})")
        elif "QUOTA_KEPT" in codes:
            notes.append(f"quota: kept (rank {row['rank']})")
        if row["needs_confirmation"]:
            notes.append("to confirm")
        grade = f"{row['grade_label']} ({row['grade']})" if row["grade_label"] else row["grade"]
        return [row["subject_id"], f"{row['total']:g}", grade, "; ".join(notes)]

    def notes(self, output: Column, details: Column) -> list[str]:
        notes = []
        vetoed = sum(bool(v) for v in output("vetoed"))
        if vetoed:
            notes.append(say("note_vetoed", n=vetoed))
        q = self.scheme.quota
        cards = getattr(self.scheme, "cards", None)  # several scorecards, or cohort_by
        if cards is not None:
            codes, statuses = output("reason_codes"), output("status")
            names = output("scorecard") if self.scheme.several else [None] * len(codes)
            for c in cards:
                mine = [cs for cs, n, st in zip(codes, names, statuses, strict=True)
                        if st == SCORED and n == (c.card_id if self.scheme.several else None)]
                if c.quota is None or not mine:
                    continue
                by = ", ".join(c.quota.cohort_by)
                notes.append(say(
                    "note_card_quota_by" if by else "note_card_quota", grade=c.quota.grade,
                    card=c.card_id, by=by, kept=sum("QUOTA_KEPT" in x for x in mine),
                    demoted=sum("QUOTA_DEMOTED" in x for x in mine)))
        elif q is not None:
            cohort = sum(s == SCORED for s in output("status"))
            codes = output("reason_codes")
            kept = sum("QUOTA_KEPT" in c for c in codes)
            demoted = sum("QUOTA_DEMOTED" in c for c in codes)
            notes.append(say("note_quota", grade=q.grade, cohort=cohort, kept=kept,
                             places=_places(q.max_share, cohort, q.rounding),
                             demoted=demoted))
        confirm = sum(bool(c) for c in output("needs_confirmation"))
        if confirm:
            notes.append(say("note_confirm", n=confirm))
        return notes


# --- compiled rules ------------------------------------------------------------------


@dataclass(frozen=True)
class _Indicator:
    id: str
    label: str
    label_en: str
    group: str | None
    group_label: str
    weight: float
    group_weight: float
    value: Expression | None
    raters: tuple[tuple[str, float], ...]
    norm: Normalise
    steps: tuple[tuple[float, float], ...]  # (at, score), by at ascending
    bands: tuple[tuple[float, float, float], ...]  # (from, to, score), by from ascending

    @functools.cached_property
    def wg(self) -> Decimal:
        """weight x group weight, exactly (the product is associative: the same as
        multiplying the score by each in turn)."""
        return EXACT.multiply(dec(self.weight), dec(self.group_weight))

    @functools.cached_property
    def d_floor(self) -> Decimal:
        return dec(self.norm.floor or 0)

    @functools.cached_property
    def d_target(self) -> Decimal:
        return dec(self.norm.target or 0)

    @functools.cached_property
    def d_steps(self) -> tuple[tuple[Decimal, Decimal], ...]:
        """``steps`` as written, in the same order."""
        return tuple((dec(a), dec(sc)) for a, sc in self.steps)

    @functools.cached_property
    def d_bands(self) -> tuple[tuple[Decimal, Decimal, Decimal], ...]:
        """``bands`` as written, in the same order."""
        return tuple((dec(lo), dec(hi), dec(sc)) for lo, hi, sc in self.bands)


@dataclass(frozen=True)
class _Veto:
    id: str
    label: str
    label_en: str
    when: Expression


@dataclass(frozen=True)
class _Grade:
    id: str
    label: str
    label_en: str
    min_score: float

    @functools.cached_property
    def d_min(self) -> Decimal:
        return dec(self.min_score)


class _Words(NamedTuple):
    """A policy's reason templates, by reason (see ``words``), in one language."""

    indicators: tuple[Words, ...]
    flags: tuple[Words | None, ...]
    total: Words
    grade: Choose
    vetoes: tuple[Choose, ...]
    veto_reads: tuple[tuple[str, ...], ...]
    lang: str = "en"


class _Rejected(Exception):
    """An indicator or veto could not be evaluated for this subject."""

    def __init__(self, reason: Reason) -> None:
        super().__init__(reason.message)
        self.reason = reason


def div_half_up(n: Decimal, d: Decimal, places: int = DIV_PLACES) -> Decimal:
    """``n / d`` rounded half-up (halves away from zero) to ``places`` decimals, as one
    exact quotient: the plan's :class:`DivHalfUp` on one value."""
    q = plan_div_half_up(n, d, places)
    assert q is not None
    return q


def total_of(weighted: Iterable[Decimal]) -> Decimal:
    """The exact sum, rounded half-up to ``TOTAL_PLACES`` decimals."""
    total = Decimal(0)
    for w in weighted:
        total = EXACT.add(total, w)
    return total.quantize(Decimal(1).scaleb(-TOTAL_PLACES), rounding=ROUND_HALF_UP,
                          context=EXACT)


def rater_mean(values: Sequence[tuple[float | int, float]]) -> Decimal:
    """``sum(w_i x x_i) / sum(w_i)`` of (x_i, w_i), exact, rounded half-up to
    ``DIV_PLACES`` decimals."""
    num = Decimal(0)
    den = Decimal(0)
    for x, w in values:
        num = EXACT.add(num, EXACT.multiply(dec(w), dec(x)))
        den = EXACT.add(den, dec(w))
    return div_half_up(num, den)


class _Exact(NamedTuple):
    """The exact values behind one indicator's trace (its public fields are floats)."""

    raw: Decimal
    normalised: Decimal
    weighted: Decimal


def _num(x: float) -> str:
    """A sum for an error message: floating-point noise removed (0.1 + 0.2 -> 0.3)."""
    r = round(x, 9)
    return str(int(r)) if r == int(r) else repr(r)


def _places(share: float, n: int, rounding: str) -> int:
    """k = rounding(share x n), computed on decimals so that 0.7 x 10 is exactly 7."""
    return places(share, n, rounding)


class AppraisalScheme(BatchEngine):
    """The compiled [appraisal] section of one policy."""

    batch_engine = "civicscore.schemes.appraisal.batch:score_appraisal"
    presenter_type = AppraisalPresenter

    extra_inputs: tuple[str, ...] = ()

    def __init__(self, model: PolicyModel, rules: Appraisal | Scorecard, ref: PolicyRef,
                 indicators: Sequence[_Indicator], grades: Sequence[_Grade],
                 vetoes: Sequence[_Veto], facts: Mapping[str, FactSpec],
                 functions: FunctionTable | None = None, *, entity: str | None = None,
                 rule_root: str = "appraisal", card: Scorecard | None = None) -> None:
        self.model = model
        self.rules = rules
        self.entity = entity if entity is not None else (
            rules.entity if isinstance(rules, Appraisal) else "subject")
        #: where its rules are (``appraisal``, or ``appraisal.scorecard.<id>``)
        self.rule_root = rule_root
        #: its ``[[appraisal.scorecard]]`` (None: the scorecard of ``[appraisal]``)
        self.card = card
        #: its id and names, as decisions name it (``[appraisal] id`` for its own)
        named: Appraisal | Scorecard = card if card is not None else rules
        self.card_id: str = named.id
        self.card_label: str = named.label
        self.card_label_en: str = named.label_en
        self.ref = ref
        self.indicators = tuple(indicators)
        self.grades = tuple(grades)
        self.vetoes = tuple(vetoes)
        self.facts = dict(facts)
        self.quota = rules.quota
        self.functions = functions  # the policy's functions, for the batch evaluator

    def rule_ids(self) -> set[str]:
        """Every indicator, veto and grade, for ``civicscore test`` coverage."""
        return ({f"{self.rule_root}.indicators.{i.id}" for i in self.indicators}
                | {f"{self.rule_root}.vetoes.{v.id}" for v in self.vetoes}
                | {f"{self.rule_root}.grades.{g.id}" for g in self.grades})

    # -- public API --------------------------------------------------------------------
    def decide(self, subject: Mapping[str, Any], *, as_of: dt.date) -> AppraisalDecision:
        """One subject on its own: bands and vetoes, but no quota (that needs a cohort)."""
        ensure_in_effect(self.model, self.ref, as_of)
        decision = self._decide(1, subject, as_of, {})
        if self.quota is None or decision.rejected or decision.vetoed:
            return decision
        q = self.quota
        g = self._grade(q.grade)
        note = (f"The quota (at most {_fmt(q.max_share * 100)}% of a cohort may be "
                f"{_both(g.label, g.label_en, g.id)}) was not applied: it is applied only when "
                f"a whole cohort is appraised together (decide_many, or civicscore score)")
        if decision.grade == q.grade:
            note += ", so this grade may still be moved down."
        else:
            note += "."
        return replace(decision, quota_note=note)

    def decide_many(self, subjects: Iterable[Any], *, as_of: dt.date) -> AppraisalResult:
        """Score a cohort: every subject, then the quota over all scored subjects."""
        ensure_in_effect(self.model, self.ref, as_of)
        seen: dict[str, int] = {}
        decisions = [self._decide(row, record, as_of, seen)
                     for row, record in enumerate(subjects, start=1)]
        outcome = None
        if self.quota is not None:
            decisions, outcome = self._apply_quota(decisions)
        return AppraisalResult(as_of, self.ref, tuple(decisions), outcome, self,
                               (outcome,) if outcome is not None else ())

    #: The names of the first API (README, tests and plugins use them): the same methods.
    evaluate = decide
    evaluate_many = decide_many

    def decide_one(self, row: int, record: Any, as_of: dt.date,
                   seen: dict[str, int]) -> AppraisalDecision:
        """One record's decision before the quota, exactly as ``evaluate_many`` makes it
        (``seen``: subject ids already read, with their rows); the batch evaluator uses
        it for the exact reasons of the rows it rejects."""
        return self._decide(row, record, as_of, seen)

    # -- the Scheme protocol (used by the CLI) ----------------------------------------
    def run(self, records: Iterable[Any], *, as_of: dt.date,
            **extra: Iterable[Any]) -> AppraisalResult:
        return self.decide_many(records, as_of=as_of)

    def explain_record(self, record: Mapping[str, Any], *, as_of: dt.date) -> str:
        return self.decide(record, as_of=as_of).explain()

    # -- one subject ----------------------------------------------------------------------
    def _grade(self, grade_id: str) -> _Grade:
        return next(g for g in self.grades if g.id == grade_id)

    def _reject(self, row: int, sid: str, reasons: Sequence[Reason],
                as_of: dt.date) -> AppraisalDecision:
        return AppraisalDecision(sid, REJECTED, None, "", "", "", "", (), False, (),
                                 tuple(reasons), self.ref, as_of, row,
                                 lang=reasons_language(self.model.policy.locale))

    def _decide(self, row: int, record: Any, as_of: dt.date,
                seen: dict[str, int]) -> AppraisalDecision:
        if (unreadable := unreadable_reason(row, record, self.model.policy.locale)) is not None:
            return self._reject(row, f"row {row}", [unreadable], as_of)
        reasons: list[Reason] = []
        sid = ""
        lang = reasons_language(self.model.policy.locale)
        raw_id = record.get("subject_id")
        if is_missing(raw_id):
            reasons.append(Reason("MISSING_FIELD", "record.subject_id", rw.say(
                "missing", lang, who=rw.who(f"row {row}", lang), field="subject_id")))
        else:
            try:
                sid = to_id(raw_id, f"row {row}", "subject_id")
            except RecordError as e:
                reasons.append(Reason(e.code, "record.subject_id", e.text(lang),
                                      {"subject_id": raw_id}))
        label = sid or f"row {row}"
        if sid:
            if sid in seen:
                reasons.append(Reason("DUPLICATE_RECORD", "record.subject_id", rw.say(
                    "duplicate", lang, thing="subject", thing_zh=rw.THINGS_ZH["subject"],
                    id=sid, first=seen[sid]), {"subject_id": sid}))
            else:
                seen[sid] = row
        facts, fact_reasons = coerce_facts(record, self.facts, label, self.entity,
                                           self.model.policy.locale)
        reasons += fact_reasons
        sid = sid or f"row {row}"
        if reasons:
            return self._reject(row, sid, reasons, as_of)
        env = dict(facts)
        env["as_of"] = as_of
        values = self.plan_function(env)
        if not values[self._failed_at]:
            return self._from_plan(row, sid, env, values, as_of)
        # the plan failed: why, in the per-record order (each indicator, then each veto)
        traces: list[IndicatorTrace] = []
        exact: list[_Exact] = []
        for ind in self.indicators:
            try:
                trace, found = self._indicator(ind, env, label)
            except _Rejected as e:
                reasons.append(e.reason)
            else:
                traces.append(trace)
                exact.append(found)
        held: list[tuple[_Veto, dict[str, Any]]] = []
        for v in self.vetoes:
            try:
                if v.when(env):
                    held.append((v, v.when.values_read(env)))
            except (ArithmeticError, ValueError) as e:
                reasons.append(Reason("EXPR_ERROR", f"{self.rule_root}.vetoes.{v.id}", rw.say(
                    "veto_error", lang, id=label, rule=v.id, text=v.when.text,
                    error=rw.evaluation_error(e, lang)), v.when.values_read(env)))
        if reasons:
            return self._reject(row, sid, reasons, as_of)
        return self._grade_subject(row, sid, traces, exact, held, as_of)

    @functools.cached_property
    def plan(self) -> Plan:
        """Steps 2-5 and 7 as one plan (see :func:`appraisal_plan`); both engines run it."""
        return appraisal_plan(self)

    @functools.cached_property
    def plan_function(self) -> PlanFunction:
        """The plan without its words, as generated Python, compiled once per policy."""
        plan = appraisal_plan(self, words=False)
        self._at = {name: i for i, name in enumerate(plan.outputs)}
        self._failed_at = self._at[f"{STEP}failed"]
        return compile_plan(plan, self.functions or FunctionTable())

    def _from_plan(self, row: int, sid: str, env: Mapping[str, Any], values: tuple[Any, ...],
                   as_of: dt.date) -> AppraisalDecision:
        """A scored subject's decision from the plan's values (its trace)."""
        at = self._at
        traces: list[IndicatorTrace] = []
        exact: list[_Exact] = []
        for i, ind in enumerate(self.indicators):
            raw = values[at[f"{STEP}raw{i}"]]
            score = values[at[f"{STEP}score{i}"]]
            weighted = values[at[f"{STEP}w{i}"]]
            how, flag = how_text(ind, values[at[f"{STEP}pick{i}"]], raw)
            raters = tuple(RaterValue(f, self.facts[f].label or f, float(env[f]), w)
                           for f, w in ind.raters)
            read = ind.value.values_read(env) if ind.value is not None else None
            traces.append(IndicatorTrace(
                ind.id, ind.label, ind.label_en, ind.group, ind.norm.method, float(raw),
                float(score), ind.weight, ind.group_weight, float(weighted), raters, read,
                how, flag))
            exact.append(_Exact(raw, score, weighted))
        held = [(v, v.when.values_read(env)) for j, v in enumerate(self.vetoes)
                if values[at[f"{STEP}veto{j}"]]]
        return self._grade_subject(row, sid, traces, exact, held, as_of)

    def _indicator(self, ind: _Indicator, env: Mapping[str, Any], label: str
                   ) -> tuple[IndicatorTrace, _Exact]:
        rule = f"{self.rule_root}.indicators.{ind.id}"
        raters: tuple[RaterValue, ...] = ()
        read: dict[str, Any] | None = None
        try:
            if ind.value is not None:
                read = ind.value.values_read(env)
                value = float(ind.value(env))
                if not math.isfinite(value):
                    raise ArithmeticError(f"the value is not a finite number ({value})")
                raw = dec(value)
            else:
                raters = tuple(RaterValue(f, self.facts[f].label or f, float(env[f]), w)
                               for f, w in ind.raters)
                raw = rater_mean([(env[f], w) for f, w in ind.raters])
        except (ArithmeticError, ValueError) as e:
            lang = reasons_language(self.model.policy.locale)
            text = ind.value.text if ind.value is not None else (
                "rater-weighted mean" if lang == "en" else "评价人加权平均")
            raise _Rejected(Reason("EXPR_ERROR", f"{rule}.value", rw.say(
                "indicator_error", lang, id=label, rule=ind.id, text=text,
                error=rw.evaluation_error(e, lang)), read or {})) from None
        score, how, flag = self._normalise(ind, raw, label)
        weighted = EXACT.multiply(score, ind.wg)
        trace = IndicatorTrace(ind.id, ind.label, ind.label_en, ind.group, ind.norm.method,
                               float(raw), float(score), ind.weight, ind.group_weight,
                               float(weighted), raters, read, how, flag)
        return trace, _Exact(raw, score, weighted)

    def _normalise(self, ind: _Indicator, raw: Decimal, label: str
                   ) -> tuple[Decimal, str, str]:
        """The 0-100 score, how it was found, and a flag (OUT_OF_BANDS, NO_STEP_REACHED)."""
        n = ind.norm
        if n.method == "linear":
            floor, target = ind.d_floor, ind.d_target
            how = f"linear: {_fmt(floor)} scores 0, {_fmt(target)} scores 100"
            up = target > floor
            if raw < floor if up else raw > floor:
                return Decimal(0), f"{how}, clamped to {_fmt(0)}", ""
            if raw > target if up else raw < target:
                return Decimal(100), f"{how}, clamped to {_fmt(100)}", ""
            score = div_half_up(EXACT.multiply(EXACT.subtract(raw, floor), Decimal(100)),
                                EXACT.subtract(target, floor))
            return score, how, ""
        if n.method == "thresholds":
            steps = ind.d_steps
            if n.higher_is_better:
                hit = [k for k, s in enumerate(steps) if s[0] <= raw]
                k = hit[-1] if hit else None
                word = "at least"
            else:
                hit = [k for k, s in enumerate(steps) if s[0] >= raw]
                k = hit[0] if hit else None
                word = "at most"
            if k is None:
                edge = ind.steps[0 if n.higher_is_better else -1][0]
                return Decimal(0), (f"thresholds: no step reached (the step nearest is {word} "
                                    f"{_fmt(edge)}), scores 0"), "NO_STEP_REACHED"
            at, written = ind.steps[k]
            return steps[k][1], f"thresholds: {word} {_fmt(at)} scores {_fmt(written)}", ""
        if n.method == "bands":
            last = len(ind.bands) - 1
            for i, ((lo, hi, written), (d_lo, d_hi, d_score)) in enumerate(
                    zip(ind.bands, ind.d_bands, strict=True)):
                if d_lo <= raw < d_hi or (i == last and raw == d_hi):
                    close = "]" if i == last else ")"
                    return (d_score, f"bands: [{_fmt(lo)}, {_fmt(hi)}{close} scores "
                                     f"{_fmt(written)}", "")
            return Decimal(0), f"bands: {_fmt(raw)} is in no band, scores 0", "OUT_OF_BANDS"
        # method = "none": the raw value is the score
        if not 0 <= raw <= 100:
            raise _Rejected(Reason(
                "SCORE_OUT_OF_RANGE", f"{self.rule_root}.indicators.{ind.id}.normalise",
                f"subject {label}: indicator {ind.id!r} gives {_fmt(raw)}, but with method = "
                f"'none' the value is the score and must be between 0 and 100",
                {"raw": float(raw)}, (0, 100)))
        return raw, "none: the value is the score", ""

    @property
    def words(self) -> _Words:
        """The reasons' templates (``words``) in the language reasons are worded in now
        (:func:`~civicscore.messages.reasons_language`: ``--lang``, else
        ``CIVICSCORE_LANG``, else the policy's locale); batch renders the same ones
        over its frames."""
        return self.words_in(reasons_language(self.model.policy.locale))

    def words_in(self, lang: str) -> _Words:
        """The reasons' templates in ``lang`` (``en`` or ``zh``), built once per language."""
        cache = self.__dict__.setdefault("_words_by_lang", {})
        if lang not in cache:
            k, m = len(self.indicators), len(self.vetoes)
            cache[lang] = _Words(
                tuple(indicator_words(self, i, lang) for i in range(k)),
                tuple(flag_words(self, i, lang) for i in range(k)), total_words(self, lang),
                grade_choice(self, lang), tuple(veto_choice(self, j, lang) for j in range(m)),
                tuple(veto_reads(self, j) for j in range(m)), lang)
        words: _Words = cache[lang]
        return words

    def _grade_subject(self, row: int, sid: str, traces: list[IndicatorTrace],
                       exact: list[_Exact], held: list[tuple[_Veto, dict[str, Any]]],
                       as_of: dt.date) -> AppraisalDecision:
        words = self.words
        exact_total = total_of(x.weighted for x in exact)
        total = float(exact_total)
        band = next((g for g in self.grades if g.d_min <= exact_total), self.grades[-1])
        bix = self.grades.index(band)
        said: dict[str, Any] = {"$tT": _fmt(exact_total), "$band": bix}
        if bix:
            said["$tShort"] = _fmt(EXACT.subtract(self.grades[bix - 1].d_min, exact_total))
        for i, (t, x) in enumerate(zip(traces, exact, strict=True)):
            said.update({f"$tR{i}": _fmt(x.raw), f"$tN{i}": _fmt(x.normalised),
                         f"$tW{i}": _fmt(x.weighted),
                         f"$how{i}": how_in(self.indicators[i], t.how, x.raw, words.lang)})
            said.update({f"$tX:{r.fact}": _fmt(r.value) for r in t.raters})
        reasons: list[Reason] = []
        for i, t in enumerate(traces):
            facts: dict[str, Any] = dict(t.facts or {})
            facts.update({r.fact: r.value for r in t.raters})
            weighted = said[f"$tW{i}"]
            reasons.append(Reason("INDICATOR", f"{self.rule_root}.indicators.{t.id}",
                                  words.indicators[i].render(said), facts, None,
                                  f"+{weighted}"))
            flag = words.flags[i]
            if t.flag and flag is not None:
                reasons.append(Reason(t.flag, f"{self.rule_root}.indicators.{t.id}.normalise",
                                      flag.render(said), {"raw": t.raw}))
        reasons.append(Reason("TOTAL", f"{self.rule_root}.indicators", words.total.render(said),
                              {t.id: t.weighted for t in traces}))
        reasons.append(Reason("GRADE", f"{self.rule_root}.grades.{band.id}",
                              words.grade.items[bix].render(said),
                              {"total": total}, band.min_score, band.id))
        grade = band
        lowest = self.grades[-1]
        by_id = {v.id: j for j, v in enumerate(self.vetoes)}
        for v, read in held:
            j = by_id[v.id]
            said.update({f"$read:{n}": read.get(n) for n in words.veto_reads[j]})
            reasons.append(Reason("VETO", f"{self.rule_root}.vetoes.{v.id}",
                                  words.vetoes[j].items[bix].render(said),
                                  read, None, f"grade -> {lowest.id}"))
            grade = lowest
        vetoed = tuple(v.id for v, _ in held)
        return AppraisalDecision(sid, SCORED, total, band.id, grade.id, grade.label,
                                 grade.label_en, vetoed, bool(vetoed), tuple(traces),
                                 tuple(reasons), self.ref, as_of, row,
                                 computed_grade_label=band.label,
                                 computed_grade_label_en=band.label_en, lang=words.lang)

    # -- the quota over a cohort -----------------------------------------------------------
    def _order_text(self, lang: str = "en") -> str:
        assert self.quota is not None
        zh = lang == "zh"
        by_id = "对象编号（升序）" if zh else "subject id (ascending)"
        parts = []
        for key in self.quota.tie_break:
            if key == "total":
                parts.append("总分（高者在前）" if zh else "total (higher first)")
            elif key == "subject_id":
                parts.append(by_id)
            else:
                name = key.split(":", 1)[1]
                parts.append(f"{name} 得分（高者在前）" if zh else f"{name} score (higher first)")
        if not self.quota.tie_break or self.quota.tie_break[-1] != "subject_id":
            parts.append(by_id)
        return ("，其次按" if zh else ", then ").join(parts)

    @functools.cached_property
    def quota_op(self) -> Quota:
        """The quota as the frame op both engines run (``plan.rank``): over the cohort of
        scored subjects (column ``scored``), the candidates (``candidate``: scored, not
        vetoed, banded in the quota grade) ranked by ``tie_break`` (``total`` and the
        indicators' scores ``n<i>`` higher first, ``subject_id`` ascending), then by
        subject id, which is unique among scored subjects, so no tie is left."""
        q = self.quota
        assert q is not None
        ids = [ind.id for ind in self.indicators]
        by: list[SortKey] = []
        for item in [*q.tie_break, "subject_id"]:
            if item == "total":
                by.append(SortKey("total", descending=True))
            elif item == "subject_id":
                by.append(SortKey("subject_id"))
            else:
                by.append(SortKey(f"n{ids.index(item.split(':', 1)[1])}", descending=True))
        return Quota(Rank(tuple(by), where="candidate"), q.max_share, q.rounding,
                     cohort="scored")

    def _apply_quota(self, decisions: list[AppraisalDecision]
                     ) -> tuple[list[AppraisalDecision], QuotaOutcome]:
        q = self.quota
        assert q is not None
        qix = [g.id for g in self.grades].index(q.grade)
        lower = self.grades[qix + 1]
        rows = [{"scored": not d.rejected,
                 "candidate": not d.rejected and not d.vetoed and d.grade == q.grade,
                 "total": d.total, "subject_id": d.subject_id,
                 **{f"n{i}": t.normalised for i, t in enumerate(d.indicators)}}
                for d in decisions]
        ranked = quota_rows(self.quota_op, rows)
        cohort, _candidates, k = ranked.groups.get((), (0, 0, _places(q.max_share, 0,
                                                                        q.rounding)))
        by_rank = sorted((r, i) for i, r in enumerate(ranked.rank) if r is not None)
        candidates = [decisions[i] for _, i in by_rank]
        said = quota_choice(self, cohort, k, len(candidates), self.words.lang)
        changed: dict[int, AppraisalDecision] = {}
        kept: list[str] = []
        demoted: list[str] = []
        facts = {"cohort": cohort, "places": k, "candidates": len(candidates)}
        for rank, d in enumerate(candidates, start=1):
            if rank <= k:
                kept.append(d.subject_id)
                reason = Reason("QUOTA_KEPT", f"{self.rule_root}.quota",
                                said.items[0].render({"$rank": rank}),
                                {**facts, "rank": rank, "total": d.total}, k)
                changed[d.row] = replace(d, reasons=d.reasons + (reason,), rank=rank,
                                         quota_applied=True)
            else:
                demoted.append(d.subject_id)
                reason = Reason("QUOTA_DEMOTED", f"{self.rule_root}.quota",
                                said.items[1].render({"$rank": rank}),
                                {**facts, "rank": rank, "total": d.total}, k,
                                f"grade -> {lower.id}")
                changed[d.row] = replace(d, reasons=d.reasons + (reason,), rank=rank,
                                         grade=lower.id, grade_label=lower.label,
                                         grade_label_en=lower.label_en,
                                         needs_confirmation=True, quota_applied=True)
        out = [changed.get(d.row) or (d if d.rejected else replace(d, quota_applied=True))
               for d in decisions]
        outcome = QuotaOutcome(q.grade, q.max_share, q.rounding, cohort, k, len(candidates),
                               tuple(kept), tuple(demoted))
        return out, outcome


# --- compile ---------------------------------------------------------------------------

#: Which normalise keys each method uses (``method`` itself is always used).
_KEY_USE = {
    "floor": ("linear",),
    "target": ("linear",),
    "steps": ("thresholds",),
    "bands": ("bands",),
    "higher_is_better": ("linear", "thresholds", "bands"),
}
NUMERIC = ("int", "decimal")


_NEVER_LESS = ("a better value must never score less; fix the scores, or set "
               "higher_is_better", "更好的值得分不能更少；请修改得分，或设置 higher_is_better")


def _check_normalise(ctx: CompileContext, path: tuple[Any, ...], ind_id: str,
                     n: Normalise) -> bool:
    """Report every problem of one indicator's normalise table; True when it is usable."""
    ok = True
    for key in ("floor", "target", "steps", "bands", "higher_is_better"):
        if key in n.model_fields_set and n.method not in _KEY_USE[key]:
            uses = _KEY_USE[key]
            if len(uses) == 1:
                msg = (f"{key!r} is only used with method = {uses[0]!r}",
                       f"{key!r} 只在 method = {uses[0]!r} 时使用")
            else:
                msg = (f"{key!r} is not used with method = {n.method!r} (the raw value is "
                       f"the score, so higher is always better)",
                       f"method = {n.method!r} 时不用 {key!r}（原始值就是得分，所以总是越高越好）")
            ctx.report(path + (key,), msg, ("remove it, or change the method",
                                            "请删去它，或改用其他 method"), value=False)
            ok = False
    better = "higher" if n.higher_is_better else "lower"
    if n.method == "linear":
        if n.floor is None or n.target is None:
            missing = " and ".join(k for k in ("floor", "target") if getattr(n, k) is None)
            ctx.report(path, (f"method = 'linear' needs {missing} (floor: the value scoring "
                              f"0; target: the value scoring 100)",
                              f"method = 'linear' 需要写 {missing.replace(' and ', ' 和 ')}"
                              f"（floor：得 0 分的值；target：得 100 分的值）"),
                       ("e.g. { method = \"linear\", floor = 60, target = 100 }",
                        "如 { method = \"linear\", floor = 60, target = 100 }"), value=False)
            return False
        if n.floor == n.target:
            ctx.report(path + ("target",), (f"target {n.target:g} equals floor {n.floor:g}; "
                                            f"they must differ",
                                            f"target {n.target:g} 与 floor {n.floor:g} 相等；"
                                            f"两者必须不同"))
            return False
        if n.higher_is_better != (n.target > n.floor):
            ctx.report(path + ("target",),
                       (f"target {n.target:g} is {'below' if n.target < n.floor else 'above'} "
                        f"floor {n.floor:g}, but higher_is_better is "
                        f"{str(n.higher_is_better).lower()}: the floor is the worst value "
                        f"and the target the best",
                        f"target {n.target:g} {'低于' if n.target < n.floor else '高于'} floor "
                        f"{n.floor:g}，但 higher_is_better 为 {str(n.higher_is_better).lower()}："
                        f"floor 是最差的值，target 是最好的值"),
                       ("swap floor and target, or set higher_is_better = "
                        f"{str(not n.higher_is_better).lower()}",
                        "请对调 floor 和 target，或设 higher_is_better = "
                        f"{str(not n.higher_is_better).lower()}"))
            ok = False
    elif n.method == "thresholds":
        if not n.steps:
            ctx.report(path, (f"indicator {ind_id!r}: method = 'thresholds' needs at least one "
                              f"step", f"指标 {ind_id!r}：method = 'thresholds' 至少需要一个台阶"),
                       "steps = [{ at = 90, score = 100 }, { at = 0, score = 60 }]", value=False)
            return False
        seen: dict[float, int] = {}
        for j, s in enumerate(n.steps):
            if s.at in seen:
                ctx.report(path + ("steps", j, "at"), (f"two steps are at {s.at:g} (steps "
                                                       f"{seen[s.at] + 1} and {j + 1})",
                                                       f"有两个台阶都在 {s.at:g}（第 "
                                                       f"{seen[s.at] + 1} 和第 {j + 1} 个）"))
                ok = False
            seen.setdefault(s.at, j)
        order = sorted(range(len(n.steps)), key=lambda j: n.steps[j].at)
        for a, b in itertools.pairwise(order):
            lo, hi = n.steps[a], n.steps[b]
            if lo.at == hi.at:
                continue
            if (hi.score < lo.score) if n.higher_is_better else (hi.score > lo.score):
                worse, other = (b, a) if n.higher_is_better else (a, b)
                ctx.report(path + ("steps", worse, "score"),
                           (f"the step at {n.steps[worse].at:g} scores "
                            f"{n.steps[worse].score:g}, less than the step at "
                            f"{n.steps[other].at:g} ({n.steps[other].score:g}), but "
                            f"{better} values are better (higher_is_better = "
                            f"{str(n.higher_is_better).lower()})",
                            f"{n.steps[worse].at:g} 处的台阶得 {n.steps[worse].score:g} 分，少于 "
                            f"{n.steps[other].at:g} 处的台阶（{n.steps[other].score:g} 分），但值"
                            f"{'越高' if n.higher_is_better else '越低'}越好（higher_is_better = "
                            f"{str(n.higher_is_better).lower()}）"), _NEVER_LESS)
                ok = False
    elif n.method == "bands":
        if not n.bands:
            ctx.report(path, (f"indicator {ind_id!r}: method = 'bands' needs at least one band",
                              f"指标 {ind_id!r}：method = 'bands' 至少需要一个分段"),
                       "bands = [{ from = 0, to = 60, score = 50 }, ...]", value=False)
            return False
        for j, band in enumerate(n.bands):
            if not band.from_ < band.to:
                ctx.report(path + ("bands", j, "to"), (f"band {j + 1} goes from {band.from_:g} "
                                                       f"to {band.to:g}; 'from' must be below "
                                                       f"'to'",
                                                       f"第 {j + 1} 段从 {band.from_:g} 到 "
                                                       f"{band.to:g}；from 必须小于 to"))
                ok = False
        if not ok:
            return False
        order = sorted(range(len(n.bands)), key=lambda j: (n.bands[j].from_, n.bands[j].to))
        for a, b in itertools.pairwise(order):
            below, above = n.bands[a], n.bands[b]
            if above.from_ < below.to:
                ctx.report(path + ("bands", b, "from"),
                           (f"band {b + 1} [{above.from_:g}, {above.to:g}) overlaps band {a + 1} "
                            f"[{below.from_:g}, {below.to:g})",
                            f"第 {b + 1} 段 [{above.from_:g}, {above.to:g}) 与第 {a + 1} 段 "
                            f"[{below.from_:g}, {below.to:g}) 重叠"),
                           ("bands include 'from' and exclude 'to': make one start where the "
                            "other ends", "分段包含 from、不含 to：让一段从另一段结束处开始"))
                ok = False
            elif above.from_ > below.to:
                ctx.warn(path + ("bands", b, "from"),
                         (f"values from {below.to:g} up to {above.from_:g} fall in no band and "
                          f"score 0", f"从 {below.to:g} 到 {above.from_:g} 的值不在任何分段内，"
                                      f"得 0 分"))
            if ((above.score < below.score) if n.higher_is_better
                    else (above.score > below.score)):
                worse, other = (b, a) if n.higher_is_better else (a, b)
                ctx.report(path + ("bands", worse, "score"),
                           (f"band {worse + 1} scores {n.bands[worse].score:g}, less than band "
                            f"{other + 1} ({n.bands[other].score:g}), but {better} values are "
                            f"better (higher_is_better = {str(n.higher_is_better).lower()})",
                            f"第 {worse + 1} 段得 {n.bands[worse].score:g} 分，少于第 {other + 1} "
                            f"段（{n.bands[other].score:g} 分），但值"
                            f"{'越高' if n.higher_is_better else '越低'}越好（higher_is_better = "
                            f"{str(n.higher_is_better).lower()}）"), _NEVER_LESS)
                ok = False
    return ok


def _check_weights(ctx: CompileContext, rules: Appraisal | Scorecard,
                   root: tuple[str | int, ...] = ("appraisal",)) -> dict[str, float]:
    """Groups declared and used, weights summing to 1; returns the usable group weights."""
    inds = rules.indicators
    grouped = [i for i, ind in enumerate(inds) if ind.group is not None]
    declared = ", ".join(rules.groups) or "none declared"
    if grouped and len(grouped) < len(inds):
        for i, ind in enumerate(inds):
            if ind.group is None:
                ctx.report(root + ("indicators", i, "id"),
                           (f"indicator {ind.id!r} has no group; when any indicator has a "
                            f"group, all must",
                            f"指标 {ind.id!r} 没有分组；只要有一个指标分了组，所有指标都要分组"),
                           (f"add group = \"...\" (groups: {declared})",
                            f"请加上 group = \"...\"（已有分组：{declared}）"), value=False)
    if not grouped:
        if rules.groups:
            ctx.report(root + ("groups",), "groups are declared but no indicator names one",
                       "give each indicator a group, or remove [appraisal.groups]",
                       value=False)
        _check_sum(ctx, ("indicator weights", "指标权重"), [(i, inds[i].id, inds[i].weight)
                                              for i in range(len(inds))],
                   lambda i: root + ("indicators", i, "weight"))
        return {}
    for i in grouped:
        g = inds[i].group
        assert g is not None
        if g not in rules.groups:
            ctx.report(root + ("indicators", i, "group"), (f"unknown group {g!r}",
                                                           f"未知的分组 {g!r}"),
                       did_you_mean_both(g, rules.groups,
                                         (f"declare it under [appraisal.groups.{g}]",
                                          f"请在 [appraisal.groups.{g}] 中声明它")))
    for gid in rules.groups:
        members = [(i, inds[i].id, inds[i].weight) for i in grouped if inds[i].group == gid]
        if not members:
            ctx.report(root + ("groups", gid), f"group {gid!r} has no indicators",
                       "remove it, or give it indicators", value=False)
            continue
        _check_sum(ctx, (f"weights of group {gid!r}", f"分组 {gid!r} 的指标权重"), members,
                   lambda i: root + ("indicators", i, "weight"))
    _check_sum(ctx, ("group weights", "分组权重"),
               [(g, g, grp.weight) for g, grp in rules.groups.items()],
               lambda g: root + ("groups", g, "weight"))
    return {g: grp.weight for g, grp in rules.groups.items()}


def _check_sum(ctx: CompileContext, what: tuple[str, str],
               items: list[tuple[Any, str, float]], where: Any) -> None:
    """Weights that must sum to 1; ``what`` names them in English and Chinese."""
    if not items:
        return
    total = math.fsum(w for _, _, w in items)
    if abs(total - 1) > TOLERANCE:
        parts = ", ".join(f"{name} {_num(w)}" for _, name, w in items)
        ctx.report(where(items[0][0]), (f"{what[0]} sum to {_num(total)} ({parts}); they must "
                                        f"sum to 1",
                                        f"{what[1]}之和为 {_num(total)}（{parts}）；"
                                        f"权重之和必须为 1"))


def _check_cohort_by(ctx: CompileContext, card: AppraisalScheme,
                     root: tuple[str | int, ...]) -> None:
    """``cohort_by`` names declared facts of the scorecard's entity, none a care need."""
    q = card.quota
    if q is None:
        return
    declared = ctx.model.facts.get(card.entity, {})
    for j, name in enumerate(q.cohort_by):
        path = root + ("quota", "cohort_by", j)
        if name not in declared:
            ctx.report(path, (f"unknown fact {name!r} in cohort_by",
                              f"cohort_by 中有未知的事实 {name!r}"),
                       did_you_mean_both(name, declared,
                                         (f"declare it under [facts.{card.entity}]",
                                          f"请在 [facts.{card.entity}] 中声明它")))
        elif declared[name].care_need:
            ctx.report(path, (f"the quota may not split cohorts by {name!r}: "
                              f"{care.outside_care(name, declared[name])}",
                              f"名额限制不能按 {name!r} 分组："
                              f"{care.outside_care_zh(name, declared[name])}"), value=False)
        elif declared[name].type not in ("string", "enum", "int", "bool"):
            ctx.report(path, (f"cohort_by fact {name!r} is a {declared[name].type} fact; "
                              f"cohorts are split by text, enum, int or bool facts",
                              f"cohort_by 的事实 {name!r} 是 {declared[name].type} 类型；"
                              f"只能按文本、枚举、整数或真假值分组"), value=False)


def _compile_card(ctx: CompileContext, rules: Appraisal | Scorecard,
                  root: tuple[str | int, ...], entity: str, rule_root: str = "appraisal",
                  card: Scorecard | None = None) -> AppraisalScheme:
    """One scorecard: [appraisal] itself, or one [[appraisal.scorecard]] (at ``root``),
    whose records carry the facts of ``entity``."""
    facts = ctx.model.facts.get(entity, {})
    if entity not in ctx.model.facts:
        ctx.report(root + ("entity",), (f"no facts are declared for entity {entity!r}",
                                        f"没有为对象 {entity!r} 声明事实"),
                   did_you_mean_both(entity, ctx.model.facts,
                                     (f"declare them under [facts.{entity}]",
                                      f"请在 [facts.{entity}] 中声明")))
    for name in RESERVED:
        if name in facts:
            ctx.report(("facts", entity, name), (f"fact name {name!r} is reserved: it is the "
                                                 f"record's id in appraisal records",
                                                 f"事实名 {name!r} 是保留的名称："
                                                 f"它是考核记录的编号"),
                       ("rename the fact", "请给这个事实改名"), value=False)
    numeric = [f for f, s in facts.items() if s.type in NUMERIC]

    group_weights = _check_weights(ctx, rules, root)
    indicators: list[_Indicator] = []
    seen: dict[str, int] = {}
    for i, ind in enumerate(rules.indicators):
        path: tuple[str | int, ...] = root + ("indicators", i)
        if ind.id in seen:
            ctx.report(path + ("id",), (f"indicator id {ind.id!r} is used twice (first in "
                                        f"indicator {seen[ind.id] + 1})",
                                        f"指标编号 {ind.id!r} 用了两次（第一次在第 "
                                        f"{seen[ind.id] + 1} 个指标）"))
        seen.setdefault(ind.id, i)
        usable = _check_normalise(ctx, path + ("normalise",), ind.id, ind.normalise)
        value: Expression | None = None
        raters: list[tuple[str, float]] = []
        if (ind.value is None) == (not ind.raters):
            if ind.value is None:
                ctx.report(path + ("id",), (f"indicator {ind.id!r} needs a value expression "
                                            f"or raters",
                                            f"指标 {ind.id!r} 需要取值表达式 value "
                                            f"或评价人 raters"),
                           ("add value = \"some_fact\"", "请加上 value = \"某个事实\""),
                           value=False)
            else:
                ctx.report(path + ("raters",), (f"indicator {ind.id!r} has both value and "
                                                f"raters; give exactly one",
                                                f"指标 {ind.id!r} 同时写了 value 和 raters；"
                                                f"只能写一个"), value=False)
            usable = False
        elif ind.value is not None:
            scope = ctx.scope(entity, f"indicator {ind.id!r}")
            value = ctx.expression(path + ("value",), ind.value, scope, Type.DECIMAL)
            usable = usable and value is not None
        else:
            for fact, w in ind.raters.items():
                if fact not in facts:
                    ctx.report(path + ("raters", fact), (f"unknown fact {fact!r}",
                                                         f"未知的事实 {fact!r}"),
                               did_you_mean_both(fact, numeric,
                                                 (f"declare it under [facts.{entity}]",
                                                  f"请在 [facts.{entity}] 中声明它")),
                               value=False)
                    usable = False
                elif facts[fact].care_need:
                    ctx.report(path + ("raters", fact), (
                        f"indicator {ind.id!r} may not read {fact!r}: "
                        f"{care.outside_care(fact, facts[fact])}",
                        f"指标 {ind.id!r} 不能读取 {fact!r}："
                        f"{care.outside_care_zh(fact, facts[fact])}"), value=False)
                    usable = False
                elif facts[fact].type not in NUMERIC:
                    ctx.report(path + ("raters", fact), (
                        f"rater fact {fact!r} is a {facts[fact].type} fact; raters read int or "
                        f"decimal facts", f"评价人事实 {fact!r} 是 {facts[fact].type} 类型；"
                                          f"评价人只读取整数或数字事实"), value=False)
                    usable = False
                if not (math.isfinite(w) and w > 0):
                    ctx.report(path + ("raters", fact), (
                        f"rater weight {w:g} of {fact!r} must be more than 0",
                        f"{fact!r} 的评价人权重 {w:g} 必须大于 0"))
                    usable = False
                raters.append((fact, w))
        group = ind.group
        if group is not None and group not in group_weights:
            usable = False
        if not usable:
            continue
        n = ind.normalise
        grp = rules.groups.get(group) if group is not None else None
        indicators.append(_Indicator(
            ind.id, ind.label, ind.label_en, group,
            _both(grp.label, grp.label_en, group or "") if grp else "",
            ind.weight, group_weights.get(group, 1.0) if group is not None else 1.0,
            value, tuple(raters), n,
            tuple(sorted((s.at, s.score) for s in n.steps)),
            tuple(sorted((b.from_, b.to, b.score) for b in n.bands))))

    grades: list[_Grade] = []
    seen_grades: dict[str, int] = {}
    for j, g in enumerate(rules.grades):
        path = root + ("grades", j)
        if g.id in seen_grades:
            ctx.report(path + ("id",), (f"grade id {g.id!r} is used twice",
                                        f"等级编号 {g.id!r} 用了两次"))
        seen_grades.setdefault(g.id, j)
        if grades and g.min_score >= grades[-1].min_score:
            ctx.report(path + ("min_score",),
                       (f"grades must be written best first with decreasing min_score: "
                        f"{g.min_score:g} is not below {grades[-1].min_score:g} "
                        f"({grades[-1].id})",
                        f"等级须从最好的写起，min_score 依次减小：{g.min_score:g} 不低于 "
                        f"{grades[-1].min_score:g}（{grades[-1].id}）"))
        grades.append(_Grade(g.id, g.label, g.label_en, g.min_score))
    if rules.grades and rules.grades[-1].min_score != 0:
        last = len(rules.grades) - 1
        ctx.report(root + ("grades", last, "min_score"),
                   (f"the last grade ({rules.grades[-1].id}) must have min_score = 0, so that "
                    f"every total has a grade",
                    f"最后一个等级（{rules.grades[-1].id}）的 min_score 必须为 0，"
                    f"这样每个总分都有等级"))

    q = rules.quota
    if q is not None:
        ids = [g.id for g in rules.grades]
        if q.grade not in ids:
            ctx.report(root + ("quota", "grade"), (f"unknown grade {q.grade!r}",
                                                   f"未知的等级 {q.grade!r}"),
                       did_you_mean_both(q.grade, ids, ("grades: " + one_of(ids),
                                           "已定义的等级：" + one_of(ids, words=("、", " 或 ")))))
        elif ids.index(q.grade) == len(ids) - 1:
            ctx.report(root + ("quota", "grade"), (
                f"the quota cannot apply to the lowest grade {q.grade!r}: there is no grade "
                f"below it for the others to move to",
                f"名额限制不能用于最低等级 {q.grade!r}：没有更低的等级可以让其余的人降入"))
        known = [ind.id for ind in rules.indicators]
        for j, item in enumerate(q.tie_break):
            path = root + ("quota", "tie_break", j)
            if item in ("total", "subject_id"):
                continue
            if item.startswith("indicator:"):
                iid = item.split(":", 1)[1]
                if iid not in known:
                    ctx.report(path, (f"unknown indicator {iid!r} in tie_break",
                                      f"tie_break 中有未知的指标 {iid!r}"),
                               did_you_mean_both(iid, known, (
                                   "indicators: " + one_of(known),
                                   "已有指标：" + one_of(known, words=("、", " 或 ")))))
                continue
            ctx.report(path, (f"unknown tie_break entry {item!r}",
                              f"tie_break 中有未知的项 {item!r}"),
                       did_you_mean_both(item, ["total", "subject_id"],
                            ("use 'total', 'subject_id' or 'indicator:<id>'",
                             "请用 'total'、'subject_id' 或 'indicator:<指标编号>'")))

    vetoes: list[_Veto] = []
    seen_vetoes: set[str] = set()
    for j, v in enumerate(rules.vetoes):
        path = root + ("vetoes", j)
        if v.id in seen_vetoes:
            ctx.report(path + ("id",), (f"veto id {v.id!r} is used twice",
                                        f"否决项编号 {v.id!r} 用了两次"))
        seen_vetoes.add(v.id)
        expr = ctx.expression(path + ("when",), v.when,
                              ctx.scope(entity, f"veto {v.id!r}"), Type.BOOL)
        if expr is not None:
            vetoes.append(_Veto(v.id, v.label, v.label_en, expr))
            ctx.warn_never(path + ("when",), f"veto {v.id!r}", f"否决项 {v.id!r} ", expr,
                           entity)
    # care needs are refused in every rule (care.outside_care) and never read from records
    read = {name: spec for name, spec in facts.items() if not spec.care_need}
    return AppraisalScheme(ctx.model, rules, ctx.ref, indicators, grades, vetoes, read,
                           ctx.functions, entity=entity, rule_root=rule_root, card=card)


# --- steps 2-5 and 7 as a plan ----------------------------------------------------------

#: The first character of every plan step's name: no fact's name starts so.
STEP = "$"
_FACT_TYPES = {"int": Type.INT, "decimal": Type.DECIMAL, "bool": Type.BOOL,
               "string": Type.STRING, "date": Type.DATE}


def _exact_lit(x: float | int | Decimal) -> Lit:
    return Lit(dec(x), EXACT_TYPE)


def _spans(ind: _Indicator) -> tuple[Span, ...]:
    """The intervals of an indicator's normalisation; their index is its ``pick`` (as
    the reasons word it): linear 0 inside, 1 worse than the floor (clamped to 0), 2
    better than the target (100); thresholds and bands: the step or band; none: 0
    inside 0-100."""
    n = ind.norm
    if n.method == "linear":
        f, t = ind.d_floor, ind.d_target
        lo, hi = min(f, t), max(f, t)
        if t > f:
            return ((lo, True, hi, True), (None, False, f, False), (t, False, None, False))
        return ((lo, True, hi, True), (f, False, None, False), (None, False, t, False))
    if n.method == "thresholds":
        ats = [a for a, _ in ind.d_steps]
        if n.higher_is_better:  # the highest step at or below the value
            return tuple((a, True, ats[k + 1] if k + 1 < len(ats) else None, False)
                         for k, a in enumerate(ats))
        return tuple((ats[k - 1] if k else None, False, a, True)  # the lowest at or above
                     for k, a in enumerate(ats))
    if n.method == "bands":
        last = len(ind.d_bands) - 1
        return tuple((lo, True, hi, k == last) for k, (lo, hi, _) in enumerate(ind.d_bands))
    return ((Decimal(0), True, Decimal(100), True),)


def appraisal_plan(scheme: AppraisalScheme, words: bool = True) -> Plan:
    """Steps 2-5 and 7 of the module docstring as one plan over the facts the indicators
    and vetoes read (and ``as_of``): per indicator ``$raw<i>`` (exact), ``$pick<i>``
    (which rule of its normalisation gave the score, see :func:`_spans`), ``$score<i>``
    and ``$w<i>`` (exact), then ``$total`` (exact, at ``TOTAL_PLACES``), ``$band`` (the
    grade index), ``$short`` (how far below the next grade up), ``$veto<j>`` and
    ``$failed`` (some indicator or veto could not be computed, or a 'none' score is
    outside 0-100). The numbers a reason shows are there as text (``$t…``, as ``_fmt``
    writes them) and the public floats as ``$f…``, so both engines word them alike."""
    read: dict[str, Type] = {}
    for e in [*(i.value for i in scheme.indicators if i.value is not None),
              *(v.when for v in scheme.vetoes)]:
        for node in walk(e.node):
            if isinstance(node, Name):
                read.setdefault(node.name, node.type)
    raters = list(dict.fromkeys(f for ind in scheme.indicators for f, _ in ind.raters))
    for f in raters:
        read.setdefault(f, _FACT_TYPES[scheme.facts[f].type])
    inputs = tuple(Input(name, t) for name, t in read.items())
    steps: list[Let] = []
    add = steps.append
    for f in raters:
        add(Let(f"{STEP}x:{f}", Exact(Ref(f))))
        add(Let(f"{STEP}tX:{f}", ExactText(Ref(f"{STEP}x:{f}"))))
    bad: list[Operand] = []
    for i, ind in enumerate(scheme.indicators):
        raw = Ref(f"{STEP}raw{i}")
        if ind.value is not None:
            add(Let(f"{STEP}v{i}", PlanExpr(ind.value.node)))
            add(Let(raw.name, Exact(Ref(f"{STEP}v{i}"))))
        else:
            ws = [dec(w) for _, w in ind.raters]
            add(Let(f"{STEP}num{i}", ExactSum(tuple(
                (Ref(f"{STEP}x:{f}"), w) for (f, _), w in zip(ind.raters, ws, strict=True)))))
            weights = functools.reduce(EXACT.add, ws, Decimal(0))
            add(Let(raw.name, DivHalfUp(Ref(f"{STEP}num{i}"), weights, DIV_PLACES)))
        add(Let(f"{STEP}bad{i}", IsNull(raw)))
        bad.append(Ref(f"{STEP}bad{i}"))
        pick = Ref(f"{STEP}pick{i}")
        add(Let(pick.name, Interval(raw, _spans(ind))))
        n = ind.norm
        if n.method == "linear":
            floor, target = ind.d_floor, ind.d_target
            add(Let(f"{STEP}d{i}", ExactSum(((raw, Decimal(100)),),
                                                 EXACT.multiply(floor, Decimal(-100)))))
            add(Let(f"{STEP}q{i}", DivHalfUp(Ref(f"{STEP}d{i}"),
                                              EXACT.subtract(target, floor), DIV_PLACES)))
            score: Operand = Ref(f"{STEP}q{i}")
            add(Let(f"{STEP}score{i}", ExactPick(pick, (score, _exact_lit(0),
                                                        _exact_lit(100)), _exact_lit(0))))
        elif n.method in ("thresholds", "bands"):
            scores = [s for _, s in ind.d_steps] if n.method == "thresholds" \
                else [s for _, _, s in ind.d_bands]
            add(Let(f"{STEP}score{i}", ExactPick(pick, tuple(Lit(s, EXACT_TYPE) for s in scores),
                                                 _exact_lit(0))))
        else:
            add(Let(f"{STEP}range{i}", Compare("==", pick, Lit(-1, Type.INT))))
            bad.append(Ref(f"{STEP}range{i}"))
            add(Let(f"{STEP}score{i}", ExactSum(((raw, Decimal(1)),))))
        add(Let(f"{STEP}w{i}", ExactSum(((Ref(f"{STEP}score{i}"), ind.wg),))))
    k = len(scheme.indicators)
    add(Let(f"{STEP}sum", ExactSum(tuple((Ref(f"{STEP}w{i}"), Decimal(1)) for i in range(k)))))
    total = Ref(f"{STEP}total")
    add(Let(total.name, DivHalfUp(Ref(f"{STEP}sum"), Decimal(1), TOTAL_PLACES)))
    grades = scheme.grades
    add(Let(f"{STEP}band", Interval(total, (*((g.d_min, True, None, False)
                                               for g in grades[:-1]),
                                             (None, False, None, False)))))
    add(Let(f"{STEP}better", ExactPick(Ref(f"{STEP}band"), (
        _exact_lit(0), *(Lit(g.d_min, EXACT_TYPE) for g in grades[:-1])), _exact_lit(0))))
    add(Let(f"{STEP}short", ExactSum(((Ref(f"{STEP}better"), Decimal(1)),
                                      (total, Decimal(-1))))))
    for j, v in enumerate(scheme.vetoes):
        add(Let(f"{STEP}veto{j}", PlanExpr(v.when.node)))
    vetoes = tuple(f"{STEP}veto{j}" for j in range(len(scheme.vetoes)))
    add(Let(f"{STEP}vfail", Failed(vetoes)))
    add(Let(f"{STEP}failed", AnyOf((*bad, Ref(f"{STEP}vfail")))))
    if not words:  # the per-record path words the exact values itself (``_fmt``)
        return Plan(inputs, tuple(steps), tuple(s.name for s in steps))
    # the trace as text and floats, for the reasons and the public fields
    for i in range(k):
        for key, name in (("R", "raw"), ("N", "score"), ("W", "w")):
            add(Let(f"{STEP}t{key}{i}", ExactText(Ref(f"{STEP}{name}{i}"))))
            add(Let(f"{STEP}f{key}{i}", ExactFloat(Ref(f"{STEP}{name}{i}"))))
    add(Let(f"{STEP}tT", ExactText(total)))
    add(Let(f"{STEP}fT", ExactFloat(total)))
    add(Let(f"{STEP}tShort", ExactText(Ref(f"{STEP}short"))))
    return Plan(inputs, tuple(steps), tuple(s.name for s in steps))


def how_text(ind: _Indicator, pick: int, raw: Decimal, lang: str = "en") -> tuple[str, str]:
    """How the score was found (the rule ``pick`` of :func:`_spans`), and its flag
    (OUT_OF_BANDS, NO_STEP_REACHED or ''). In English (the trace's and the details'
    ``how``), or in Chinese for a reason worded so (``lang="zh"``)."""
    if lang == "zh":
        return _how_text_zh(ind, pick, raw)
    n = ind.norm
    if n.method == "linear":
        how = f"linear: {_fmt(ind.d_floor)} scores 0, {_fmt(ind.d_target)} scores 100"
        return {0: how, 1: f"{how}, clamped to {_fmt(0)}",
                2: f"{how}, clamped to {_fmt(100)}"}[pick], ""
    if n.method == "thresholds":
        word = "at least" if n.higher_is_better else "at most"
        if pick == -1:
            edge = ind.steps[0 if n.higher_is_better else -1][0]
            return (f"thresholds: no step reached (the step nearest is {word} "
                    f"{_fmt(edge)}), scores 0"), "NO_STEP_REACHED"
        at, written = ind.steps[pick]
        return f"thresholds: {word} {_fmt(at)} scores {_fmt(written)}", ""
    if n.method == "bands":
        if pick == -1:
            return f"bands: {_fmt(raw)} is in no band, scores 0", "OUT_OF_BANDS"
        lo, hi, written = ind.bands[pick]
        close = "]" if pick == len(ind.bands) - 1 else ")"
        return f"bands: [{_fmt(lo)}, {_fmt(hi)}{close} scores {_fmt(written)}", ""
    return "none: the value is the score", ""


def _how_text_zh(ind: _Indicator, pick: int, raw: Decimal) -> tuple[str, str]:
    """:func:`how_text` in Chinese."""
    n = ind.norm
    if n.method == "linear":
        how = f"线性：{_fmt(ind.d_floor)} 得 0 分，{_fmt(ind.d_target)} 得 100 分"
        return {0: how, 1: f"{how}，取下限 {_fmt(0)}",
                2: f"{how}，取上限 {_fmt(100)}"}[pick], ""
    if n.method == "thresholds":
        word = "不低于" if n.higher_is_better else "不高于"
        if pick == -1:
            edge = ind.steps[0 if n.higher_is_better else -1][0]
            return (f"分档：未达到任何一档（最近的一档为{word} {_fmt(edge)}），得 0 分"
                    ), "NO_STEP_REACHED"
        at, written = ind.steps[pick]
        return f"分档：{word} {_fmt(at)} 得 {_fmt(written)} 分", ""
    if n.method == "bands":
        if pick == -1:
            return f"区间：{_fmt(raw)} 不在任何区间内，得 0 分", "OUT_OF_BANDS"
        lo, hi, written = ind.bands[pick]
        close = "]" if pick == len(ind.bands) - 1 else ")"
        return f"区间：[{_fmt(lo)}, {_fmt(hi)}{close} 得 {_fmt(written)} 分", ""
    return "不换算：数值即得分", ""


def how_picks(ind: _Indicator) -> list[int]:
    """Every rule ``pick`` of an indicator's normalisation but a value in no band (the
    only ``how`` that quotes the value)."""
    return {"linear": [0, 1, 2], "thresholds": [*range(len(ind.steps)), -1],
            "bands": list(range(len(ind.bands))), "none": [0]}[ind.norm.method]


def _how_by_english(ind: _Indicator, lang: str) -> dict[str, str]:
    """The ``how`` of each rule in ``lang``, by its English text (each rule's is its
    own), made once per indicator and language (kept beside its cached properties)."""
    cache: dict[str, dict[str, str]] = ind.__dict__.setdefault("_how_by_english", {})
    if lang not in cache:
        cache[lang] = {how_text(ind, k, Decimal(0))[0]: how_text(ind, k, Decimal(0), lang)[0]
                       for k in how_picks(ind)}
    return cache[lang]


def how_in(ind: _Indicator, how: str, raw: Decimal, lang: str) -> str:
    """An indicator trace's ``how`` (English, as both paths write it) in ``lang``: the
    same rule's words, or for a value in no band the words quoting that value."""
    if lang == "en":
        return how
    found = _how_by_english(ind, lang).get(how)
    return found if found is not None else how_text(ind, -1, raw, lang)[0]
