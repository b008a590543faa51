"""What every decision carries so that it can be reproduced, reviewed and appealed.

A decision is a value plus the reasons for it: which rule applied, to which
fact values, against which threshold, with what effect, which dated
parameters were used, and the policy (id, version, content hash) and as-of
date that produced it. These are plain frozen dataclasses: cheap enough to be
always on, easy to turn into JSON.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True, slots=True)
class PolicyRef:
    """Which policy made a decision; ``hash`` identifies its content exactly."""

    id: str
    version: str
    hash: str
    source: str = ""

    @property
    def short_hash(self) -> str:
        return self.hash[:12]

    def __str__(self) -> str:
        return f"{self.id} {self.version} (sha256:{self.short_hash})"


@dataclass(frozen=True, slots=True)
class ParameterUse:
    """A policy parameter a decision used, and since when that value was in force."""

    path: str
    value: float
    since: dt.date | None = None

    def __str__(self) -> str:
        since = f" (in force since {self.since})" if self.since else ""
        return f"{self.path} = {self.value:g}{since}"


@dataclass(frozen=True, slots=True)
class Reason:
    """One step of a decision.

    ``code`` is stable and machine-readable (``CAP_HOURS_DAY``); ``rule`` names
    the policy rule (``volunteer.caps.hours_per_day``); ``message`` is the plain
    sentence shown to an officer or resident; ``facts`` are the values read.
    """

    code: str
    rule: str
    message: str
    facts: Mapping[str, Any] = field(default_factory=dict)
    threshold: Any = None
    effect: str = ""

    def __str__(self) -> str:
        return f"[{self.code}] {self.message}"


INTERNAL = {"internal": True}
"""``field(metadata=INTERNAL)``: a field a result keeps for its own methods (the compiled
scheme that shows it), which is not part of what it says (its JSON)."""


def to_jsonable(value: Any) -> Any:
    """Dataclasses, dates and mappings -> plain JSON types (for JSON Lines and logs)."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: to_jsonable(getattr(value, f.name)) for f in dataclasses.fields(value)
                if not f.metadata.get("internal")}
    if isinstance(value, (dt.date, dt.datetime)):
        return value.isoformat()
    if isinstance(value, Mapping):
        return {str(k): to_jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [to_jsonable(v) for v in value]
    return value
