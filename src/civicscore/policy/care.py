"""The core care-need vocabulary, and the checks that make visit tiers read care needs only.

Matching the words a policy uses cannot tell a care need from a control
category: ``重点户`` and ``关心户`` are both just names. So the care needs are
a closed list kept in the core (``care_vocabulary.toml``, shipped in the
package, versioned, in Chinese and English), and a fact that visit tiers read
must *declare* the concept it carries::

    [facts.household]
    age_oldest = { type = "int", care_need = true, concept = "age" }

What follows, at load time, with the position, what was expected, the fix and
a "did you mean" (:func:`concept_problem`, :func:`cadence_problem`):

* a tier or trigger condition may read only facts that declare a concept of
  the vocabulary (a fact without one, or naming one that does not exist, is
  refused); a fact's type must be one the concept allows;
* a trigger's event date is read only from facts whose concept is a care
  *event* (discharge, bereavement, fall, ...), never ``as_of``, ``last_visit``
  or another date;
* a tier visiting more often than weekly must require, in its own condition,
  an *intensive* concept (bedridden, end of life, recent discharge) and a
  recorded *consent* fact: a daily visit nobody asked for is watching, not care.

The list is closed on purpose: plugins cannot add concepts (there is no hook),
and a new concept is a change to this package, reviewed like code.
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any, Literal

from .._suggest import did_you_mean
from ..expr.ir import BoolOp, Call, Compare, Const, Name, Node, Unary, walk

Kind = Literal["need", "event", "consent"]

#: Cadences shorter than this many days are "more often than weekly".
WEEK_DAYS = 7


@dataclass(frozen=True)
class Concept:
    """One entry of the vocabulary."""

    id: str
    kind: Kind
    types: tuple[str, ...]
    label: str
    label_en: str
    definition: str
    definition_en: str
    standard: str = ""
    intensive: bool = False

    def describe(self) -> str:
        """'年龄 / Age' as officers see it."""
        return f"{self.label} / {self.label_en}"


@dataclass(frozen=True)
class Vocabulary:
    """The whole list: ``vocabulary().concepts["age"]``."""

    id: str
    version: str
    title: str
    concepts: Mapping[str, Concept]

    def of_kind(self, *kinds: Kind) -> list[str]:
        return [c.id for c in self.concepts.values() if c.kind in kinds]


@cache
def vocabulary() -> Vocabulary:
    """The vocabulary shipped with civicscore (read once per process)."""
    data = tomllib.loads(Path(__file__).with_name("care_vocabulary.toml")
                         .read_text(encoding="utf-8"))
    meta = data["vocabulary"]
    concepts = {cid: Concept(cid, c["kind"], tuple(c["types"]), c["label"], c["label_en"],
                             c["definition"], c["definition_en"], c.get("standard", ""),
                             bool(c.get("intensive", False)))
                for cid, c in data["concepts"].items()}
    return Vocabulary(meta["id"], meta["version"], meta["title"], concepts)


def concept_problem(concept: str | None, fact_type: str) -> tuple[str, str] | None:
    """What is wrong with a fact's declared concept, as (message, hint); None if nothing.

    ``None`` (no concept) is not a problem here: a fact need not be a care need.
    """
    if concept is None:
        return None
    vocab = vocabulary()
    found = vocab.concepts.get(concept)
    if found is None:
        guess = suggest_concept(concept, fact_type=fact_type)
        hint = f"did you mean {guess!r}?" if guess else did_you_mean(concept, vocab.concepts)
        return (f"{concept!r} is not a concept of the care-need vocabulary "
                f"({vocab.id} {vocab.version})",
                (hint + "; " if hint else "") + "the concepts are listed in "
                "docs/responsible-use.md (civicscore concepts); a new one is a change "
                "to civicscore itself, not to a policy")
    if fact_type not in found.types:
        return (f"concept {concept!r} ({found.describe()}) is carried by a fact of type "
                f"{' or '.join(found.types)}, not {fact_type}",
                f'set type = "{found.types[0]}", or choose the concept this fact carries')
    return None


def suggest_concept(name: str, label: str = "", label_en: str = "",
                    fact_type: str | None = None) -> str:
    """A concept the fact's name or labels resemble (of a kind its type can carry), for the
    hint of a fact without one; '' when none is close."""
    vocab = vocabulary()
    ids = [c.id for c in vocab.concepts.values() if fact_type is None or fact_type in c.types]
    for text in (name, label_en, label):
        if not text:
            continue
        if text in ids:
            return text
        for cid in ids:
            if text in (vocab.concepts[cid].label, vocab.concepts[cid].label_en):
                return cid
        low = text.lower()
        for cid in sorted(ids, key=len, reverse=True):
            if cid in low or cid.replace("_", " ") in low:
                return cid
        for cid in ids:  # a word of the concept in the text: discharged_on -> *discharge
            if any(len(w) >= 5 and w[:5] in low for w in cid.split("_")):
                return cid
    hint = did_you_mean(name, ids)
    return hint.removeprefix("did you mean ").strip("'?") if hint else ""


# --- reading conditions ------------------------------------------------------------


def _is_true(node: Node) -> bool:
    return isinstance(node, Const) and node.value is True


def requires(node: Node, holds: Mapping[str, bool], *, plain: bool) -> bool:
    """Whether the condition can only hold when some fact of ``holds`` is read as required.

    ``plain``: the fact must itself be the condition (``consent``, ``consent == true``),
    as a recorded consent must be; otherwise any comparison reading such a fact counts
    (``0 <= days_between(discharged_on, as_of) <= 3``). ``and`` needs one of its parts
    to require it, ``or`` all of them; ``not`` never does."""
    if isinstance(node, BoolOp):
        parts = [requires(v, holds, plain=plain) for v in node.values]
        return any(parts) if node.op == "and" else all(parts)
    if isinstance(node, Unary):
        return False
    if isinstance(node, Name):
        return node.name in holds
    if plain:
        return (isinstance(node, Compare) and node.op == "==" and
                ((isinstance(node.left, Name) and node.left.name in holds and
                  _is_true(node.right)) or
                 (isinstance(node.right, Name) and node.right.name in holds and
                  _is_true(node.left))))
    return any(isinstance(n, Name) and n.name in holds for n in walk(node))


def cadence_problem(when: Node | None, concepts: Mapping[str, str]
                    ) -> tuple[str, str, str, str] | None:
    """Why a tier visiting more often than weekly may not, or None when it may: the
    message and the fix, then the two in Chinese.

    ``concepts``: fact name -> concept id, for the facts the tier may read."""
    vocab = vocabulary().concepts
    intensive = {f: True for f, c in concepts.items() if vocab[c].intensive}
    consent = {f: True for f, c in concepts.items() if vocab[c].kind == "consent"}
    fix = ("require both in the tier's own condition, e.g. "
           "when = \"bedridden and lives_alone and daily_visits_agreed\" (facts with "
           "concept = \"bedridden\" and concept = \"visit_consent\"), or visit weekly")
    fix_zh = ("请在等级自己的条件中同时要求这两者，如 when = \"bedridden and lives_alone and "
              "daily_visits_agreed\"（事实分别带 concept = \"bedridden\" 和 concept = "
              "\"visit_consent\"），或改为每周探访")
    names = ", ".join(sorted(c.id for c in vocab.values() if c.intensive))
    if when is None or not requires(when, intensive, plain=False):
        return (f"visits more often than weekly need an intensive care need ({names}) "
                f"that the condition requires", fix,
                f"比每周更频繁的探访，条件中必须要求一项需要密集照护的需求（{names}）", fix_zh)
    if not requires(when, consent, plain=True):
        return ("visits more often than weekly need the household's recorded consent: "
                "the condition must require a fact with concept = \"visit_consent\"", fix,
                "比每周更频繁的探访需要住户有记录的同意：条件必须要求一个 concept = "
                "\"visit_consent\" 的事实", fix_zh)
    return None


# --- the words of the visits checks ------------------------------------------------

EVENT_FIX = ("a trigger's event is the date of a care event: declare it as a date fact "
             "with its concept (e.g. discharged_on = { type = \"date\", optional = true, "
             "concept = \"hospital_discharge\" }) and write event = \"discharged_on\"",
             "触发条件的事件是某个照护事件的日期：请把它声明为带照护概念的日期事实（如 "
             "discharged_on = { type = \"date\", optional = true, concept = "
             "\"hospital_discharge\" }），再写 event = \"discharged_on\"")


def no_concept(entity: str, name: str, spec: Any) -> tuple[str, str]:
    """Why a care-need fact without a concept may not be read by visit tiers, with the fix,
    in English and Chinese."""
    guess = suggest_concept(name, spec.label, spec.label_en, spec.type)
    en = (f"fact {name!r} declares no concept of the care-need vocabulary (expected: every "
          f"fact visits read names the care need it carries); fix: add concept = "
          f"\"{guess or '<id>'}\" to {name!r} in [facts.{entity}]"
          + (f" (did you mean {guess!r}?" if guess else " (") +
          " `civicscore concepts` lists them all)")
    zh = (f"事实 {name!r} 没有声明照护需求词表中的概念（探访读取的每个事实都应写明它代表的照护"
          f"需求）；修改办法：在 [facts.{entity}] 的 {name!r} 中加上 concept = "
          f"\"{guess or '<id>'}\""
          + (f"（是否想写 {guess!r}？" if guess else "（") + "`civicscore concepts` 列出全部概念）")
    return en, zh


def not_events(concepts: Mapping[str, str]) -> dict[str, str]:
    """Name -> why a trigger's event date may not read it: ``as_of``, ``last_visit`` and
    every care fact whose concept is not a care event."""
    vocab = vocabulary().concepts
    events = ", ".join(repr(c) for c in vocabulary().of_kind("event"))
    out = {n: (f"{n!r} is not the date of a care event (expected: a date fact whose concept "
               f"is one of {events})") for n in ("as_of", "last_visit")}
    for name, concept in concepts.items():
        if vocab[concept].kind != "event":
            out[name] = (f"fact {name!r} carries the care need {concept!r}, not a care event "
                         f"(expected: a date fact whose concept is one of {events})")
    return out


# --- care needs outside visits -------------------------------------------------------


def outside_care(name: str, spec: Any) -> str:
    """Why a rule that is not a visit tier may not read care-need fact ``name``, with what
    was expected and the fix (the scope's ``forbidden`` reason, after "may not read 'x': ").

    Civility stars, volunteer multipliers and appraisal indicators and vetoes recognise
    what people do; a care need read there would make a disability cost stars or points
    (an appraisal that halves a disabled household's total). Care is given by need, in
    visit tiers, and is never earned or lost."""
    concept = vocabulary().concepts.get(spec.concept or "")
    what = (f"concept {concept.id!r}, {concept.describe()}" if concept is not None
            else "marked care_need = true")
    return (f"it is a care need ({what}); expected: a fact about what the rule recognises "
            f"(conduct, activity, performance), since care needs are read by visit tiers "
            f"only and care is never earned or lost (照护按需给予，不因积分、星级或考核增减); "
            f"fix: remove {name!r} from this rule, and if the household needs support "
            f"because of it, give it a visit tier in [visits] that reads {name!r}")


def outside_care_zh(name: str, spec: Any) -> str:
    """:func:`outside_care` in Chinese, for an officer who reads Chinese first."""
    concept = vocabulary().concepts.get(spec.concept or "")
    what = (f"照护概念 {concept.id!r}，{concept.label}" if concept is not None
            else "标记了 care_need = true")
    return (f"它是照护需求（{what}）；这里应读取规则所认可的事实（行为、活动、表现），因为照护需求"
            f"只由探访分级读取，照护按需给予，不因积分、星级或考核增减；修改办法：从这条规则中删去 "
            f"{name!r}，如果住户因此需要帮助，请在 [visits] 中设一个读取 {name!r} 的探访等级")


def care_refusals(facts: Mapping[str, Any]) -> dict[str, tuple[str, str]]:
    """Fact name -> :func:`outside_care` (in English and Chinese) for every care-need fact
    of an entity (a concept implies ``care_need``): what a scheme's rules may not read
    unless it allocates care."""
    return {name: (outside_care(name, spec), outside_care_zh(name, spec))
            for name, spec in facts.items() if spec.care_need}



@cache
def core_function_names() -> frozenset[str]:
    """The functions of civicscore itself (the standard library and the calendar's)."""
    from ..expr.functions import calendar_functions, standard_functions

    return frozenset(f.name for f in (*standard_functions(),
                                      *calendar_functions(lambda day: False)))


def plugin_calls(node: Node) -> list[str]:
    """The functions a condition calls that civicscore does not define (a plugin's): their
    results are no declared care need, so visit tiers and triggers may not call them."""
    core = core_function_names()
    return list(dict.fromkeys(n.func for n in walk(node)
                              if isinstance(n, Call) and n.func not in core))
