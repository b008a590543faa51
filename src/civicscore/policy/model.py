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

Building these models is a good part of the command line's start-up time, so
this module, unlike the others, has no ``from __future__ import annotations``
(pydantic would otherwise evaluate every annotation from its text), and the
models are built when a policy is first validated (``defer_build``), as one
validator for the whole format rather than one per class.
"""

import datetime as dt
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from .dated import Dated, DatedValue

Id = Annotated[
    str,
    Field(pattern=r"^[A-Za-z][A-Za-z0-9_\-]*$", max_length=64,
          description="An identifier: a letter, then letters, digits, '_' or '-'."),
]
Expr = Annotated[str, Field(max_length=2000, description="An expression over declared facts.")]


def empty_list() -> list[Any]:
    """A new empty list: the ``default_factory`` of every list field of the format.

    Not ``list`` itself: building the validator, pydantic reads each factory's signature,
    and a builtin's is parsed from its text with ``tokenize`` (compiling its patterns the
    first time), about 10 ms of CPU of every ``civicscore check``; a Python function's
    signature is read from its code."""
    return []


def empty_dict() -> dict[str, Any]:
    """A new empty table: the ``default_factory`` of every table field (see
    :func:`empty_list`)."""
    return {}


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True,
                              populate_by_name=True, validate_default=True,
                              allow_inf_nan=False, defer_build=True)


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
        default_factory=empty_list,
        description="Keys of the extended policy that this file changes on purpose, "
                    "e.g. 'volunteer.activities.patrol.points_per_hour'.",
    )
    effective: Effective | None = None
    review_by: dt.date | None = Field(
        None, description="Date by which the policy must be reviewed; later loads warn."
    )
    references: list[Reference] = Field(default_factory=empty_list)
    description: str = ""


# --- [calendar] and [facts] ---------------------------------------------------------


class Calendar(_Model):
    """Public holidays, from the ``holidays`` package plus local adjustments."""

    name: str | None = Field(None, description="A holiday calendar provided by an installed "
                                               "plugin (civicscore plugins lists them).")
    country: str | None = Field("CN", description='ISO country code, or "none" for no '
                                                  'public holidays.')
    subdivision: str | None = None
    extra_holidays: list[dt.date] = Field(default_factory=empty_list)
    extra_workdays: list[dt.date] = Field(
        default_factory=empty_list, description="Days that are not holidays even if the country's "
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
    optional: bool = Field(False, description="date facts only: a missing value means "
                                              "'never' (read as 0001-01-01, long ago).")
    care_need: bool = Field(False, description="The fact describes a care need; only such "
                                               "facts may be read by visit tiers, and only "
                                               "when they declare their concept. Implied "
                                               "by 'concept'.")
    concept: str | None = Field(
        None, description="The care-need concept the fact carries, from civicscore's closed "
                          "vocabulary (civicscore concepts; docs/responsible-use.md), "
                          "e.g. 'age', 'lives_alone', 'hospital_discharge'. Visit tiers read "
                          "only facts that declare one; it makes the fact a care need.")

    @model_validator(mode="before")
    @classmethod
    def _concept_is_a_care_need(cls, data: Any) -> Any:
        """A fact that names a care concept is a care need; saying so twice is optional."""
        if isinstance(data, dict) and data.get("concept") is not None \
                and "care_need" not in data:
            return {**data, "care_need": True}
        return data


# --- [volunteer] ------------------------------------------------------------------


class Category(Labelled):
    # the default is a DatedValue, as the type says; the schema shows it as officers write it
    coefficient: Dated = Field(DatedValue.constant(1.0), json_schema_extra={"default": 1.0},
                               description="Points of activities in this category "
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
    point_expiry_months: int | None = Field(
        None, ge=1, le=1200,
        description="Points expire this many months after they were earned; hours never do.")
    multiplier_rule: Literal["max", "product"] = Field(
        "max", description="When several multipliers apply: the largest, or their product.")
    star_hours: Literal["service", "counted"] = Field(
        "service", description="Hours that build star levels: rounded service time, or the "
                               "hours counted for points after max_hours and hour caps.")
    caps: Caps = Field(default_factory=Caps)
    categories: dict[str, Category] = Field(default_factory=empty_dict)
    activities: dict[str, Activity] = Field(default_factory=empty_dict)
    multipliers: list[Multiplier] = Field(default_factory=empty_list)
    star_levels: list[StarLevel] = Field(default_factory=empty_list)


# --- [civility] ------------------------------------------------------------------


class Star(Labelled):
    """One criterion; a household meeting it earns the star."""

    id: Id
    when: Expr


class Title(Labelled):
    """A title held from ``min_stars`` stars up (the highest one reached applies)."""

    min_stars: int = Field(ge=0)


class Civility(_Model):
    """Household civility stars: a star per criterion met; titles by star count."""

    entity: Id = Field("household", description="Which [facts.<entity>] the criteria read.")
    review_years: int = Field(1, ge=1, le=10, description="Stars are valid this many years "
                                                          "from the review date.")
    bar_years: int = Field(1, ge=0, le=10, description="After a revocation, no stars for "
                                                       "this many years.")
    stars: list[Star] = Field(min_length=1)
    titles: list[Title] = Field(default_factory=empty_list)


# --- [visits] ------------------------------------------------------------------------

#: The cadence words a policy may write, and the Chinese an officer may type for each.
CADENCE_WORDS = ("daily", "weekly", "fortnightly", "monthly", "bimonthly", "quarterly",
                 "half-yearly", "yearly")
CADENCE_ZH = {"每天": "daily", "每日": "daily", "每周": "weekly", "每星期": "weekly",
              "每两周": "fortnightly", "每半月": "fortnightly", "每月": "monthly",
              "每个月": "monthly", "每两个月": "bimonthly", "每两月": "bimonthly",
              "每季度": "quarterly", "每季": "quarterly", "每半年": "half-yearly",
              "每年": "yearly"}


Cadence = Annotated[str, Field(
    pattern=r"^(P(\d+[YMWD])+|daily|weekly|fortnightly|monthly|bimonthly|quarterly|"
            r"half-yearly|yearly)$",
    description="An ISO-8601 period such as P7D, P1M, P2M, or daily, weekly, fortnightly, "
                "monthly, bimonthly, quarterly, half-yearly, yearly.")]


class Tier(Labelled):
    """A care tier: who needs a liaison to look in, and how often."""

    id: Id
    when: Expr | None = Field(None, description="Condition on care-need facts; the default "
                                                "tier has none.")
    cadence: Cadence
    priority: int | None = Field(None, description="hit_policy = 'priority': the matching "
                                                   "tier with the highest priority wins; "
                                                   "'output order': the matching tiers are "
                                                   "listed by it, highest first.")


class Trigger(Labelled):
    """An event that pulls the next visit forward, e.g. a hospital discharge."""

    id: Id
    event: Expr = Field(description="A date expression: when the event happened.")
    when: Expr = Field("True", description="An extra condition for the trigger to apply.")
    within_days: int = Field(ge=0, le=366, description="Visit within this many days of the "
                                                       "event (1 = within 24 hours).")


class Capacity(_Model):
    households_per_liaison: int | None = Field(None, ge=1)
    visits_per_month: float | None = Field(None, gt=0, description="Visits one liaison can "
                                                                   "make in a month.")


class Visits(_Model):
    """Care visit tiers, chosen from care needs only."""

    entity: Id = "household"
    hit_policy: Literal["first", "priority", "unique", "any", "rule order", "output order",
                        "collect"] = Field("first", description=(
        "How the tier is chosen when several conditions hold (DMN's hit policies): "
        "first, priority, unique, any (all matching tiers must have the same cadence), "
        "rule order / output order (every matching tier is listed, the household is "
        "placed in the first), collect (with aggregation max or min)."))
    aggregation: Literal["max", "min", "sum", "count"] | None = Field(None, description=(
        "Only with hit_policy = 'collect': max places a household in the matching tier "
        "that visits most often (the most care any matching tier calls for), min in the "
        "one that visits least often. sum and count give no cadence, and are refused."))
    default_tier: Id = Field(description="The tier of a household no other tier matches.")
    max_interval: Cadence | None = Field(None, description="No tier's cadence may be longer "
                                                           "(e.g. P2M: everyone at least every "
                                                           "two months).")
    tiers: list[Tier] = Field(min_length=1)
    triggers: list[Trigger] = Field(default_factory=empty_list)
    capacity: Capacity = Field(default_factory=Capacity)


# --- [appraisal] ---------------------------------------------------------------------


class Step(_Model):
    at: float
    score: float = Field(ge=0, le=100)


class Band(_Model):
    from_: float = Field(alias="from", description="Lower bound, inclusive.")
    to: float = Field(description="Upper bound, exclusive (the last band's is inclusive).")
    score: float = Field(ge=0, le=100)


class Normalise(_Model):
    """How a raw indicator value becomes a 0-100 score."""

    method: Literal["linear", "thresholds", "bands", "none"]
    floor: float | None = Field(None, description="linear: the value scoring 0.")
    target: float | None = Field(None, description="linear: the value scoring 100.")
    higher_is_better: bool = True
    steps: list[Step] = Field(default_factory=empty_list,
                              description="thresholds: the score of the highest step reached.")
    bands: list[Band] = Field(default_factory=empty_list)


class Indicator(Labelled):
    id: Id
    group: Id | None = None
    weight: float = Field(gt=0, le=1, description="Weight within its group (or overall).")
    value: Expr | None = Field(None, description="Expression giving the raw value.")
    raters: dict[str, float] = Field(
        default_factory=empty_dict, description="Rater-weighted value: fact name -> rater weight, "
                                          "e.g. { staff = 3, users = 6 }.")
    normalise: Normalise


class Veto(Labelled):
    """A critical item: when it holds, the lowest grade (after human confirmation)."""

    id: Id
    when: Expr


class Grade(Labelled):
    id: Id
    min_score: float = Field(ge=0, le=100)


class Group(Labelled):
    weight: float = Field(gt=0, le=1)


class Quota(_Model):
    """At most ``max_share`` of a cohort may hold ``grade``; the rest move down one grade."""

    grade: Id
    max_share: float = Field(gt=0, le=1)
    rounding: Literal["floor", "round_half_up", "ceil"] = "floor"
    tie_break: list[str] = Field(
        default_factory=lambda: ["total", "subject_id"],
        description="Order for keeping the grade: 'total' (higher first), "
                    "'indicator:<id>' (higher score first), 'subject_id' (ascending).")
    cohort_by: list[Id] = Field(
        default_factory=empty_list,
        description="Facts whose values split the cohort, e.g. [\"street\"]: the share "
                    "applies within each street separately. A subject lacking a value is "
                    "rejected (COHORT_MISSING).")


class Scorecard(Labelled):
    """One of several scorecards in one policy (``[[appraisal.scorecard]]``): the
    subjects its ``applies_to`` holds for are scored by its own indicators, grades,
    vetoes and quota (two scorecards never share a quota). Its subjects carry the
    facts of its ``entity`` (by default the appraisal's)."""

    id: Id
    applies_to: Expr = Field(description="Which subjects this scorecard appraises: a "
                                          "condition over the subject's facts, e.g. "
                                          "kind == \"project\".")
    entity: Id | None = Field(None, description="The [facts.<entity>] its subjects carry "
                                                "(default: the appraisal's entity).")
    indicators: list[Indicator] = Field(min_length=1)
    groups: dict[str, Group] = Field(default_factory=empty_dict)
    grades: list[Grade] = Field(min_length=2)
    vetoes: list[Veto] = Field(default_factory=empty_list)
    quota: Quota | None = None


class Appraisal(_Model):
    """Weighted indicator scorecards with grade bands, vetoes and a quota: one scorecard
    written in [appraisal] itself, several as [[appraisal.scorecard]], or both (then
    [appraisal]'s own is for the subjects no [[appraisal.scorecard]] applies to)."""

    entity: Id = "subject"
    id: Id = Field("main", description="The id of [appraisal]'s own scorecard, as decisions "
                                       "name it when the policy has [[appraisal.scorecard]] "
                                       "tables too.")
    label: str = Field("", description="The name of [appraisal]'s own scorecard (policy "
                                       "locale).")
    label_en: str = Field("", description="Its English name.")
    indicators: list[Indicator] = Field(default_factory=empty_list)
    groups: dict[str, Group] = Field(default_factory=empty_dict)
    grades: list[Grade] = Field(default_factory=empty_list)
    vetoes: list[Veto] = Field(default_factory=empty_list)
    quota: Quota | None = None
    scorecard: list[Scorecard] = Field(
        default_factory=empty_list,
        description="Several scorecards, each for the subjects its applies_to holds for.")

    @property
    def has_own(self) -> bool:
        """Whether [appraisal] holds a scorecard itself (indicators or grades written)."""
        return bool(self.indicators or self.grades)

    @model_validator(mode="after")
    def _one_form(self) -> "Appraisal":
        if self.scorecard and not self.has_own:
            written = [k for k in ("groups", "vetoes", "quota") if k in self.model_fields_set]
            if written:
                raise ValueError(f"[appraisal] has {', '.join(written)} but no indicators or "
                                 f"grades of its own: put them inside each "
                                 f"[[appraisal.scorecard]]")
            return self
        if not self.indicators:
            raise ValueError("[appraisal] needs at least 1 indicator "
                             "([[appraisal.indicators]]), or [[appraisal.scorecard]] tables")
        if len(self.grades) < 2:
            raise ValueError("[appraisal] needs at least 2 grades ([[appraisal.grades]])")
        return self


# --- [[case]]: policy tests as data ----------------------------------------------


class Case(_Model):
    """A worked example kept in the policy: input, as-of date and expected output.

    ``civicscore test`` (and pytest, through civicscore's pytest plugin) runs
    every case and reports which rules no case exercised.
    """

    name: str = Field(min_length=1)
    scheme: Id
    as_of: dt.date
    input: dict[str, Any] | None = Field(None, description="One input record.")
    records: list[dict[str, Any]] = Field(default_factory=empty_list,
                                          description="Several input records.")
    redemptions: list[dict[str, Any]] = Field(default_factory=empty_list,
                                              description="volunteer: redemption records.")
    inputs: dict[str, list[dict[str, Any]]] = Field(
        default_factory=empty_dict, description="Other extra inputs of the scheme, by name "
                                          "(as score --with NAME=FILE gives them).")
    expect: dict[str, Any] | list[dict[str, Any]] = Field(
        description="Expected output: one row's fields, or a list of rows in order.")
    expect_details: dict[str, Any] | list[dict[str, Any]] | None = Field(
        None, description="Expected detail rows (as written by score --details).")
    tolerance: float = Field(0.0, ge=0, description="Allowed difference for numbers.")
    lang: Literal["zh", "en"] | None = Field(
        None, description="The language the expected reasons are written in (default: the "
                          "policy's locale, else en). The case is decided in it whatever "
                          "--lang or CIVICSCORE_LANG says, so it means one thing everywhere.")
    tags: list[str] = Field(default_factory=empty_list)
    description: str = ""


# --- the whole file ----------------------------------------------------------------


class PolicyModel(_Model):
    """A civicscore policy file.

    This class holds the tables every policy may have; each scheme's section
    (``[volunteer]``, ``[visits]``, a plugin's ``[greeting]``) is the model its
    registration brings, added by ``civicscore.plugins.policy_model`` (the
    class that loading validates against, also named ``PolicyModel``).
    """

    policy: PolicyMeta
    calendar: Calendar = Field(default_factory=Calendar)
    facts: dict[str, dict[str, FactSpec]] = Field(
        default_factory=empty_dict,
        description="Typed inputs by entity: [facts.household], [facts.activity], ...",
    )
    case: list[Case] = Field(default_factory=empty_list, description="Policy tests as data.")
