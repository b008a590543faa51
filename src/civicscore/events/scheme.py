"""The ``[events]`` scheme: checking the section, and running a log on either engine.

Registered like the four scoring schemes (its ``SchemeSpec`` is in
``civicscore.schemes``, with theirs), so the loader, ``extends`` and overrides, located errors,
the checks on fact names and ``[[case]]`` tables work for it unchanged. Its
two engines are the ones the framework already compares: ``run`` is the
online engine (durable-rules behind :mod:`.durable`'s adapter, one event
posted at a time) and ``batch`` the polars reference (:mod:`.reference`),
so ``civicscore.testing.assert_evaluators_agree`` checks them like any
scheme's two engines.

Its records are events; its output rows are actions (``rule``,
``subject_id``, ``action``, ``effect``, ``at``, ``due``, the causing
``events`` and the explanation in both languages); its rejected rows are
the events it refused, each with the event and field named. Every row is
accounted for: ``rows_in == accepted + rejected``.
"""

from __future__ import annotations

import datetime as dt
import importlib
import re
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .._suggest import did_you_mean, did_you_mean_both
from ..policy import problem_words as pw
from ..policy.compile import CompileContext
from ..policy.model import FactSpec
from ..policy.protected import protected_reason
from .core import (
    EVENT_FIELDS,
    EventPolicy,
    EventsPresenter,
    EventsRun,
    Rule,
    Span,
    action_order,
    placeholder_problem,
)
from .model import EventRule, Events

if TYPE_CHECKING:  # civicscore.schemes registers this module: no import back at run time
    from ..schemes.base import LoggedRow

_ID = re.compile(r"^[A-Za-z][A-Za-z0-9_\-]*$")
ENGINES = ("durable", "reference")

#: Which keys each form takes besides id, form, on, action, effect and the wording.
_FORM_KEYS: dict[str, tuple[str, ...]] = {
    "within": ("expect", "window", "missed_action", "missed_effect", "missed_explain",
               "missed_explain_en"),
    "streak": ("count", "reset_by"),
    "inactive": ("period",),
    "period": ("period",),
}
_REQUIRED: dict[str, tuple[str, ...]] = {
    "within": ("expect", "window"), "streak": ("count",), "inactive": ("period",),
    "period": ("period",),
}
_OPTIONAL_KEYS = ("expect", "window", "count", "reset_by", "period", "missed_action",
                  "missed_explain", "missed_explain_en")


def _rows(source: Any) -> list[Any]:
    """A log as rows: a path (CSV, JSON Lines, JSON, Parquet), a frame, or rows."""
    if isinstance(source, str | Path):
        from ..io import read_records

        return list(read_records(source))
    if hasattr(source, "to_dicts"):
        return list(source.to_dicts())
    return list(source)


class EventsScheme:
    """The compiled ``[events]`` section: ``run`` / ``batch`` a log, or open a ``session``."""

    extra_inputs: tuple[str, ...] = ()
    presenter_type = EventsPresenter

    def __init__(self, policy: EventPolicy) -> None:
        self.policy = policy

    @property
    def rules(self) -> tuple[Rule, ...]:
        return self.policy.rules

    def rule_ids(self) -> set[str]:
        """Every event rule as ``events.rules.<id>``: what ``civicscore test`` counts for
        coverage, as a result's ``fired_rules`` names the rules that gave an action."""
        return {f"events.rules.{r.id}" for r in self.rules}

    def evaluate(self, log: Any, *, until: dt.date | dt.datetime,
                 engine: str = "durable") -> EventsRun:
        """Every action the rules give on ``log`` up to ``until`` (a date means the end of
        that day), on ``engine`` (``durable`` or ``reference``: the same actions)."""
        if engine not in ENGINES:
            from ..errors import UsageError

            raise UsageError(f"unknown events engine {engine!r}"
                             + (f" ({hint})" if (hint := did_you_mean(engine, ENGINES))
                                else f"; use one of {', '.join(ENGINES)}"))
        module = importlib.import_module(f"civicscore.events.{engine}")
        result: EventsRun = module.evaluate(self.policy, _rows(log), until=until)
        result.actions.sort(key=action_order)
        return result

    #: ``policy.events.run(log, until=...)``
    def run(self, records: Iterable[Any] | None = None, *, until: Any = None,
            as_of: dt.date | None = None, engine: str = "durable",
            **extra: Any) -> EventsRun:
        """The scheme protocol's ``run(records, as_of=...)`` (the online engine) and the
        events API's ``run(log, until=..., engine=...)``, in one."""
        end = until if until is not None else as_of
        if end is None:
            from ..errors import UsageError

            raise UsageError("give the end of the run: run(log, until=DATE)")
        return self.evaluate(records if records is not None else [], until=end,
                             engine=engine)

    def batch(self, source: Any, *, as_of: dt.date, **extra: Any) -> EventsRun:
        """The reference engine (polars, a whole log at once)."""
        return self.evaluate(source, until=as_of, engine="reference")

    def session(self, *, until: dt.date | dt.datetime | None = None) -> Any:
        """An online session on durable-rules: ``post(event)`` returns the actions it
        releases; ``close()`` the rest (up to ``until``, if given)."""
        from .durable import DurableSession

        return DurableSession(self.policy, until=until)

    def explain_record(self, record: Mapping[str, Any], *, as_of: dt.date) -> str:
        result = self.evaluate([record], until=as_of, engine="durable")
        if result.rejected:
            return "rejected: " + "; ".join(result.rejected[0]["reasons"])
        if not result.actions:
            return f"event {record.get('event_id')}: no rule gives an action by {as_of}"
        return "\n".join(f"{a['action']} ({a['rule']}): {a['explanation_en']}"
                         for a in result.actions)


# --- checking the section ----------------------------------------------------------------


def _check_types(ctx: CompileContext, section: Events) -> dict[str, dict[str, FactSpec]]:
    declared = ctx.model.facts.get(section.entity, {})
    types: dict[str, dict[str, FactSpec]] = {}
    for name, spec in section.types.items():
        path = ("events", "types", name)
        if not _ID.match(name):
            ctx.report(path, (f"event type {name!r} is not a valid identifier",
                              f"事件类型 {name!r} 不是有效的标识符"),
                       ("use a letter, then letters, digits, '_' or '-'",
                        "以英文字母开头，后面只用字母、数字、“_”或“-”"), value=False)
            continue
        why = protected_reason(name, spec.label, spec.label_en, spec.description)
        if why:
            ctx.report(path, (f"event type {name!r} denotes a protected characteristic "
                              f"({why})",
                              f"事件类型 {name!r} 属于受保护的个人特征（{pw.why_zh(why)}）"),
                       value=False)
        fields: dict[str, FactSpec] = {}
        for i, f in enumerate(spec.fields):
            where = (*path, "fields", i)
            if f in EVENT_FIELDS:
                ctx.report(where, (f"{f!r} is a column every event has; list only declared "
                                   f"fields here",
                                   f"{f!r} 是每个事件都有的列；这里只列已声明的字段"),
                           ("remove it", "请删去它"))
            elif f not in declared:
                ctx.report(where, (f"event type {name!r} carries {f!r}, which "
                                   f"[facts.{section.entity}] does not declare",
                                   f"事件类型 {name!r} 带有 {f!r}，但 [facts.{section.entity}] "
                                   f"中没有声明它"),
                           did_you_mean_both(f, declared, (
                               f"declare it: [facts.{section.entity}] {f} = {{ type = \"...\" }}",
                               f"请声明：[facts.{section.entity}] {f} = {{ type = \"...\" }}")))
            elif declared[f].care_need:
                ctx.report(where, (f"{f!r} is a care-need fact; only visit tiers may read "
                                   f"care needs, not event rules",
                                   f"{f!r} 是照护需求事实；只有探访分级能读取照护需求，"
                                   f"事件规则不能"))
            else:
                fields[f] = declared[f]
        types[name] = fields
    return types


def _type_ref(ctx: CompileContext, path: tuple[Any, ...], name: str | None,
              types: Mapping[str, Any], section: Events) -> None:
    if name is not None and name not in section.types:
        ctx.report(path, (f"{name!r} is not an event type of [events.types]",
                          f"{name!r} 不是 [events.types] 中的事件类型"),
                   did_you_mean_both(name, section.types, (f"declare it: [events.types.{name}]",
                                                           f"请声明：[events.types.{name}]")))


def _check_rule(ctx: CompileContext, i: int, r: EventRule, section: Events,
                types: Mapping[str, Any]) -> Rule | None:
    path: tuple[Any, ...] = ("events", "rules", i)
    before = len(ctx.problems)
    _type_ref(ctx, (*path, "on"), r.on, types, section)
    _type_ref(ctx, (*path, "expect"), r.expect, types, section)
    for j, name in enumerate(r.reset_by):
        _type_ref(ctx, (*path, "reset_by", j), name, types, section)
    allowed = _FORM_KEYS[r.form]
    for key in _OPTIONAL_KEYS:
        value = getattr(r, key)
        if key not in allowed and value not in (None, []):
            ctx.report((*path, key), (f"{key!r} does not apply to a {r.form!r} rule",
                                      f"{key!r} 不适用于 {r.form!r} 类规则"),
                       (f"a {r.form} rule takes: {', '.join(allowed)}",
                        f"{r.form} 类规则可写：{'、'.join(allowed)}"), value=False)
    for key in _REQUIRED[r.form]:
        if getattr(r, key) is None:
            ctx.report(path, (f"rule {r.id!r} ({r.form}) needs {key!r}",
                              f"规则 {r.id!r}（{r.form}）需要写 {key!r}"), value=False)
    for key in ("window", "period"):
        text = getattr(r, key)
        if text is not None and Span.parse(text).is_zero:
            ctx.report((*path, key), (f"{key} {text!r} is no time at all",
                                      f"{key} {text!r} 的时长为零"),
                       ("give an amount, e.g. PT24H or P180D",
                        "请写一个时长，如 PT24H（24 小时）或 P180D（180 天）"))
    if r.form == "within" and r.expect is not None and r.expect == r.on:
        ctx.report((*path, "expect"), ("a rule cannot wait for the event that opened it",
                                       "规则不能等待开启它的同一个事件"),
                   ("name another event type", "请写另一个事件类型"))
    if r.form == "streak" and r.on in r.reset_by:
        ctx.report((*path, "reset_by"), (f"{r.on!r} cannot both count and break the streak",
                                         f"{r.on!r} 不能既计入连续次数又打断连续"))
    if r.form == "inactive" and r.effect != "notice":
        ctx.report((*path, "effect"), ("inactivity may only give a notice, never a penalty "
                                       "or a task against the person",
                                       "长时间没有活动只能给出提醒，不能处罚，也不能布置针对此人的任务"),
                   ('set effect = "notice" (a gentle reminder)',
                    '请设 effect = "notice"（温和的提醒）'))
    if r.missed_action is not None:
        for key in ("missed_explain", "missed_explain_en"):
            if getattr(r, key) is None:
                ctx.report(path, (f"rule {r.id!r} names a missed_action, so it needs "
                                  f"{key!r} too",
                                  f"规则 {r.id!r} 写了 missed_action，所以也需要 {key!r}"),
                           value=False)
    for key in ("explain", "explain_en", "missed_explain", "missed_explain_en"):
        text = getattr(r, key)
        if text is not None and (problem := placeholder_problem(text)):
            ctx.report((*path, key), problem)
    why = protected_reason(r.label, r.label_en, r.description, r.action, r.missed_action,
                           r.explain_en, r.missed_explain_en)
    if why:
        ctx.report(path, (f"rule {r.id!r} names a protected characteristic ({why})",
                          f"规则 {r.id!r} 提到了受保护的个人特征（{pw.why_zh(why)}）"),
                   ("rules over events act on what people did, not on who they are",
                    "事件规则针对人们做了什么，而不是他们是谁"), value=False)
    when = None
    if r.when is not None and r.on in types:
        carried = types[r.on]
        others = {name: f"events of type {r.on!r} do not carry it (their fields: "
                        f"{', '.join(carried) or 'none'})"
                  for name in ctx.model.facts.get(section.entity, {}) if name not in carried}
        when = ctx.expression((*path, "when"), r.when,
                              ctx.scope(section.entity, f"event rule {r.id!r}",
                                        forbidden=others))
    if len(ctx.problems) > before:
        return None
    return Rule(
        id=r.id, form=r.form, on=r.on, action=r.action, effect=r.effect, explain=r.explain,
        explain_en=r.explain_en, expect=r.expect,
        window=Span.parse(r.window) if r.window else None, count=r.count or 0,
        reset_by=tuple(r.reset_by), period=Span.parse(r.period) if r.period else None,
        missed_action=r.missed_action, missed_effect=r.missed_effect,
        missed_explain=r.missed_explain or "", missed_explain_en=r.missed_explain_en or "",
        when=when)


def compile_events(ctx: CompileContext) -> EventsScheme | None:
    """Check ``[events]`` (types, fields, rule shapes, wording) and compile it."""
    section = ctx.section("events", Events)
    if section is None:
        return None
    types = _check_types(ctx, section)
    rules: list[Rule] = []
    seen: dict[str, int] = {}
    for i, r in enumerate(section.rules):
        if r.id in seen:
            ctx.report(("events", "rules", i, "id"), (f"rule id {r.id!r} is used twice",
                                                      f"规则编号 {r.id!r} 用了两次"),
                       ("give each rule its own id", "请给每条规则不同的编号"))
            continue
        seen[r.id] = i
        compiled = _check_rule(ctx, i, r, section, types)
        if compiled is not None:
            rules.append(compiled)
    return EventsScheme(EventPolicy(section.entity, types, tuple(rules),
                                    Span.parse(section.max_lateness), ctx.ref))


def log_actions(run: Any) -> Iterator[LoggedRow]:
    """The decision log keeps every event row (taken or rejected, with its input, so that
    ``civicscore replay`` can run the log again) and one entry per action, keyed by rule,
    subject, action and time."""
    rejected = {r["row"]: r for r in run.rejected_rows()}
    for row in range(1, run.rows_in + 1):
        bad = rejected.get(row)
        yield "record", str(row), row, {
            "row": row, "status": "rejected" if bad else "taken",
            "reason_codes": list(bad["reason_codes"]) if bad else []}
    for a in run.output_rows():
        key = f"{a['rule']}:{a['subject_id']}:{a['action']}:{a['at']}:{','.join(a['events'])}"
        yield "action", key, None, a
