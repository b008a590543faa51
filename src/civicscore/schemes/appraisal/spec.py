"""The appraisal scheme's registration: what the framework needs to know of it.

``SPEC`` is passed to the ``register_schemes`` hook by the built-in plugin,
exactly as a locality plugin registers a scheme of its own (``schemes.builtins``).
"""

from __future__ import annotations

from typing import Any

from ...policy.model import Appraisal
from ..base import ONE_GROUP, SchemeSpec, Split, check_one_of
from .cards import compile_appraisal
from .scheme import AppraisalResult, AppraisalScheme


def check_grade(policy: Any, decision: Any, value: Any) -> None:
    """A reviewer's grade: one of the policy's grade bands."""
    section: Appraisal | None = policy.model.appraisal
    if section is not None:
        cards: list[Any] = [*section.scorecard] or [section]
        grades = [g.id for card in cards for g in card.grades]
        check_one_of(policy, "grade", list(dict.fromkeys(grades)), value)


def scorecard_entities(section: Any) -> list[str]:
    """The entities of its [[appraisal.scorecard]] tables that name their own."""
    return [c.entity for c in getattr(section, "scorecard", ()) if c.entity]


SPEC = SchemeSpec(
    "appraisal", compile_appraisal, Appraisal, entity_key="entity",
    record_fields=("subject_id",), input_kind="subjects", noun="subjects",
    outputs="one decision per subject (total, grade, vetoes, quota)",
    details="the trace of every indicator of every subject",
    result_type=AppraisalResult, scheme_type=AppraisalScheme,
    decision_type="AppraisalDecision", overridable={"grade": check_grade},
    split=Split("subject_id", group_by=ONE_GROUP),  # the quota ranks the whole cohort
    more_entities=scorecard_entities)
