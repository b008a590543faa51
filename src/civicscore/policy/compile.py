"""Validated policy data -> a ready-to-evaluate :class:`Policy`.

Checks that need the whole policy live here: facts that denote protected
characteristics, fact declarations that contradict themselves, the holiday
calendar, and compiling every scheme's expressions against the declared facts
(each scheme compiles its own section through :class:`CompileContext`). All
problems are collected and raised together, with their positions.
"""

from __future__ import annotations

import datetime as dt
import importlib
import keyword
import re
import warnings
from collections import ChainMap
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from pydantic import BaseModel

from .._bilingual import as_pair
from .._suggest import did_you_mean, did_you_mean_both
from ..errors import ExpressionError, PolicyError, Problem, UsageError
from ..expr import Expression, Fact, FunctionTable, Scope, Type, builtin_functions
from ..expr import compile_expression as _compile_expression
from ..expr.functions import CALENDAR_FUNCTION_NAMES
from ..provenance import PluginCode
from ..results import PolicyRef
from . import problem_words as pw
from .calendar import HolidayCalendar, subdivisions, supported_countries
from .care import care_refusals, concept_problem, suggest_concept
from .load import (
    KeyPath,
    Layers,
    Loaded,
    Resolver,
    SourceFile,
    load_source,
    policy_hash,
    read_limited,
    read_source,
)
from .model import FactSpec, PolicyModel
from .protected import control_reason, health_reason, protected_in, protected_reason
from .reads import note_probe

if TYPE_CHECKING:  # the schemes import this module: only type checkers follow these
    from ..events.scheme import EventsScheme
    from ..schemes.appraisal.cards import Scorecards
    from ..schemes.appraisal.scheme import AppraisalScheme
    from ..schemes.base import SchemeSpec
    from ..schemes.civility.scheme import CivilityScheme
    from ..schemes.visits.scheme import VisitsScheme
    from ..schemes.volunteer.scheme import VolunteerScheme

SectionT = TypeVar("SectionT", bound=BaseModel)

PORTABLE = "civicscore.policy.portable"
"""How a policy pickles and is rebuilt on a worker (imported when a policy is pickled)."""

FACT_TYPES: dict[str, Type] = {
    "bool": Type.BOOL, "int": Type.INT, "decimal": Type.DECIMAL,
    "string": Type.STRING, "enum": Type.STRING, "date": Type.DATE,
}


class PolicyWarning(UserWarning):
    """A policy loads but something deserves attention (e.g. past its review date)."""


@dataclass
class CompileContext:
    """What a scheme needs to compile its section, and where to report problems."""

    model: PolicyModel
    layers: Layers
    functions: FunctionTable
    calendar: HolidayCalendar
    ref: PolicyRef
    problems: list[Problem] = field(default_factory=list)
    notes: list[Problem] = field(default_factory=list)
    _facts: dict[str, dict[str, Fact]] = field(default_factory=dict)
    _care: dict[str, dict[str, str | tuple[str, str]]] = field(default_factory=dict)  # refusals

    def report(self, path: KeyPath, message: str | tuple[str, str],
               hint: str | tuple[str, str] = "", *, value: bool = True) -> None:
        """A mistake: the policy will be refused, with this located message. The message
        and the hint are English, or each (English, Chinese) from :mod:`.problem_words`."""
        self.problems.append(self.layers.problem(path, message, hint, value=value))

    def warn(self, path: KeyPath, message: str | tuple[str, str],
             hint: str | tuple[str, str] = "", *, value: bool = False,
             zh: tuple[str, str] = ("", "")) -> None:
        """Worth an officer's attention, but the policy still loads (e.g. a shadowed tier);
        the message and hint as :meth:`report` takes them, or ``zh`` the two in Chinese."""
        if zh != ("", ""):
            message, hint = (as_pair(message)[0], zh[0]), (as_pair(hint)[0], zh[1])
        self.notes.append(self.layers.problem(path, message, hint, value=value,
                                              severity="warning"))

    def warn_never(self, path: KeyPath, what: str, what_zh: str, expr: Any,
                   entity: str, extra: Mapping[str, Type] | None = None) -> None:
        """Warn when a rule's condition ``expr`` can hold for no record (``x > 5 and x <
        2``, ``remote and not remote``): the rule can never apply. Only conditions made of
        comparisons of a fact with a constant are analysed (``expr.analysis``, as for
        visit tiers); anything else says nothing. ``what`` names the rule (``civility star
        'clean'``); ``extra`` gives the types of names a scheme adds to its facts."""
        from ..expr.analysis import analyse_region, domain_of

        facts = self.model.facts.get(entity, {})
        added = {"as_of": Type.DATE, **(extra or {})}
        kinds: dict[str, tuple[Type, Any]] = {}  # only the names it reads: linear in rules
        for name in expr.reads:
            if name in facts:
                kinds[name] = (FACT_TYPES[facts[name].type], facts[name])
            elif name in added:
                kinds[name] = (added[name], None)
        region = analyse_region(expr.node, kinds, {n: domain_of(n, kinds) for n in kinds})
        if region == []:
            self.warn(path, f"{what} can never apply: its condition {expr.text!r} holds for "
                            f"no record", "fix the condition, or remove the rule", value=True,
                      zh=(f"{what_zh}永远不会生效：它的条件 {expr.text!r} 对任何记录都不成立",
                          "修改条件，或删除这条规则"))

    def section(self, name: str, model: type[SectionT]) -> SectionT | None:
        """The policy's ``[name]`` table as its scheme's model, or None if the policy has none.

        Scheme sections are added to the policy format when it is built (one per installed
        scheme, ``plugins.policy_model``), so ``PolicyModel`` itself cannot name them: this
        is the typed way for a scheme's compiler to read its own section."""
        value = getattr(self.model, name, None)
        if value is not None and not isinstance(value, model):
            raise TypeError(f"[{name}] was validated as {type(value).__name__}, "
                            f"not {model.__name__}")
        return value

    def facts(self, entity: str) -> dict[str, Fact]:
        """The typed names of an entity (built once per entity: policies have many rules)."""
        if entity not in self._facts:
            specs = self.model.facts.get(entity, {})
            self._facts[entity] = {name: Fact(FACT_TYPES[s.type], tuple(s.values or ()))
                                   for name, s in specs.items()}
        return dict(self._facts[entity])

    def scope(self, entity: str, where: str, extra: Mapping[str, Fact] | None = None,
              forbidden: Mapping[str, str | tuple[str, str]] | None = None) -> Scope:
        """The names a rule of ``entity`` may read, called ``where`` in messages.

        Care-need facts are refused here, for every scheme that compiles through this
        scope (civility, volunteer, appraisal, events, a plugin's): care is given by
        need in visit tiers, which build their own scope of declared concepts, and is
        never earned or lost through points, stars or grades (``care.outside_care``)."""
        self.facts(entity)  # builds the cache
        if entity not in self._care:
            self._care[entity] = dict(care_refusals(self.model.facts.get(entity, {})))
        # A view, not a copy: a policy with thousands of facts and rules stays linear.
        names = ChainMap(dict(extra or {}), {"as_of": Fact(Type.DATE)}, self._facts[entity])
        refusals = ChainMap(self._care[entity], dict(forbidden or {}))
        return Scope(names, self.functions, where, refusals)

    def expression(self, path: KeyPath, text: str, scope: Scope,
                   expect: Type | None = Type.BOOL) -> Expression | None:
        """Compile one expression; on failure report it at its column and return None."""
        try:
            return _compile_expression(text, scope, expect)
        except ExpressionError as e:
            self.problems.append(self.layers.problem(path, (e.message, e.message_zh),
                                                     (e.hint, e.hint_zh), offset=e.offset))
            return None


SchemeCompiler = Callable[[CompileContext], Any]


@dataclass(frozen=True)
class Environment:
    """What installed plugins provide to loading (built by ``civicscore.plugins``).

    Kept as plain callables and mappings so the loader does not depend on
    pluggy: named policies (``resolver``), the function table for a calendar,
    named calendars and the registered schemes (name -> ``SchemeSpec``).
    """

    schemes: Mapping[str, SchemeSpec]
    resolver: Resolver | None = None
    functions: Callable[[Callable[[dt.date], bool]], FunctionTable] = builtin_functions
    calendars: Mapping[str, Callable[..., HolidayCalendar]] = field(default_factory=dict)
    model: type[PolicyModel] = PolicyModel
    #: The loaded plugins, which a decision log names with a hash of their code.
    plugins: tuple[PluginCode, ...] = ()


@dataclass(frozen=True)
class Policy:
    """A checked, compiled policy: the object Python applications work with.

    ``policy.scheme(name)`` is the compiled section of any registered scheme
    (a plugin's too); the built-in ones are also typed attributes
    (``policy.visits`` is a ``VisitsScheme``). Asking for a scheme the file
    does not define raises an error naming the missing TOML section.
    ``specs`` holds the registry entry of every registered scheme, which is
    what the command line, the decision log and the case runner read.
    """

    model: PolicyModel
    ref: PolicyRef
    calendar: HolidayCalendar
    functions: FunctionTable
    schemes: Mapping[str, Any]
    warnings: tuple[Problem, ...] = ()
    specs: Mapping[str, SchemeSpec] = field(default_factory=dict, repr=False)
    #: The TOML files it was loaded from (its own first, then each it extends): what it
    #: pickles as (``policy.portable``), since compiled rules and plugin code do not.
    layers_files: tuple[SourceFile, ...] = field(default=(), repr=False, compare=False)
    #: The plugins loaded with it (``civicscore.provenance``): a decision log names their
    #: versions and code hashes, since plugin code changes results the policy hash keeps.
    plugins: tuple[PluginCode, ...] = field(default=(), repr=False, compare=False)

    def __reduce__(self) -> tuple[Any, ...]:
        """Pickle as sources, rebuilt and hash-checked where unpickled
        (``civicscore.policy.portable``): a Spark executor scores with this very policy.
        The module is named by reference, as a scheme's batch engine is, because
        rebuilding needs the plugins, whose modules import this one."""
        portable = importlib.import_module(PORTABLE)
        return portable.rebuild, (portable.portable(self),)

    @property
    def id(self) -> str:
        return self.ref.id

    @property
    def version(self) -> str:
        return self.ref.version

    @property
    def hash(self) -> str:
        return self.ref.hash

    def scheme(self, name: str) -> Any:
        """The compiled section of scheme ``name``, built-in or a plugin's."""
        if name not in self.schemes:
            known = "" if name in self.specs or not self.specs else (
                f" (no installed scheme is called {name!r}"
                + (f"; {hint}" if (hint := did_you_mean(name, self.specs)) else "") + ")")
            raise UsageError(
                f"policy {self.ref.id!r} ({self.ref.source}) has no [{name}] section{known}"
                + (f"; it defines: {', '.join(sorted(self.schemes))}" if self.schemes else ""))
        return self.schemes[name]

    def spec(self, name: str) -> SchemeSpec:
        """The registry entry of a scheme this policy defines (see ``scheme``)."""
        self.scheme(name)
        return self.specs[name]

    # Typed shortcuts for the built-in schemes; any scheme is ``scheme(name)``.
    @property
    def volunteer(self) -> VolunteerScheme:
        """The [volunteer] scheme: ``policy.volunteer.evaluate(records, as_of=...)``."""
        scheme: VolunteerScheme = self.scheme("volunteer")  # (as schemes/builtins registers it)
        return scheme

    @property
    def civility(self) -> CivilityScheme:
        """The [civility] scheme: household stars and titles."""
        scheme: CivilityScheme = self.scheme("civility")  # (as schemes/builtins registers it)
        return scheme

    @property
    def visits(self) -> VisitsScheme:
        """The [visits] scheme: care tiers, cadences and next due dates."""
        scheme: VisitsScheme = self.scheme("visits")  # (as schemes/builtins registers it)
        return scheme

    @property
    def appraisal(self) -> AppraisalScheme | Scorecards:
        """The [appraisal] scheme: scorecards, grades, vetoes and the quota (``Scorecards``
        for a policy of several scorecards, or of a quota per cohort)."""
        # (as schemes/builtins registers it)
        scheme: AppraisalScheme | Scorecards = self.scheme("appraisal")
        return scheme

    @property
    def events(self) -> EventsScheme:
        """The [events] rules over time: ``policy.events.run(log, until=...)``."""
        scheme: EventsScheme = self.scheme("events")  # (as schemes/builtins registers it)
        return scheme

    def check_in_effect(self, as_of: dt.date) -> None:
        ensure_in_effect(self.model, self.ref, as_of)


def ensure_in_effect(model: PolicyModel, ref: PolicyRef, as_of: dt.date) -> None:
    """Refuse an as-of date outside ``[policy] effective``: it would misapply the rules."""
    eff = model.policy.effective
    if eff is None:
        return
    if as_of < eff.from_ or (eff.to is not None and as_of > eff.to):
        end = eff.to.isoformat() if eff.to else "open-ended"
        raise UsageError(f"policy {ref.id} {ref.version} is in effect from "
                              f"{eff.from_} to {end}, not on {as_of}")


# --- checks on [facts] ---------------------------------------------------------------


def _check_facts(ctx: CompileContext) -> None:
    for entity, facts in ctx.model.facts.items():
        for name, spec in facts.items():
            path: KeyPath = ("facts", entity, name)
            shown = repr(name)
            if not name.isidentifier() or keyword.iskeyword(name) or name.startswith("_"):
                fix = re.sub(r"\W", "_", name).strip("_") or "fact"
                ctx.report(path, pw.both("fact_name", name=shown),
                           pw.both("fact_name_fix", fix=repr(fix)) if fix.isidentifier()
                           and not keyword.iskeyword(fix) else pw.both("rename_it"),
                           value=False)
                continue
            texts = (name, spec.label, spec.label_en, spec.description)
            why = protected_reason(*texts)
            if why:
                ctx.report(path, pw.both("fact_protected", name=shown, why=why,
                                         why_zh=pw.why_zh(why)), _NOT_WHO, value=False)
                continue
            why = control_reason(*texts)
            if why:
                ctx.report(path, pw.both("fact_control", name=shown, why=why,
                                         why_zh=pw.why_zh(why)), _NOT_WHO, value=False)
                continue
            if not spec.care_need and spec.concept is None and (why := health_reason(*texts)):
                concept = suggest_concept(name, spec.label, spec.label_en, spec.type)
                ctx.report(path, pw.both("fact_health", name=shown, why=why,
                                         why_zh=pw.why_zh(why)),
                           pw.both("fact_health_fix", concept=concept) if concept
                           else pw.both("fact_health_fix_any"), value=False)
                continue
            if spec.values:
                hit = protected_in(spec.values)
                if hit:
                    ctx.report(path + ("values",), pw.both(
                        "value_protected", value=repr(hit[0]), name=shown, why=hit[1],
                        why_zh=pw.why_zh(hit[1])), _NOT_WHO)
            if isinstance(spec.default, str) and (hit := protected_in([spec.default])):
                ctx.report(path + ("default",), pw.both(
                    "default_protected", value=repr(hit[0]), name=shown, why=hit[1],
                    why_zh=pw.why_zh(hit[1])), _NOT_WHO)
            _check_fact_spec(ctx, path, spec)
            if (wrong := concept_problem(spec.concept, spec.type)) is not None:
                ctx.report(path + ("concept",), wrong[0], wrong[1])
            elif spec.concept is not None and not spec.care_need:
                ctx.report(path + ("care_need",), pw.both(
                    "concept_not_care", name=shown, concept=repr(spec.concept)),
                    pw.both("concept_not_care_fix"))


_NOT_WHO = pw.both("not_who")


def _check_texts(ctx: CompileContext, data: Mapping[str, Any],
                 specs: Mapping[str, SchemeSpec]) -> None:
    """Every text of the policy (keys and strings: rules, labels, descriptions, ``[[case]]``
    data), read for a protected characteristic; [facts] are checked fact by fact.

    A scheme's ``mentions`` tables (what people do) and the ``[policy]`` notes only
    warn; control wording is refused everywhere else, and in a section that
    ``allocates_care`` even where the section would only warn of a mention."""

    def text(path: KeyPath, value: str, *, key: bool, mention: bool, care: bool) -> None:
        what = {"what": f"the name {value!r}" if key else f"the text {value!r}",
                "what_zh": f"名称 {value!r}" if key else f"文字 {value!r}"}
        why = protected_reason(value)
        if why and mention:
            ctx.warn(path, pw.both("text_mentions_protected", **what, why=why,
                                   why_zh=pw.why_zh(why)), value=not key)
        elif why:
            ctx.report(path, pw.both("text_protected", **what, why=why, why_zh=pw.why_zh(why)),
                       _NOT_WHO, value=not key)
        elif (why := control_reason(value)) and mention and not care:
            ctx.warn(path, pw.both("text_mentions_control", **what, why=why,
                                   why_zh=pw.why_zh(why)), value=not key)
        elif why and care:
            ctx.report(path, pw.both("text_control_care", **what, why=why,
                                     why_zh=pw.why_zh(why)),
                       pw.both("text_control_care_fix"), value=not key)
        elif why:
            ctx.report(path, pw.both("text_control", **what, why=why, why_zh=pw.why_zh(why)),
                       pw.both("text_control_fix"), value=not key)

    def walk(path: KeyPath, value: Any, *, mention: tuple[str, ...], care: bool,
             docs: bool) -> None:
        if isinstance(value, Mapping):
            for k, v in value.items():
                here = path + (k,)
                named = len(here) == 3 and here[1] in mention  # [section.table.<name>]
                text(here, str(k), key=True, mention=docs or named, care=care)
                walk(here, v, mention=mention, care=care, docs=docs)
        elif isinstance(value, list):
            for i, v in enumerate(value):
                walk(path + (i,), v, mention=mention, care=care, docs=docs)
        elif isinstance(value, str):
            described = len(path) == 4 and path[1] in mention and path[3] in _WORDING
            text(path, value, key=False, mention=docs or described, care=care)

    for name, value in data.items():
        if name in ("facts", "calendar"):
            continue
        spec = specs.get(name)
        walk((name,), value, mention=spec.mentions if spec else (),
             care=bool(spec and spec.allocates_care), docs=name == "policy")


#: The keys of a named entry that word it for people (and may mention, in ``mentions``).
_WORDING = ("label", "label_en", "description", "description_en")


def _check_fact_spec(ctx: CompileContext, path: KeyPath, spec: FactSpec) -> None:
    kind = {"kind": spec.type, "kind_zh": pw.FACT_TYPES_ZH.get(spec.type, spec.type)}
    if spec.type == "enum" and not spec.values:
        ctx.report(path + ("type",), pw.both("enum_needs_values"), pw.both("add_values"))
    if spec.type != "enum" and spec.values is not None:
        ctx.report(path + ("values",), pw.both("values_only_enum", **kind),
                   pw.both("set_enum"))
    if (spec.min is not None or spec.max is not None) and spec.type not in ("int", "decimal"):
        ctx.report(path + ("type",), pw.both("min_max_only_numbers", **kind))
    if spec.min is not None and spec.max is not None and spec.min > spec.max:
        ctx.report(path + ("min",), pw.both("min_above_max", min=f"{spec.min:g}",
                                            max=f"{spec.max:g}"))
    if spec.optional and spec.type != "date":
        ctx.report(path + ("optional",), pw.both("optional_only_date"),
                   pw.both("give_default"))
    if spec.optional and spec.default is not None:
        ctx.report(path + ("default",), pw.both("optional_with_default"))
    d = spec.default
    if d is None:
        return
    ok = {
        "bool": isinstance(d, bool),
        "int": isinstance(d, int) and not isinstance(d, bool),
        "decimal": isinstance(d, (int, float)) and not isinstance(d, bool),
        "string": isinstance(d, str),
        "enum": isinstance(d, str) and d in (spec.values or []),
        "date": isinstance(d, dt.date),
    }[spec.type]
    if not ok:
        allowed = ", ".join(spec.values or [])
        ctx.report(path + ("default",),
                   pw.both("default_not_enum", value=repr(d), allowed=allowed,
                           allowed_zh="、".join(spec.values or []))
                   if spec.type == "enum" else pw.both("default_invalid", value=repr(d), **kind),
                   did_you_mean_both(d, spec.values or []) if isinstance(d, str) else "")
    elif spec.type in ("int", "decimal") and isinstance(d, (int, float)):
        if (spec.min is not None and d < spec.min) or (spec.max is not None and d > spec.max):
            ctx.report(path + ("default",), pw.both("default_outside", value=d))


def _make_calendar(model: PolicyModel, env: Environment, layers: Layers,
                   problems: list[Problem]) -> HolidayCalendar:
    cal = model.calendar
    if cal.name is not None:
        if cal.name not in env.calendars:
            problems.append(layers.problem(
                ("calendar", "name"), (f"no installed plugin provides the calendar "
                                       f"{cal.name!r}", f"没有已安装的插件提供日历 {cal.name!r}"),
                did_you_mean_both(cal.name, env.calendars), value=True))
            return HolidayCalendar(None)
        return env.calendars[cal.name](cal.extra_holidays, cal.extra_workdays)
    countries = supported_countries()
    country = None if (cal.country or "").strip().lower() in ("", "none") else cal.country
    if country is not None and country not in countries:
        problems.append(layers.problem(
            ("calendar", "country"), (f"unknown holiday calendar country {country!r}",
                                      f"不认识的节假日日历国家代码 {country!r}"),
            did_you_mean_both(country, countries), value=True))
        country = None
    if country and cal.subdivision:
        known = subdivisions(country)
        if cal.subdivision not in known:
            problems.append(layers.problem(
                ("calendar", "subdivision"), (f"{country} has no subdivision "
                                              f"{cal.subdivision!r}",
                                              f"{country} 没有地区代码 {cal.subdivision!r}"),
                did_you_mean_both(cal.subdivision, known), value=True))
            return HolidayCalendar(country, None, cal.extra_holidays, cal.extra_workdays)
    return HolidayCalendar(country, cal.subdivision, cal.extra_holidays, cal.extra_workdays)


def _mentions_calendar(data: Any) -> bool:
    """Whether any text of the policy (its cases aside) calls a calendar function: the
    guess, made before compiling, of whether its expressions read the calendar."""
    stack = [v for k, v in data.items() if k != "case"] if isinstance(data, dict) else [data]
    while stack:
        node = stack.pop()
        if isinstance(node, str):
            if _CALENDAR_CALL.search(node):
                return True
        elif isinstance(node, dict):
            stack.extend(node.values())
        elif isinstance(node, list):
            stack.extend(node)
    return False


_CALENDAR_CALL = re.compile(r"\b(?:" + "|".join(CALENDAR_FUNCTION_NAMES) + r")\s*\(")


def _watched(table: FunctionTable) -> tuple[FunctionTable, set[str]]:
    """A copy of ``table`` whose calendar functions note, when an expression's call of
    one is checked, that the policy reads the calendar (the set returned)."""
    calls: set[str] = set()
    watched = FunctionTable(dict(table.functions))
    for name in CALENDAR_FUNCTION_NAMES:
        fn = watched.functions.get(name)
        if fn is not None:
            def check(args: Sequence[Any], _rule: Any = fn.check, _name: str = name) -> Type:
                calls.add(_name)
                result: Type = _rule(args)
                return result
            watched.functions[name] = replace(fn, check=check)
    return watched, calls


def compile_policy(loaded: Loaded, env: Environment, today: dt.date | None = None) -> Policy:
    """Run the whole-policy checks and each scheme's compiler; raise all problems at once.

    A policy whose expressions call a calendar function (``is_holiday``, ``is_workday``,
    ``is_makeup_workday``, as holiday multipliers do) decides by the calendar's days, so
    its hash folds in their digest (``load.policy_hash``). Whether it does is guessed from
    its text before its schemes are compiled (they keep the policy's reference) and known
    from its checked calls after: when the two differ (a label that quotes
    ``is_holiday(date)``, a plugin scheme that writes a call of its own) the schemes are
    compiled again with the hash the calls call for."""
    model = loaded.model
    loaded_problems = list(loaded.problems)
    calendar = _make_calendar(model, env, loaded.layers, loaded_problems)
    functions, calls = _watched(env.functions(calendar))
    reads = _mentions_calendar(loaded.data)
    for _ in range(2):
        calls.clear()
        ref = PolicyRef(model.policy.id, model.policy.version,
                        policy_hash(loaded.content_hash, calendar.digest() if reads else None),
                        loaded.layers.files[0].name)
        ctx, compiled = _compile_schemes(loaded, env, functions, calendar, ref,
                                         list(loaded_problems))
        if bool(calls) == reads or ctx.problems:
            break
        reads = bool(calls)
    return _finish(loaded, env, ctx, compiled, calendar, today)


def _compile_schemes(loaded: Loaded, env: Environment, functions: FunctionTable,
                     calendar: HolidayCalendar, ref: PolicyRef,
                     problems: list[Problem]) -> tuple[CompileContext, dict[str, Any]]:
    """The whole-policy checks and each scheme's compiler, under one reference."""
    model = loaded.model
    ctx = CompileContext(model, loaded.layers, functions, calendar, ref, problems)
    _check_facts(ctx)
    _check_texts(ctx, loaded.data, env.schemes)
    compiled: dict[str, Any] = {}
    for name, spec in env.schemes.items():
        if getattr(model, name, None) is not None:
            compiled[name] = spec.compiler(ctx)
    _check_record_fields(ctx, env.schemes, compiled)
    for i, case in enumerate(model.case):
        if case.scheme not in compiled:
            ctx.report(("case", i, "scheme"), (f"case {case.name!r} is for scheme "
                                               f"{case.scheme!r}, which this policy does not "
                                               f"define",
                                               f"案例 {case.name!r} 针对评分方案 {case.scheme!r}，"
                                               f"但本政策没有定义它"),
                       did_you_mean_both(case.scheme, compiled))
        else:
            accepts = env.schemes[case.scheme].extra_inputs
            given = [*(["redemptions"] if case.redemptions else []), *case.inputs]
            for key in given:
                if key not in accepts:
                    where = ("case", i, key) if key == "redemptions" else ("case", i, "inputs",
                                                                         key)
                    ctx.report(where, (f"case {case.name!r}: scheme {case.scheme!r} takes no "
                                       f"{key!r} input",
                                       f"案例 {case.name!r}：评分方案 {case.scheme!r} 没有 {key!r} "
                                       f"这项输入"),
                               (f"it takes: {', '.join(accepts)}",
                                f"它可以读取：{'、'.join(accepts)}") if accepts else
                               (f"remove it; {case.scheme} reads only its records",
                                f"请删去它；{case.scheme} 只读取它自己的记录"),
                               value=False)
            if "redemptions" in case.inputs and case.redemptions:
                ctx.report(("case", i, "inputs", "redemptions"),
                           f"case {case.name!r} gives redemptions twice",
                           "write them once, as redemptions = [...]", value=False)
        if (case.input is None) == (not case.records):
            ctx.report(("case", i), (f"case {case.name!r} needs exactly one of 'input' (one "
                                     f"record) and 'records' (several)",
                                     f"案例 {case.name!r} 需要且只能有 input（一条记录）和 records"
                                     f"（多条记录）中的一个"), value=False)
    return ctx, compiled


def _finish(loaded: Loaded, env: Environment, ctx: CompileContext, compiled: dict[str, Any],
            calendar: HolidayCalendar, today: dt.date | None) -> Policy:
    """Raise the problems found, or warn of the notes and return the policy."""
    model = loaded.model
    reported = len(loaded.problems)
    problems = ctx.problems[:reported] + [
        p for p in ctx.problems[reported:] if not loaded.is_consequence(p)]
    if problems:
        raise PolicyError(sorted(problems, key=lambda p: (p.file, p.line, p.col)))
    notes: list[Problem] = list(ctx.notes)
    today = today or dt.date.today()
    if model.policy.review_by is not None and model.policy.review_by < today:
        notes.append(loaded.layers.problem(
            ("policy", "review_by"), (f"policy was due for review on {model.policy.review_by}",
                                      f"本政策应在 {model.policy.review_by} 复审，已经过期"),
            ("review it and set a new review_by date", "请复审，并设定新的 review_by 日期"),
            value=True, severity="warning"))
    # a parent's review date binds its children: they decide by its rules too
    for ancestor in _ancestors(loaded):
        due = ancestor.model.policy.review_by if ancestor.model is not None else None
        if due is not None and due < today:
            name = ancestor.model.policy.id if ancestor.model is not None else "?"
            notes.append(loaded.layers.problem(
                ("policy", "extends"),
                (f"this policy extends {name!r}, which was due for review on {due}: its rules "
                 f"are part of this one's",
                 f"本政策继承的 {name!r} 应在 {due} 复审，已经过期：它的规则也是本政策的规则"),
                (f"have {name!r} reviewed (and its review_by moved on), or stop extending it",
                 f"请让 {name!r} 复审（并延后它的 review_by），或不再继承它"),
                value=True, severity="warning"))
    for note in notes:
        warnings.warn(str(note), PolicyWarning, stacklevel=4)
    return Policy(model, ctx.ref, calendar, ctx.functions, compiled, tuple(notes),
                  dict(env.schemes), tuple(loaded.layers.files), env.plugins)


def _check_record_fields(ctx: CompileContext, specs: Mapping[str, SchemeSpec],
                         compiled: Mapping[str, Any]) -> None:
    """Refuse a fact named like a field a scheme reads from every record itself.

    A fact ``record_id`` would be read as a fact *and* as the record's id, so
    every record would be rejected (or misread). The fields come from each
    scheme's registration; a scheme that already reported the clash in its
    own words is not reported twice.
    """
    seen = {(p.file, p.line, p.col) for p in ctx.problems}
    for name in compiled:
        spec = specs[name]
        for entity in spec.entities_of(getattr(ctx.model, name, None)):
            facts = ctx.model.facts.get(entity, {})
            for field_name in spec.record_fields:
                if field_name not in facts:
                    continue
                path: KeyPath = ("facts", entity, field_name)
                problem = ctx.layers.problem(
                    path, (f"fact name {field_name!r} is a field the {name} scheme reads from "
                           f"every record itself ({', '.join(spec.record_fields)}); a fact of "
                           f"that name would be read from the same column and reject the "
                           f"records it does not fit",
                           f"事实名 {field_name!r} 是 {name} 评分方案从每条记录直接读取的字段"
                           f"（{'、'.join(spec.record_fields)}）；同名的事实会读同一列，并拒收不合"
                           f"它要求的记录"),
                    (f"rename the fact (e.g. {field_name + '_value'!r}) and its column in the "
                     f"input files",
                     f"请给这个事实和输入文件中的列改名（如 {field_name + '_value'!r}）"))
                where = (problem.file, problem.line, problem.col)
                if where not in seen:
                    seen.add(where)
                    ctx.problems.append(problem)


def load_policy(source: str | Path, env: Environment, text: str | bytes | None = None,
                today: dt.date | None = None) -> Policy:
    """Load one policy file (or its text, or an installed policy's name) and compile it."""
    if text is None:
        path = Path(source)
        try:
            exists = path.exists()
        except OSError:  # e.g. a name longer than the system allows
            exists = False
        note_probe(path, "exists", exists)
        if not exists:
            if env.resolver is not None and (found := env.resolver(str(source))) is not None:
                return load_policy(found[0], env, found[1], today)
            raise PolicyError.single(str(source), 1, 1, "no such policy file",
                                     hint="give a path to a .toml file, or the name of "
                                          "an installed policy (civicscore plugins lists them)")
        raw: bytes | str = read_limited(path)
        directory: Path | None = path.parent
    else:
        raw, directory = text, None
    src = read_source(str(source), raw, directory)
    return compile_policy(load_source(src, env.resolver, env.model), env, today)


def _ancestors(loaded: Any) -> list[Any]:
    """Every policy ``loaded`` extends, nearest first (each once)."""
    out: list[Any] = []
    todo = list(getattr(loaded, "parents", ()))
    while todo:
        parent = todo.pop(0)
        if all(parent is not seen for seen in out):
            out.append(parent)
            todo.extend(getattr(parent, "parents", ()))
    return out
