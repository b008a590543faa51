"""Several scorecards in one policy, and a quota per cohort.

``[[appraisal.scorecard]]`` tables each appraise the subjects their ``applies_to``
holds for (a checked condition over the subject's facts, ``kind == "project"``),
with their own indicators, groups, grades, vetoes and quota; ``[appraisal.quota]
cohort_by = ["street"]`` applies a quota within each street separately. Both are
one thing: the run's subjects are split into *cohorts* (a scorecard, and the values
of its ``cohort_by``), and each cohort is appraised exactly as a policy of one
scorecard appraises a whole run (``AppraisalScheme``: its plan, its quota op). So
nothing of a scorecard's meaning is written here, only which cohort a subject is in:

* **Route.** Every scorecard's ``applies_to`` is evaluated over the facts it reads
  (coerced as its ``[facts.<entity>]`` declares them; a value that cannot be read, or a
  condition that cannot be computed, does not apply). A subject none applies to goes
  to ``[appraisal]``'s own scorecard when it has one (its indicators and grades
  written beside the ``[[appraisal.scorecard]]`` tables), else it is rejected
  ``NO_SCORECARD``; one two apply to is rejected ``SCORECARD_AMBIGUOUS`` (two
  scorecards with the same condition are refused when the policy is checked). Each
  names the record and the fields the conditions read, in the reasons' language.
  A scorecard may name its own ``entity`` (``[facts.project]``): its subjects are
  checked for those facts, so each kind of subject carries its own.
* **Cohort.** A subject whose scorecard's quota has ``cohort_by`` and that lacks a
  value of one of those facts (and the fact has no default) is rejected
  ``COHORT_MISSING`` (besides whatever else its scorecard finds).
* **Decide.** Each subject is decided by its scorecard (``decide_one``), duplicate
  ids found over the whole input, and each cohort's quota is its scorecard's quota
  over that cohort's decisions. A decision names its scorecard (``scorecard``, and
  its labels; ``explain`` says which applied).

The batch engine (``cards_batch``) routes with the same function, decides each
cohort with the scorecard's own batch engine and decides the few rows the router
rejects (or that are duplicates, or lack a cohort value) with the per-record path,
so both engines give the same rows.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

from ... import record_words as rw
from ...errors import RecordError
from ...expr import Expression, Type
from ...messages import reasons_language
from ...policy.compile import CompileContext, ensure_in_effect
from ...policy.model import Appraisal, PolicyModel
from ...records import coerce_fact, is_missing, to_id, unreadable_reason
from ...results import PolicyRef, Reason
from ..base import BatchEngine
from .scheme import (
    REJECTED,
    AppraisalDecision,
    AppraisalPresenter,
    AppraisalResult,
    AppraisalScheme,
    QuotaOutcome,
    _check_cohort_by,
    _compile_card,
)


@dataclass(frozen=True, slots=True)
class Route:
    """Where one record goes: its scorecard (an index; None: rejected with ``reason``),
    its cohort (the values of ``cohort_by``), a reason it is rejected for besides its
    scorecard's (``COHORT_MISSING``), whether its cohort could not be read (a value
    missing or refused), and whether it repeats the id of an earlier routed row
    (``first``: that row)."""

    card: int | None
    key: tuple[Any, ...] = ()
    reason: Reason | None = None
    unplaced: bool = False
    first: int | None = None

    @property
    def alone(self) -> bool:
        """Decided on its own by the per-record path in batch: rejected by the router,
        without a readable cohort, or a duplicate."""
        return self.card is None or self.unplaced or self.first is not None


class Scorecards(BatchEngine):
    """The compiled [appraisal] section of a policy with several scorecards, or with a
    quota per cohort (``cohort_by``): the subjects of a run split into cohorts, each
    appraised by its scorecard (see the module docstring)."""

    batch_engine = "civicscore.schemes.appraisal.cards_batch:score_scorecards"
    presenter_type = AppraisalPresenter
    extra_inputs: tuple[str, ...] = ()
    #: one quota note per run does not say what several cohorts' quotas did: none
    quota = None

    def __init__(self, model: PolicyModel, ref: PolicyRef, cards: Sequence[AppraisalScheme],
                 applies: Sequence[Expression | None], rules: Appraisal) -> None:
        self.model = model
        self.ref = ref
        #: the [appraisal] section (``entity``: the entity of its own scorecard)
        self.rules = rules
        self.cards = tuple(cards)
        self.applies = tuple(applies)
        #: several ``[[appraisal.scorecard]]`` (decisions name theirs), or the one of
        #: ``[appraisal]`` with a quota per cohort
        self.several = any(c.card is not None for c in self.cards)
        #: [appraisal]'s own scorecard, for the subjects no other applies to (or None)
        self.default = next((k for k, e in enumerate(self.applies) if e is None), None)

    def scorecard(self, card_id: str) -> AppraisalScheme:
        """The scorecard of that id."""
        for c in self.cards:
            if c.card_id == card_id:
                return c
        raise KeyError(card_id)

    @property
    def grades(self) -> tuple[Any, ...]:
        """Every scorecard's grades."""
        return tuple(g for c in self.cards for g in c.grades)

    def rule_ids(self) -> set[str]:
        """Every scorecard's indicators, vetoes and grades."""
        return set().union(*(c.rule_ids() for c in self.cards))

    # -- routing ---------------------------------------------------------------------
    def _lang(self) -> str:
        return reasons_language(self.model.policy.locale)

    def _cohort_by(self, c: AppraisalScheme) -> tuple[str, ...]:
        q = c.quota
        return tuple(q.cohort_by) if q is not None else ()

    def routes(self, pairs: Iterable[tuple[int, Any]]) -> list[Route]:
        """Each (row, record)'s :class:`Route`, in order (the duplicates found over all)."""
        first: dict[str, int] = {}
        out: list[Route] = []
        for row, record in pairs:
            if unreadable_reason(row, record) is not None:
                out.append(Route(0))  # its scorecard rejects it, as any policy does
                continue
            route = self._route(row, record)
            sid = _sid(row, record)
            if route.card is not None and sid is not None:
                if sid in first:
                    route = replace(route, first=first[sid])
                else:
                    first[sid] = row
            out.append(route)
        return out

    def _route(self, row: int, record: Mapping[str, Any]) -> Route:
        sid = _sid(row, record)
        label = sid or f"row {row}"
        hits = [k for k in range(len(self.cards)) if self._applies(k, record, label)]
        if not hits and self.default is not None:
            hits = [self.default]
        if len(hits) != 1:
            lang = self._lang()
            fields = sorted({n for e in self.applies if e is not None for n in e.reads})
            reads = {n: record.get(n) for n in fields}
            who = rw.who(label, lang)
            if not hits:
                tests = "; ".join(f"{c.card_id}: {e.text}"
                                  for c, e in zip(self.cards, self.applies, strict=True)
                                  if e is not None)
                text = rw.say("no_scorecard", lang, who=who, fields=", ".join(fields),
                              tests=tests)
                return Route(None, reason=Reason("NO_SCORECARD", "appraisal.scorecard",
                                                 text, reads))
            cards = ", ".join(self.cards[k].card_id for k in hits)
            text = rw.say("two_scorecards", lang, who=who, cards=cards,
                          fields=", ".join(fields))
            return Route(None, reason=Reason("SCORECARD_AMBIGUOUS", "appraisal.scorecard",
                                             text, reads))
        k = hits[0]
        c = self.cards[k]
        key: list[Any] = []
        unplaced = False
        reason = None
        for name in self._cohort_by(c):
            spec = c.facts[name]
            if is_missing(record.get(name)) and spec.default is None:
                unplaced = True
                if reason is None:
                    text = rw.say("cohort_missing", self._lang(), who=rw.who(label, self._lang()),
                                  field=name, card=c.card_id)
                    reason = Reason("COHORT_MISSING", f"facts.{c.entity}.{name}", text,
                                    {name: record.get(name)})
                key.append(None)
                continue
            try:
                key.append(coerce_fact(name, spec, record, label))
            except RecordError:
                unplaced = True  # its scorecard rejects the value
                key.append(None)
        return Route(k, tuple(key), reason, unplaced)

    def _applies(self, k: int, record: Mapping[str, Any], label: str) -> bool:
        expr = self.applies[k]
        if expr is None:
            return False
        c = self.cards[k]
        env: dict[str, Any] = {}
        for name in expr.reads:
            spec = c.facts.get(name)
            if spec is None:
                return False
            try:
                env[name] = coerce_fact(name, spec, record, label)
            except RecordError:
                return False
        try:
            return expr(env) is True
        except (ArithmeticError, ValueError, TypeError):
            return False

    # -- deciding --------------------------------------------------------------------
    def _stamp(self, d: AppraisalDecision, c: AppraisalScheme | None) -> AppraisalDecision:
        if not self.several:
            return d
        if c is None:
            return replace(d, scorecard="")
        return replace(d, scorecard=c.card_id, scorecard_label=c.card_label,
                       scorecard_label_en=c.card_label_en, rule_root=c.rule_root)

    def decide_routed(self, row: int, record: Any, route: Route, as_of: dt.date,
                      seen: dict[str, int]) -> AppraisalDecision:
        """One record's decision before its cohort's quota (``seen``: the ids of earlier
        rows, with their rows)."""
        if route.card is None:
            assert route.reason is not None
            sid = _sid(row, record) or f"row {row}"
            d = AppraisalDecision(sid, REJECTED, None, "", "", "", "", (), False, (),
                                  (route.reason,), self.ref, as_of, row,
                                  lang=self._lang())
            return self._stamp(d, None)
        c = self.cards[route.card]
        d = c.decide_one(row, record, as_of, seen)
        if route.reason is not None:
            kept = d.reasons if d.rejected else ()
            d = c._reject(row, d.subject_id, (*kept, route.reason), as_of)
        return self._stamp(d, c)

    def decide(self, subject: Mapping[str, Any], *, as_of: dt.date) -> AppraisalDecision:
        """One subject on its own, by the scorecard that applies to it (no quota)."""
        ensure_in_effect(self.model, self.ref, as_of)
        route = self.routes([(1, subject)])[0]
        if route.card is None or route.reason is not None:
            return self.decide_routed(1, subject, route, as_of, {})
        return self._stamp(self.cards[route.card].decide(subject, as_of=as_of),
                           self.cards[route.card])

    def decide_many(self, subjects: Iterable[Any], *, as_of: dt.date) -> AppraisalResult:
        """Score a run: every subject by its scorecard, then each cohort's quota."""
        ensure_in_effect(self.model, self.ref, as_of)
        pairs = list(enumerate(subjects, start=1))
        routes = self.routes(pairs)
        seen: dict[str, int] = {}
        decisions = [self.decide_routed(row, record, route, as_of, seen)
                     for (row, record), route in zip(pairs, routes, strict=True)]
        cohorts: dict[tuple[int, tuple[Any, ...]], list[int]] = {}
        for i, route in enumerate(routes):
            if route.card is not None and not route.unplaced \
                    and self.cards[route.card].quota is not None:
                cohorts.setdefault((route.card, route.key), []).append(i)
        outcomes: list[QuotaOutcome] = []
        for (k, key), members in cohorts.items():
            c = self.cards[k]
            out, outcome = c._apply_quota([decisions[i] for i in members])
            for i, d in zip(members, out, strict=True):
                decisions[i] = d
            if not outcome.cohort:  # only rejected rows (an unreadable one): no cohort
                continue
            outcomes.append(replace(outcome, scorecard=c.card_id if self.several else None,
                                    cohort_key=key))
        return AppraisalResult(as_of, self.ref, tuple(decisions),
                               outcomes[0] if len(outcomes) == 1 else None, self,
                               tuple(outcomes))

    evaluate = decide
    evaluate_many = decide_many

    def run(self, records: Iterable[Any], *, as_of: dt.date,
            **extra: Iterable[Any]) -> AppraisalResult:
        return self.decide_many(records, as_of=as_of)

    def explain_record(self, record: Mapping[str, Any], *, as_of: dt.date) -> str:
        return self.decide(record, as_of=as_of).explain()


def _sid(row: int, record: Any) -> str | None:
    """The record's subject id as ``_decide`` reads it, or None (missing or refused)."""
    if not isinstance(record, Mapping):
        return None
    raw = record.get("subject_id")
    if is_missing(raw):
        return None
    try:
        return to_id(raw, f"row {row}", "subject_id")
    except RecordError:
        return None


# --- compile ----------------------------------------------------------------------------


def compile_appraisal(ctx: CompileContext) -> AppraisalScheme | Scorecards:
    """Check the [appraisal] section against the rest of the policy and compile it: one
    scorecard (``AppraisalScheme``), or several, or one with a quota per cohort
    (``cards.Scorecards``, which splits a run into the cohorts each scorecard appraises)."""
    rules = ctx.section("appraisal", Appraisal)
    assert rules is not None
    cards: list[AppraisalScheme] = []
    applies: list[Expression | None] = []
    if rules.has_own:
        own = _compile_card(ctx, rules, ("appraisal",), rules.entity)
        _check_cohort_by(ctx, own, ("appraisal",))
        if not rules.scorecard and (rules.quota is None or not rules.quota.cohort_by):
            return own
        cards.append(own)
        applies.append(None)
    seen: dict[str, int] = {}
    texts: dict[str, str] = {}
    for k, card in enumerate(rules.scorecard):
        root: tuple[str | int, ...] = ("appraisal", "scorecard", k)
        if card.id in seen or (rules.has_own and card.id == rules.id):
            first = (f"scorecard {seen[card.id] + 1}" if card.id in seen
                     else "[appraisal] itself")
            ctx.report(root + ("id",), (f"scorecard id {card.id!r} is used twice (first in "
                                        f"{first})", f"考核表编号 {card.id!r} 用了两次"
                                                     f"（第一次在 {first}）"))
        seen.setdefault(card.id, k)
        entity = card.entity or rules.entity
        compiled = _compile_card(ctx, card, root, entity, f"appraisal.scorecard.{card.id}",
                                 card)
        _check_cohort_by(ctx, compiled, root)
        expr = ctx.expression(root + ("applies_to",), card.applies_to,
                              ctx.scope(entity, f"scorecard {card.id!r}"), Type.BOOL)
        if expr is None:
            continue
        said = f"{entity}: {expr.text}"
        if said in texts:
            ctx.report(root + ("applies_to",), (
                f"scorecard {card.id!r} applies to the same subjects as scorecard "
                f"{texts[said]!r} ({expr.text}): every one of them would be rejected "
                f"SCORECARD_AMBIGUOUS",
                f"考核表 {card.id!r} 与考核表 {texts[said]!r} 适用于同样的对象（{expr.text}）："
                f"这些对象都会因 SCORECARD_AMBIGUOUS 被拒收"),
                       ("give each scorecard a condition of its own",
                        "请给每张考核表不同的适用条件"))
        texts.setdefault(said, card.id)
        cards.append(compiled)
        applies.append(expr)
    return Scorecards(ctx.model, ctx.ref, cards, applies, rules)
