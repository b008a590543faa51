"""Household civility stars: one star per criterion met; titles by star count.

How one household is decided (the order is part of the meaning, and each step
leaves a reason on the decision):

1. The record is checked on its own: ``household_id`` present and not seen
   before in the batch, every civic-life fact of the scheme's entity typed and
   in range (defaults applied), ``review_date`` and ``revoked_on`` real dates,
   a ``revocation_reason`` whenever ``revoked_on`` is given (and a
   ``revoked_on`` whenever a reason is), and no review dated after the as-of
   date (stars cannot rest on a review that has not happened yet). A record
   failing any check is *rejected* with every reason found; it is never
   dropped, and the rest of the batch is still scored.
2. Every star's criterion is evaluated, in policy order, on the household's
   facts (and ``as_of``). Each gives STAR_MET or STAR_NOT_MET with the facts
   it read and their values, so a resident can see what each star rests on.
   A criterion that cannot be evaluated (a division by zero, a date out of
   range) rejects the record with CRITERION_ERROR rather than guessing.
3. Revocation: a ``revoked_on`` after the as-of date is not in effect yet
   (REVOCATION_PENDING; it is ignored). Otherwise the household is barred
   until ``revoked_on`` plus ``bar_years`` (the same day, that many years
   later; 29 February becomes 28 February): while ``as_of`` is before that
   date it holds 0 stars and no title (REVOKED, naming the reason and the end
   of the bar). The criteria are still evaluated and shown, so the officer
   sees what the household would earn. A bar that has ended leaves
   REVOCATION_ENDED, for the record.
4. Title: the title with the highest ``min_stars`` that the star count
   reaches (TITLE); none reached gives NO_TITLE with the stars still missing
   for the lowest title. A barred household never holds a title, even one
   from 0 stars.
5. Review: stars are valid ``review_years`` from ``review_date``. When
   ``review_date + review_years <= as_of``, or there is no review date at
   all, the household is flagged REVIEW_DUE (with the date it was due, or
   "never reviewed"); otherwise REVIEW_VALID gives the next review date. An
   overdue review flags the household for an officer; it does not take its
   stars away, because the facts are those the record gives as of today.

Why these choices:

* Criteria read civic conduct only. Facts marked ``care_need`` are refused in
  a criterion at load time (care is allocated by need and is never something
  a household earns or loses), and the loader already refuses facts denoting
  protected characteristics. Care-need facts in a record are therefore neither
  required nor read by this scheme: a household is not refused its stars
  because, say, the age of its oldest member is missing.
* A revocation that is announced but not yet in effect is shown, not applied,
  so that a batch run as of an earlier date reproduces the decision made then.
* Duplicate household ids: the first row is scored, every later row with the
  same id is rejected (DUPLICATE_RECORD), so that one household never holds
  two different star counts in one run.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

from ... import record_words as rw
from ..._suggest import did_you_mean_both, one_of
from ...errors import RecordError
from ...expr import Expression, FunctionTable, Type
from ...expr.ir import Name, walk
from ...messages import reasons_language, say
from ...plan.ops import (
    AddPeriod,
    All,
    Codes,
    Compare,
    CountTrue,
    Expr,
    Failed,
    FirstTrue,
    IfElse,
    Input,
    IsNull,
    Let,
    Lit,
    Not,
    Pick,
    Plan,
    Ref,
    Threshold,
    add_period,
)
from ...plan.python import compile_plan
from ...plan.words import both_labels as _both
from ...policy.compile import CompileContext, ensure_in_effect
from ...policy.model import Civility, FactSpec, PolicyModel
from ...records import coerce_facts, is_missing, to_date, to_id, to_text, unreadable_reason
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
from .words import CivilityWords

SCORED = "scored"
REJECTED = "rejected"

#: Per-star reason codes: in ``detail_rows`` (one row per star), not repeated in ``output_rows``.
STAR_CODES = ("STAR_MET", "STAR_NOT_MET")

#: Record fields the scheme reads besides the entity's facts; facts may not use these names.
RECORD_FIELDS = ("household_id", "review_date", "revoked_on", "revocation_reason")


def add_years(day: dt.date, years: int) -> dt.date:
    """The same day ``years`` later; 29 Feb becomes 28 Feb; clipped to the last date
    (the plan op ``AddPeriod``, which both engines run)."""
    out = add_period(day, years)
    assert out is not None
    return out


def _show(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dt.date):
        return "never" if value == dt.date.min else value.isoformat()
    if isinstance(value, float):
        return f"{value:g}"
    if isinstance(value, str):
        return repr(value)
    return str(value)


def format_values(values: Mapping[str, Any]) -> str:
    """``law_violations = 0, covenant_signed = true``: the facts a criterion read."""
    return ", ".join(f"{k} = {_show(v)}" for k, v in values.items())


# --- results ------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class StarResult:
    """One criterion on one household: met or not, and the fact values it read."""

    id: str
    label: str
    label_en: str
    met: bool
    values: Mapping[str, Any]
    when: str

    @property
    def name(self) -> str:
        return _both(self.label, self.label_en, self.id)


@dataclass(frozen=True, slots=True)
class CivilityDecision:
    """One household's stars and title as of a date, or why its record was rejected."""

    household_id: str
    status: str
    stars: int
    max_stars: int
    title: str
    title_en: str
    criteria: tuple[StarResult, ...]
    review_due: bool
    next_review: dt.date | None
    barred_until: dt.date | None
    reasons: tuple[Reason, ...]
    policy: PolicyRef
    as_of: dt.date
    row: int
    #: the language its reasons are worded in (``en`` or ``zh``), and ``explain``'s
    lang: str = field(default="en", compare=False, repr=False)

    @property
    def rejected(self) -> bool:
        return self.status == REJECTED

    @property
    def reason_codes(self) -> tuple[str, ...]:
        return tuple(r.code for r in self.reasons)

    @property
    def stars_met(self) -> tuple[str, ...]:
        """Ids of the criteria met (whether or not a bar keeps the stars from counting)."""
        return tuple(c.id for c in self.criteria if c.met)

    @property
    def barred(self) -> bool:
        return self.barred_until is not None

    def explain(self, lang: str | None = None) -> str:
        """Plain-language account, for an officer or to show the household, in ``lang``
        (``zh`` or ``en``; by default the language its reasons are worded in)."""
        if (lang or self.lang) == "zh":
            return self._explain_zh()
        head = f"Household {self.household_id}"
        if self.rejected:
            lines = [f"{head}: the record was rejected, as of {self.as_of}:"]
            lines += [f"  - {r.message}" for r in self.reasons]
            lines.append(f"  Policy {self.policy}.")
            return "\n".join(lines)
        title = _both(self.title, self.title_en)
        lines = [f"{head}, as of {self.as_of}: {self.stars} of {self.max_stars} stars"
                 + (f", title {title}." if title else ", no title.")]
        met = sum(c.met for c in self.criteria)
        lines.append(f"  Criteria met: {met} of {len(self.criteria)}"
                     + (" (not counted while the bar lasts)" if self.barred else "") + ":")
        for c in self.criteria:
            mark = "[x]" if c.met else "[ ]"
            read = f": {format_values(c.values)}" if c.values else ""
            lines.append(f"    {mark} {c.name} — {c.when}{read}")
        lines += [f"  - {r.message}" for r in self.reasons if r.code not in STAR_CODES]
        lines.append(f"  Policy {self.policy}.")
        return "\n".join(lines)

    def _explain_zh(self) -> str:
        """:meth:`explain` in Chinese (the reasons as they are worded)."""
        head = f"住户 {self.household_id}"
        if self.rejected:
            lines = [f"{head}：记录未通过校验（计算日期 {self.as_of}）："]
            lines += [f"  - {r.message}" for r in self.reasons]
            lines.append(f"  政策 {self.policy}。")
            return "\n".join(lines)
        title = self.title or self.title_en
        lines = [f"{head}，计算日期 {self.as_of}：{self.stars} / {self.max_stars} 颗星"
                 + (f"，称号{title}。" if title else "，无称号。")]
        met = sum(c.met for c in self.criteria)
        lines.append(f"  符合的标准：{met} / {len(self.criteria)} 项"
                     + ("（禁评期间不计星）" if self.barred else "") + "：")
        for c in self.criteria:
            mark = "[x]" if c.met else "[ ]"
            read = f"：{format_values(c.values)}" if c.values else ""
            lines.append(f"    {mark} {c.label or c.label_en or c.id} — {c.when}{read}")
        lines += [f"  - {r.message}" for r in self.reasons if r.code not in STAR_CODES]
        lines.append(f"  政策 {self.policy}。")
        return "\n".join(lines)

    def to_row(self) -> dict[str, Any]:
        scored = not self.rejected
        return {
            "row": self.row, "household_id": self.household_id, "status": self.status,
            "stars": self.stars if scored else None, "max_stars": self.max_stars,
            "title": self.title, "title_en": self.title_en,
            "review_due": self.review_due if scored else None,
            "next_review": self.next_review, "barred_until": self.barred_until,
            "stars_met": list(self.stars_met),
            "reason_codes": [c for c in self.reason_codes if c not in STAR_CODES],
            "reasons": [r.message for r in self.reasons if r.code not in STAR_CODES],
            **policy_columns(self.policy), "as_of": self.as_of,
        }

    def detail_rows(self) -> Iterator[dict[str, Any]]:
        for c in self.criteria:
            yield {
                "row": self.row, "household_id": self.household_id, "star": c.id,
                "label": c.label, "label_en": c.label_en, "met": c.met,
                "counted": c.met and not self.barred, "when": c.when,
                "values": format_values(c.values),
                **policy_columns(self.policy), "as_of": self.as_of,
            }


@dataclass(frozen=True)
class CivilityResult:
    """Every household of one run, in input order (rejected ones included)."""

    as_of: dt.date
    policy: PolicyRef
    decisions: tuple[CivilityDecision, ...]
    max_stars: int
    scheme: CivilityScheme = field(repr=False, compare=False, metadata=INTERNAL)

    @property
    def scored(self) -> tuple[CivilityDecision, ...]:
        return tuple(d for d in self.decisions if not d.rejected)

    @property
    def rejected(self) -> tuple[CivilityDecision, ...]:
        return tuple(d for d in self.decisions if d.rejected)

    def to_jsonable(self) -> Any:
        return to_jsonable(self)

    # -- the SchemeRun protocol (used by the CLI) -------------------------------------
    def fired_rules(self) -> set[str]:
        """Stars met in this run (for ``civicscore test`` coverage)."""
        return {r.rule for d in self.scored for r in d.reasons if r.code == "STAR_MET"}

    def output_rows(self) -> Iterator[dict[str, Any]]:
        return (d.to_row() for d in self.decisions)

    def detail_rows(self) -> Iterator[dict[str, Any]]:
        return (row for d in self.decisions for row in d.detail_rows())

    def rejected_rows(self) -> list[dict[str, Any]]:
        return [reject_row("households", d.row, d.household_id, d.reason_codes,
                           [r.message for r in d.reasons]) for d in self.rejected]

    def summary(self) -> str:
        return run_summary(CivilityPresenter(self.scheme), self, rows_in=len(self.decisions),
                           policy=self.policy, as_of=self.as_of)

    def table(self) -> Table:
        return run_table(CivilityPresenter(self.scheme), self, policy=self.policy,
                         as_of=self.as_of)


class CivilityPresenter(Presenter):
    """A civility run on a terminal: a household per row; the summary counts full stars,
    bars and reviews due. Read off the output rows, so both engines show the same."""

    noun = input_kind = "households"
    title = "Civility stars"
    columns = ("household", "stars", "title", "review", "barred until", "status")

    def cells(self, row: Mapping[str, Any]) -> list[str]:
        if row["status"] != SCORED:
            return [row["household_id"], "-", "-", "-", "-", "rejected"]
        review = (("due" + (f" since {row['next_review']}" if row["next_review"]
                            else " (never)"))
                  if row["review_due"] else f"next {row['next_review']}")
        return [row["household_id"], f"{row['stars']}/{row['max_stars']}",
                row["title"] or row["title_en"] or "-", review,
                str(row["barred_until"]) if row["barred_until"] else "-", row["status"]]

    def notes(self, output: Column, details: Column) -> list[str]:
        scored = [s == SCORED for s in output("status")]
        most = self.scheme.max_stars
        full = sum(ok and n == most for ok, n in zip(scored, output("stars"), strict=True))
        barred = sum(ok and b is not None
                     for ok, b in zip(scored, output("barred_until"), strict=True))
        due = sum(ok and bool(d) for ok, d in zip(scored, output("review_due"), strict=True))
        return [say("note_full_stars", n=full, most=most), say("note_barred", n=barred),
                say("note_reviews_due", n=due)]


# --- compiled rules ------------------------------------------------------------------


@dataclass(frozen=True)
class _Star:
    id: str
    label: str
    label_en: str
    when: Expression


@dataclass(frozen=True)
class _Title:
    min_stars: int
    label: str
    label_en: str


class CivilityScheme(BatchEngine):
    """The compiled [civility] section of one policy."""

    batch_engine = "civicscore.schemes.civility.batch:score_civility"
    presenter_type = CivilityPresenter

    extra_inputs: tuple[str, ...] = ()

    def __init__(self, model: PolicyModel, rules: Civility, ref: PolicyRef,
                 stars: Sequence[_Star], titles: Sequence[_Title],
                 facts: Mapping[str, FactSpec], functions: FunctionTable | None = None) -> None:
        self.model = model
        self.rules = rules
        self.ref = ref
        self.stars = tuple(stars)
        self.titles = tuple(sorted(titles, key=lambda t: t.min_stars))
        self.facts = dict(facts)
        #: The policy's function table, for compiling the same criteria to polars (batch).
        self.functions = functions

    @cached_property
    def plan(self) -> Plan:
        """Steps 2 to 5 as one plan (see :func:`civility_plan`); both engines run it.
        Built on first use: a section with mistakes is compiled (to report them all)
        but never run."""
        return civility_plan(self.stars, self.titles, self.rules.bar_years,
                             self.rules.review_years)

    @property
    def words(self) -> CivilityWords:
        """The reason templates of steps 3 to 5 in the language reasons are worded in
        now (:func:`~civicscore.messages.reasons_language`: ``--lang``, else
        ``CIVICSCORE_LANG``, else the policy's locale); both engines render them (see
        ``words``)."""
        return self.words_in(reasons_language(self.model.policy.locale))

    def words_in(self, lang: str) -> CivilityWords:
        """The reason templates in ``lang`` (``en`` or ``zh``), built once per language."""
        cache = self.__dict__.setdefault("_words_by_lang", {})
        if lang not in cache:
            cache[lang] = CivilityWords.of(self.titles, len(self.stars),
                                           self.rules.bar_years, self.rules.review_years,
                                           lang)
        words: CivilityWords = cache[lang]
        return words

    @cached_property
    def _run(self) -> Callable[[Mapping[str, Any]], tuple[Any, ...]]:
        """The plan as generated Python, compiled once per policy."""
        return compile_plan(self.plan, self.functions if self.functions is not None
                            else FunctionTable())

    @property
    def max_stars(self) -> int:
        return len(self.stars)

    # -- public API --------------------------------------------------------------------
    def rule_ids(self) -> set[str]:
        """Every star, for ``civicscore test`` coverage (a star counts once a case meets it)."""
        return {f"civility.stars.{s.id}" for s in self.stars}

    def decide(self, household: Mapping[str, Any], *, as_of: dt.date) -> CivilityDecision:
        """Stars, title, review and bar of one household as of ``as_of``."""
        ensure_in_effect(self.model, self.ref, as_of)
        return self._decide(1, household, as_of, {})

    def decide_many(self, households: Iterable[Any], *, as_of: dt.date) -> CivilityResult:
        """Every household in input order; later rows repeating a household id are rejected."""
        ensure_in_effect(self.model, self.ref, as_of)
        seen: dict[str, int] = {}
        decisions = tuple(self._decide(row, record, as_of, seen)
                          for row, record in enumerate(households, start=1))
        return CivilityResult(as_of, self.ref, decisions, self.max_stars, self)

    #: The older names of ``decide`` and ``decide_many`` (one vocabulary across schemes:
    #: ``decide`` one record, ``decide_many``, ``batch``); kept working.
    evaluate = decide
    evaluate_many = decide_many

    # -- the Scheme protocol (used by the CLI) ----------------------------------------
    def run(self, records: Iterable[Any], *, as_of: dt.date,
            **extra: Iterable[Any]) -> CivilityResult:
        return self.decide_many(records, as_of=as_of)

    def explain_record(self, record: Mapping[str, Any], *, as_of: dt.date) -> str:
        return self.decide(record, as_of=as_of).explain()

    # -- batch -------------------------------------------------------------------------------
    def decide_one(self, row: int, record: Any, as_of: dt.date,
                   seen: dict[str, int]) -> CivilityDecision:
        """One row exactly as ``evaluate_many`` decides it, given the ids ``seen`` before
        it (the batch evaluator asks this for the reasons of the rows it rejects)."""
        return self._decide(row, record, as_of, seen)

    # -- one household -------------------------------------------------------------------
    def _reject(self, row: int, hid: str, reasons: Sequence[Reason],
                as_of: dt.date) -> CivilityDecision:
        return CivilityDecision(hid, REJECTED, 0, self.max_stars, "", "", (), False, None, None,
                                tuple(reasons), self.ref, as_of, row,
                                reasons_language(self.model.policy.locale))

    def _decide(self, row: int, record: Any, as_of: dt.date,
                seen: dict[str, int]) -> CivilityDecision:
        if (unreadable := unreadable_reason(row, record, self.model.policy.locale)) is not None:
            return self._reject(row, f"row {row}", [unreadable], as_of)
        reasons: list[Reason] = []
        label = f"row {row}"
        locale = self.model.policy.locale

        def field(name: str, convert: Any) -> Any:
            value = record.get(name)
            if is_missing(value):
                return None
            try:
                return convert(value, label, name)
            except RecordError as e:
                reasons.append(Reason(e.code, f"record.{name}", e.text(reasons_language(locale)),
                                      {name: value}))
                return None

        hid = field("household_id", to_id)
        if hid:
            label = hid
        else:
            if not any(r.rule == "record.household_id" for r in reasons):
                reasons.append(Reason("MISSING_FIELD", "record.household_id", rw.say(
                    "missing", reasons_language(locale), who=rw.who(label, reasons_language(
                        locale)), field="household_id")))
            hid = label
        if not reasons:  # a real id: the first row with it is the household's
            if hid in seen:
                reasons.append(Reason("DUPLICATE_RECORD", "record.household_id", rw.say(
                    "duplicate", reasons_language(locale), thing="household",
                    thing_zh=rw.THINGS_ZH["household"], id=hid, first=seen[hid]),
                    {"household_id": hid}))
            else:
                seen[hid] = row
        facts, fact_reasons = coerce_facts(record, self.facts, label, self.rules.entity,
                                           locale)
        reasons += fact_reasons
        review = field("review_date", to_date)
        revoked = field("revoked_on", to_date)
        why = field("revocation_reason", to_text)
        given = not is_missing(record.get("revoked_on"))
        if given != bool(why) or (review is not None and review > as_of):
            lang = reasons_language(locale)
            reasons += _step1_checks(label, lang, given, revoked, why, review, as_of,
                                     record.get("revoked_on"))
        if reasons:
            return self._reject(row, hid, reasons, as_of)

        # steps 2 to 5: the plan (generated Python, compiled once per policy)
        env = dict(facts)
        env["as_of"] = as_of
        env["review_date"] = review
        env["revoked_on"] = revoked
        trace = Trace(*self._run(env))
        if trace.failed:
            return self._reject(row, hid, self._criterion_errors(env, trace, label), as_of)
        criteria: list[StarResult] = []
        words = self.words
        for s, met in zip(self.stars, trace.met, strict=True):
            values = s.when.values_read(env)
            # no criterion failed (that rejected the record above), so every flag is set
            criteria.append(StarResult(s.id, s.label, s.label_en, met is True, values,
                                       s.when.text))
            if words.lang == "zh":
                from ...expr.words import plain_zh  # only where reasons are in Chinese

                name = s.label or s.label_en or s.id
                read = f"（{format_values(values)}）" if values else ""
                said = plain_zh(s.when.node, {n: f.label for n, f in self.facts.items()})
                message = (f"{name}：符合 — {said}{read}" if met
                           else f"{name}：不符合 — {said} 不成立{read}")
            else:
                name = _both(s.label, s.label_en, s.id)
                read = f" ({format_values(values)})" if values else ""
                message = (f"{name}: met — {s.when.text}{read}" if met
                           else f"{name}: not met — {s.when.text} does not hold{read}")
            if met:
                reasons.append(Reason("STAR_MET", f"civility.stars.{s.id}", message, values,
                                      s.when.text, "+1 star"))
            else:
                reasons.append(Reason("STAR_NOT_MET", f"civility.stars.{s.id}", message,
                                      values, s.when.text))
        reasons += words.reasons(trace, as_of, revoked, why, review)
        title = self.titles[trace.title] if trace.title >= 0 else None
        return CivilityDecision(
            hid, SCORED, trace.stars, self.max_stars,
            title.label if title else "", title.label_en if title else "",
            tuple(criteria), trace.review_due, trace.next_review, trace.barred_until,
            tuple(reasons), self.ref, as_of, row, words.lang)

    def _criterion_errors(self, env: Mapping[str, Any], trace: Trace,
                          label: str) -> list[Reason]:
        """CRITERION_ERROR for each star the plan could not evaluate, with the error
        (the criterion is evaluated again for its message: a rare, rejected record)."""
        reasons = []
        lang = reasons_language(self.model.policy.locale)
        for s, met in zip(self.stars, trace.met, strict=True):
            if met is not None:
                continue
            try:
                s.when(env)
                error = "it failed in the plan"  # pragma: no cover - both raise alike
            except (ArithmeticError, ValueError) as e:
                error = rw.evaluation_error(e, lang)
            reasons.append(Reason("CRITERION_ERROR", f"civility.stars.{s.id}", rw.say(
                "cannot_evaluate", lang, who=rw.who(label, lang), thing="star",
                thing_zh="星级", id=s.id, text=s.when.text, error=error),
                s.when.values_read(env)))
        return reasons


def _step1_checks(label: str, lang: str, given: bool, revoked: dt.date | None,
                  why: str | None, review: dt.date | None, as_of: dt.date, raw_revoked: Any
                  ) -> list[Reason]:
    """Step 1's checks of the review and revocation fields that parsed, in order: the
    reason of each that fails (``batch`` words the same sentences from the same table)."""
    who = rw.who(label, lang)
    out: list[Reason] = []
    if given and not why:
        out.append(Reason("MISSING_FIELD", "record.revocation_reason", rw.say(
            "required_when", lang, who=who, field="revocation_reason",
            when="revoked_on is given", when_zh=REVOKED_GIVEN_ZH), {"revoked_on": raw_revoked}))
    if why and revoked is None and not given:
        out.append(Reason("MISSING_FIELD", "record.revoked_on", rw.say(
            "required_when", lang, who=who, field="revoked_on",
            when="a revocation_reason is given", when_zh=WHY_GIVEN_ZH),
            {"revocation_reason": why}))
    if review is not None and review > as_of:
        out.append(Reason("REVIEW_AFTER_AS_OF", "record.review_date", rw.say(
            "after_as_of", lang, who=who, what="reviewed on", what_zh=REVIEWED_ZH, day=review,
            as_of=as_of), {"review_date": review}, as_of))
    return out


#: The Chinese words of step 1's sentences that name the review and revocation fields.
REVOKED_GIVEN_ZH = "撤销日期（revoked_on）"
WHY_GIVEN_ZH = "撤销原因（revocation_reason）"
REVIEWED_ZH = "评议日期为"


# --- steps 2 to 5 as a plan ---------------------------------------------------------------

#: The plan's outputs besides one flag per star (``star0``, ``star1``, ...), in order.
TRACE_FIELDS = ("failed", "earned", "bar_end", "barred", "stars", "title", "next_review",
                "review_due", "barred_until", "codes", "stars_met", "revocation_say",
                "title_say", "review_say")


class Trace:
    """What the plan computed for one household (the outputs of :func:`civility_plan`):
    whether a criterion failed, stars earned, bar end, barred, stars counted, title index
    (-1: none), next review, review due, barred until, reason codes, stars met, and each
    star's flag (None where it failed) in ``met``."""

    __slots__ = (*TRACE_FIELDS, "met")

    def __init__(self, *values: Any) -> None:
        n = len(TRACE_FIELDS)
        for name, value in zip(TRACE_FIELDS, values[:n], strict=True):
            setattr(self, name, value)
        self.met = values[n:]

    failed: bool
    earned: int
    bar_end: dt.date | None
    barred: bool
    stars: int
    title: int
    next_review: dt.date | None
    review_due: bool
    barred_until: dt.date | None
    codes: list[str]
    stars_met: list[str]
    revocation_say: int | None
    title_say: int | None
    review_say: int
    met: tuple[bool | None, ...]


def _star_step(i: int) -> str:
    return f"star{i}"


def civility_plan(stars: Sequence[_Star], titles: Sequence[_Title], bar_years: int,
                  review_years: int) -> Plan:
    """Steps 2 to 5 of the module docstring as one plan over the household's facts,
    ``as_of``, ``review_date`` and ``revoked_on`` (nullable). ``titles`` are sorted by
    ``min_stars``. Its outputs are ``TRACE_FIELDS`` then one flag per star."""
    read: dict[str, Type] = {}
    for s in stars:
        for n in walk(s.when.node):
            if isinstance(n, Name) and n.name != "as_of":
                read.setdefault(n.name, n.type)
    inputs = (*(Input(name, t) for name, t in read.items()), Input("as_of", Type.DATE),
              Input("review_date", Type.DATE, nullable=True),
              Input("revoked_on", Type.DATE, nullable=True))
    flags = [Ref(_star_step(i)) for i in range(len(stars))]
    as_of, revoked, zero = Ref("as_of"), Ref("revoked_on"), Lit(0, Type.INT)
    steps = [
        # step 2: every criterion, in policy order; one that cannot be evaluated rejects
        *(Let(_star_step(i), Expr(s.when.node)) for i, s in enumerate(stars)),
        Let("failed", Failed(tuple(f.name for f in flags))),
        Let("earned", CountTrue(tuple(flags))),
        # step 3: revocation
        Let("bar_end", AddPeriod(revoked, years=bar_years)),
        Let("pending", Compare(">", revoked, as_of)),
        Let("in_force", Compare("<=", revoked, as_of)),
        Let("before_end", Compare("<", as_of, Ref("bar_end"))),
        Let("barred", All((Ref("in_force"), Ref("before_end")))),
        Let("bar_over", Not(Ref("before_end"))),
        Let("ended", All((Ref("in_force"), Ref("bar_over")))),
        Let("not_barred", Not(Ref("barred"))),
        Let("stars", IfElse(Ref("barred"), zero, Ref("earned"))),
        Let("barred_until", IfElse(Ref("barred"), Ref("bar_end"), Lit(None, Type.DATE))),
        # step 4: title (never while barred)
        Let("reached", Threshold(Ref("stars"), tuple(t.min_stars for t in titles))),
        Let("title", IfElse(Ref("barred"), Lit(-1, Type.INT), Ref("reached"))),
        Let("has_title", Compare(">=", Ref("title"), zero)),
        Let("no_title", Compare("<", Ref("reached"), zero)),
        Let("titled", All((Ref("not_barred"), Ref("has_title")))),
        Let("untitled", All((Ref("not_barred"), Ref("no_title")))),
        # step 5: review
        Let("next_review", AddPeriod(Ref("review_date"), years=review_years)),
        Let("review_due", Compare("<=", Ref("next_review"), as_of, if_null=True)),
        Let("review_valid", Not(Ref("review_due"))),
        Let("codes", Codes((
            (Ref("pending"), "REVOCATION_PENDING"), (Ref("barred"), "REVOKED"),
            (Ref("ended"), "REVOCATION_ENDED"),
            *(((Ref("titled"), "TITLE"), (Ref("untitled"), "NO_TITLE")) if titles else ()),
            (Ref("review_due"), "REVIEW_DUE"), (Ref("review_valid"), "REVIEW_VALID")))),
        Let("stars_met", Codes(tuple((f, s.id) for f, s in zip(flags, stars, strict=True)))),
        # which sentence words each of steps 3 to 5 (``words``): the revocation's
        # (pending, in force, ended; none without a revocation), the title's (one per star
        # count; none while barred), the review's (never reviewed, due, valid)
        Let("revocation_at", FirstTrue((Ref("pending"), Ref("barred"), Ref("ended")))),
        Let("revocation_say", Pick(Ref("revocation_at"), tuple(Lit(i, Type.INT)
                                                               for i in range(3)))),
        Let("title_say", IfElse(Ref("barred"), Lit(None, Type.INT), Ref("stars"))),
        Let("unreviewed", IsNull(Ref("next_review"))),
        Let("review_say", FirstTrue((Ref("unreviewed"), Ref("review_due")))),
    ]
    return Plan(inputs, tuple(steps), (*TRACE_FIELDS, *(f.name for f in flags)))


# --- compile ---------------------------------------------------------------------------


def compile_civility(ctx: CompileContext) -> CivilityScheme:
    """Check the [civility] section against the rest of the policy and compile it."""
    rules = ctx.section("civility", Civility)
    assert rules is not None
    root = ("civility",)
    entity = rules.entity
    declared = ctx.model.facts.get(entity)
    if declared is None:
        known = list(ctx.model.facts)
        ctx.report(root + ("entity",), (f"no facts are declared for entity {entity!r}",
                                        f"没有为对象 {entity!r} 声明事实"),
                   did_you_mean_both(entity, known, (
                       f"declare them under [facts.{entity}]", f"请在 [facts.{entity}] 中声明")
                       if not known else ("entities with facts: " + one_of(known),
                                          "已声明事实的对象："
                                          + one_of(known, words=("、", " 或 ")))))
    declared = declared or {}
    for name in declared:
        if name in RECORD_FIELDS:
            ctx.report(("facts", entity, name), (f"fact name {name!r} is a field of civility "
                                                 f"records",
                                                 f"事实名 {name!r} 是文明户记录自带的字段"),
                       ("rename the fact", "请给这个事实改名"), value=False)
    # care needs are refused by the scope (care.outside_care) and never read from records
    facts = {name: spec for name, spec in declared.items() if not spec.care_need}
    stars: list[_Star] = []
    seen: dict[str, int] = {}
    for i, s in enumerate(rules.stars):
        path: tuple[str | int, ...] = root + ("stars", i)
        if s.id in seen:
            ctx.report(path + ("id",), (f"star id {s.id!r} is used twice (first in star "
                                        f"{seen[s.id] + 1})",
                                        f"星级编号 {s.id!r} 用了两次（第一次在第 {seen[s.id] + 1} "
                                        f"颗星）"))
        else:
            seen[s.id] = i
        if ctx.model.facts.get(entity) is None:
            continue  # already reported: every name would be unknown
        scope = ctx.scope(entity, f"civility star {s.id!r}")
        expr = ctx.expression(path + ("when",), s.when, scope, Type.BOOL)
        if expr is not None:
            stars.append(_Star(s.id, s.label, s.label_en, expr))
            ctx.warn_never(path + ("when",), f"civility star {s.id!r}", f"文明星 {s.id!r} ",
                           expr, entity)
    titles: list[_Title] = []
    levels: dict[int, int] = {}
    count = len(rules.stars)
    for i, t in enumerate(rules.titles):
        path = root + ("titles", i, "min_stars")
        if t.min_stars in levels:
            ctx.report(path, (f"two titles start at {t.min_stars} stars (titles "
                              f"{levels[t.min_stars] + 1} and {i + 1})",
                              f"有两个称号都从 {t.min_stars} 颗星起（第 {levels[t.min_stars] + 1} "
                              f"和第 {i + 1} 个称号）"),
                       ("give each title its own min_stars", "请给每个称号不同的 min_stars"))
        else:
            levels[t.min_stars] = i
        if t.min_stars > count:
            title = _both(t.label, t.label_en, str(i + 1))
            ctx.report(path, (f"title {title!r} needs {t.min_stars} stars but there are only "
                              f"{count} stars; it can never be reached",
                              f"称号 {title!r} 需要 {t.min_stars} 颗星，但一共只有 {count} 颗星，"
                              f"永远达不到"),
                       (f"use a min_stars from 0 to {count}",
                        f"请把 min_stars 设在 0 到 {count} 之间"))
        titles.append(_Title(t.min_stars, t.label, t.label_en))
    return CivilityScheme(ctx.model, rules, ctx.ref, stars, titles, facts, ctx.functions)
