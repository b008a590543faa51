"""Hengshui's community-space targets, which are about a cohort, not one community.

The public report sets two targets that no single community's appraisal can
express (civicscore's appraisal scores one subject at a time; only the quota
looks at a cohort):

* by year end, each county builds at least one community space of 500 m² or
  more (衡水：年底前每个县至少建成一个500平方米以上的社区服务用房);
* within three years, demonstration communities of over 1,000 m² reach 20% or
  more of all communities (三年内1000平方米以上的示范社区达到20%以上).

This module checks both over the same community records the appraisal scores
(``county`` and ``community_space_m2``). The two areas are read from the
policy's ``community_space`` indicator (its lowest and highest steps), so the
policy stays the one place where they are written; only the 20% share lives here.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

DEMONSTRATION_SHARE_TARGET = 0.2
"""Share of communities with a demonstration-size space (over 1,000 m²) to reach."""

NO_COUNTY = "(no county)"


@dataclass(frozen=True)
class CountySpace:
    """One county: its communities and whether one of them has a 500 m²+ space."""

    county: str
    communities: int
    with_minimum_space: int
    target_met: bool


@dataclass(frozen=True)
class SpaceTargets:
    """Both targets over a cohort of communities."""

    minimum_m2: float
    demonstration_m2: float
    counties: tuple[CountySpace, ...]
    communities: int
    demonstration_communities: int
    demonstration_share: float
    demonstration_target_met: bool

    @property
    def counties_short(self) -> tuple[str, ...]:
        """Counties without any community space of the minimum size yet."""
        return tuple(c.county for c in self.counties if not c.target_met)


def space_thresholds(policy: Any) -> tuple[float, float]:
    """(minimum, demonstration) areas in m², from the policy's ``community_space`` steps."""
    for indicator in policy.model.appraisal.indicators:
        if indicator.id == "community_space":
            steps = sorted(s.at for s in indicator.normalise.steps)
            return steps[0], steps[-1]
    raise LookupError("the policy has no 'community_space' indicator")


def space_targets(policy: Any, communities: Iterable[Mapping[str, Any]]) -> SpaceTargets:
    """Check the county and demonstration targets over ``communities``.

    Each record needs ``community_space_m2`` (a number); ``county`` may be blank
    (such communities are counted under ``(no county)``). A value that is not a
    number raises ``ValueError`` naming the record.
    """
    minimum, demonstration = space_thresholds(policy)
    per_county: dict[str, list[float]] = {}
    for row, record in enumerate(communities, start=1):
        who = record.get("subject_id") or f"row {row}"
        try:
            area = float(record["community_space_m2"])
        except (KeyError, TypeError, ValueError) as exc:
            raise ValueError(f"community {who}: community_space_m2 is missing or not a "
                             f"number ({record.get('community_space_m2')!r})") from exc
        county = str(record.get("county") or "").strip() or NO_COUNTY
        per_county.setdefault(county, []).append(area)
    counties = tuple(
        CountySpace(name, len(areas), sum(a >= minimum for a in areas),
                    any(a >= minimum for a in areas))
        for name, areas in sorted(per_county.items()))
    total = sum(c.communities for c in counties)
    demo = sum(a >= demonstration for areas in per_county.values() for a in areas)
    share = demo / total if total else 0.0
    return SpaceTargets(minimum, demonstration, counties, total, demo, share,
                        total > 0 and share >= DEMONSTRATION_SHARE_TARGET)
