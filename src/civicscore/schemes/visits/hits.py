"""How a [visits] section's hit policy chooses a household's one tier (module docstring
of ``scheme``, step 2): which hit policies and aggregations give a cadence, and the
tiers as a DMN decision table for :mod:`civicscore.plan.hit`, which states the
semantic once for both engines.

A tier's output is its cadence, and a household is visited at one cadence, so the
list policies place it in the first tier of their list, and ``collect`` needs an
aggregation that picks one tier's cadence (``max``: the most care, ``min``: the
least); ``sum`` and ``count`` give a number that is no tier's cadence and are
refused when the policy is loaded, as is ``collect`` without an aggregation.
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from ...plan.hit import HitTable
from ...plan.ops import Ref
from ...policy.compile import CompileContext
from ...policy.load import KeyPath
from ...policy.model import Visits

if TYPE_CHECKING:
    from .scheme import _Tier

#: The hit policies whose reasons say which other tiers matched (the plan then gives each
#: tier's condition, ``$c{i}``): all but ``first`` (a later condition is not computed
#: once one holds) and ``unique`` (two matching tiers reject the household).
NOTED = frozenset({"priority", "any", "output order", "rule order", "collect"})

#: A month's days as the caseload counts them, exactly (``30.44`` as written).
_MONTH_DAYS = Decimal("30.44")

#: The hit policies whose tiers each need a ``priority`` (DMN's output priority order).
RANKED = frozenset({"priority", "output order"})

#: Why ``collect`` with an aggregation that gives no cadence is refused, and what instead.
_NO_CADENCE = {
    "sum": "adds up the matching tiers' cadences",
    "count": "counts the matching tiers",
}
_ONE_CADENCE = ('use aggregation = "max" (the matching tier that visits most often: the '
                'most care any matching tier calls for) or "min" (the one that visits least '
                'often), or hit_policy = "rule order" to list every matching tier',
                '请用 aggregation = "max"（命中的等级中探访最频繁的：命中等级所要求的最多关怀）'
                '或 "min"（探访最少的），或用 hit_policy = "rule order" 列出全部命中的等级')


def check_hit_policy(ctx: CompileContext, rules: Visits) -> None:
    """A household needs one cadence: refuse the hit policy and aggregation pairs that do
    not give one (collect without an aggregation gives a list; sum and count a number
    that is no tier's), and an aggregation without collect."""
    root: KeyPath = ("visits",)
    policy, aggregation = rules.hit_policy, rules.aggregation
    if aggregation is not None and policy != "collect":
        ctx.report(root + ("aggregation",), (f"aggregation is only used with hit_policy = "
                                             f"'collect' (now {policy!r})",
                                             f"只有 hit_policy = 'collect' 时才用 aggregation"
                                             f"（现在是 {policy!r}）"),
                   ('remove it, or set hit_policy = "collect" with aggregation = '
                    '"max" or "min"', '请删去它，或设 hit_policy = "collect" 并写 aggregation = '
                                      '"max" 或 "min"'))
    elif policy == "collect" and aggregation is None:
        ctx.report(root + ("hit_policy",), ("hit_policy = 'collect' without an aggregation "
                                            "gives a list of tiers, and a household is "
                                            "visited at one cadence",
                                            "不写 aggregation 的 hit_policy = 'collect' 会得出"
                                            "一串等级，而一户只能按一个周期探访"), _ONE_CADENCE)
    elif policy == "collect" and aggregation in _NO_CADENCE:
        ctx.report(root + ("aggregation",),
                   (f"aggregation = {aggregation!r} {_NO_CADENCE[aggregation]}: that is not "
                    f"a cadence, and a household is visited at one cadence",
                    f"aggregation = {aggregation!r} 得出的不是探访周期，而一户只能按一个周期探访"),
                   _ONE_CADENCE)


def tier_table(tiers: Sequence[_Tier], conds: Sequence[Ref], hit_policy: str,
               aggregation: str | None) -> HitTable:
    """The tiers with a condition as a DMN decision table (the default tier is the
    table's default output: it applies where no rule matches). A tier's output is its
    cadence, written ``P<months>M<days>D`` (so ``any`` compares cadences, not names).
    The output order of ``priority`` and ``output order`` is the tiers' ``priority``,
    highest first. ``collect`` with ``max`` / ``min`` compares how much care a tier
    calls for, its visits a month: the most is the shortest cadence, so the table's
    output for it is the cadence's length in days (``30.44`` a month, as the caseload
    counts) and ``max`` care is the smallest length (``min`` of that output)."""
    outputs: tuple[tuple[Any, ...], ...]
    if aggregation in ("max", "min"):
        outputs = tuple((t.cadence.months * _MONTH_DAYS + t.cadence.days,) for t in tiers)
        aggregation = "min" if aggregation == "max" else "max"
    else:
        outputs = tuple((f"P{t.cadence.months}M{t.cadence.days}D",) for t in tiers)
    rank = tuple(-(t.priority or 0) for t in tiers) if hit_policy in RANKED else ()
    return HitTable(hit_policy, tuple(conds), outputs, tuple(t.id for t in tiers), rank,
                    aggregation)
