"""The policy file format, as pydantic models.

These models *are* the format: the loader validates TOML against them, the
JSON Schema that editors use is generated from them, and ``docs/policy-format.md``
describes them for officers. They forbid unknown keys (a misspelt key is an
error with a "did you mean", never silently ignored), are frozen (a loaded
policy cannot be changed behind its content hash), and are strict (``"2"`` is
not a number; TOML has real numbers, dates and booleans, so officers never
need to quote them).

Expressions are kept as text here; ``policy.compile`` checks them against the
declared facts, because that needs the whole policy.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from .dated import Dated

Id = Annotated[
    str,
    Field(pattern=r"^[A-Za-z][A-Za-z0-9_\-]*$", max_length=64,
          description="An identifier: a letter, then letters, digits, '_' or '-'."),
]
Expr = Annotated[str, Field(max_length=2000, description="An expression over declared facts.")]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True,
                              populate_by_name=True, validate_default=True)


class Labelled(_Model):
    label: str = Field("", description="Name shown to officers and residents (policy locale).")
    label_en: str = Field("", description="English name, for bilingual output.")
    description: str = Field("", description="Longer explanation, shown in explanations.")


# --- [policy] -----------------------------------------------------------------


class Reference(_Model):
    """A public source the policy encodes (a regulation, a report)."""

    title: str
    url: str = ""
    note: str = ""


class Effective(_Model):
    from_: dt.date = Field(alias="from", description="First day the policy applies.")
    to: dt.date | None = Field(None, description="Last day the policy applies (inclusive).")


class PolicyMeta(_Model):
    id: Id
    version: str = Field(min_length=1, max_length=64)
    title: str = ""
    locale: str = Field("zh-CN", description="Language of labels, e.g. zh-CN or en.")
    extends: str | None = Field(
        None, description="A policy to inherit from: a path relative to this file, or a name."
    )
    overrides: list[str] = Field(
        default_factory=list,
        description="Keys of the extended policy that this file changes on purpose, "
                    "e.g. 'volunteer.activities.patrol.points_per_hour'.",
    )
    effective: Effective | None = None
    review_by: dt.date | None = Field(
        None, description="Date by which the policy must be reviewed; later loads warn."
    )
    references: list[Reference] = Field(default_factory=list)
    description: str = ""


# --- [calendar] and [facts] ---------------------------------------------------------


class Calendar(_Model):
    """Public holidays, from the ``holidays`` package plus local adjustments."""

    country: str | None = Field("CN", description="ISO country code, or none for no holidays.")
    subdivision: str | None = None
    extra_holidays: list[dt.date] = Field(default_factory=list)
    extra_workdays: list[dt.date] = Field(
        default_factory=list, description="Days that are not holidays even if the country's "
                                          "calendar says so (make-up working days).")


FactType = Literal["bool", "int", "decimal", "string", "date", "enum"]


class FactSpec(Labelled):
    """One input the rules may read, with its type and allowed range."""

    type: FactType
    values: list[str] | None = Field(None, description="Allowed values of an enum fact.")
    min: float | None = None
    max: float | None = None
    default: bool | int | float | str | dt.date | None = Field(
        None, description="Value used when a record leaves the fact out; "
                          "without a default the fact is required.")
    unit: str = ""


# --- [volunteer] ------------------------------------------------------------------


class Category(Labelled):
    coefficient: Dated = Field(1.0, description="Points of activities in this category "
                                                "are multiplied by this.")


class Activity(Labelled):
    category: str | None = None
    points_per_hour: Dated | None = None
    points_per_event: Dated | None = None
    max_hours: Dated | None = Field(None, description="Most hours counted for one record.")


class Multiplier(Labelled):
    id: Id
    when: Expr
    factor: Dated


class StarLevel(Labelled):
    stars: int = Field(ge=1, le=10)
    hours: float = Field(gt=0, description="Cumulative service hours needed.")


class Caps(_Model):
    hours_per_day: Dated | None = None
    points_per_day: Dated | None = None
    hours_per_month: Dated | None = None
    points_per_month: Dated | None = None


class Volunteer(_Model):
    """Volunteer points: activities earn points; hours build star levels."""

    rounding_minutes: int = Field(1, ge=1, le=240, description="Service time is counted in "
                                                                "units of this many minutes.")
    rounding: Literal["down", "nearest", "up"] = "down"
    points_decimals: int = Field(2, ge=0, le=6)
    submission_window_days: int | None = Field(
        None, ge=0, description="Records submitted more than this many days after the "
                                "activity ended are rejected.")
    confirmation_required: bool = True
    overlap: Literal["reject", "allow"] = Field(
        "reject", description="reject: a volunteer cannot be in two activities at once; the "
                              "later-starting record is rejected.")
    point_expiry_months: int | None = Field(None, ge=1, description="Points expire this many "
                                                                    "months after they were "
                                                                    "earned; hours never do.")
    multiplier_rule: Literal["max", "product"] = Field(
        "max", description="When several multipliers apply: the largest, or their product.")
    star_hours: Literal["service", "counted"] = Field(
        "service", description="Hours that build star levels: rounded service time, or the "
                               "hours counted for points after max_hours and hour caps.")
    caps: Caps = Field(default_factory=Caps)
    categories: dict[str, Category] = Field(default_factory=dict)
    activities: dict[str, Activity] = Field(default_factory=dict)
    multipliers: list[Multiplier] = Field(default_factory=list)
    star_levels: list[StarLevel] = Field(default_factory=list)


# --- the whole file ----------------------------------------------------------------


class PolicyModel(_Model):
    """A civicscore policy file."""

    policy: PolicyMeta
    calendar: Calendar = Field(default_factory=Calendar)
    facts: dict[str, dict[str, FactSpec]] = Field(
        default_factory=dict,
        description="Typed inputs by entity: [facts.household], [facts.activity], ...",
    )
    volunteer: Volunteer | None = None
