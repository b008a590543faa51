"""What every scheme offers, and the registry entry that tells the framework about it.

A scheme is compiled from its TOML section by a ``compile_<name>(ctx)``
function and answers two questions: *score these records* (``run``) and
*explain this one record* (``explain_record``). A run's result can say what
it produced (``output_rows``: one row per decision, the main output), give
more detail (``detail_rows``: per record, per star, per indicator, per
liaison, as the scheme sees fit), list every rejected row with its reasons
(``rejected_rows``), and summarise itself in one line for stderr.

Everything else the framework needs to know about a scheme (its TOML section
and model, the record fields it reads itself, its extra inputs, what its
output and detail rows are, how its decisions are logged and reviewed) is a
:class:`SchemeSpec`, registered through the ``register_schemes`` hook, by the
built-in schemes exactly as by a plugin. The CLI, the loader, the decision
log and the case runner read the spec and never a scheme's name, so a plugin
scheme is scored, explained, logged and tested like a built-in one.
"""

from __future__ import annotations

import datetime as dt
import importlib
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar, Protocol

from ..errors import ReviewError
from ..messages import joined, language, noun, say

REJECT_COLUMNS = ("input", "row", "id", "reason_codes", "reasons")


class SchemeRun(Protocol):
    """The result of scoring a batch of records with one scheme."""

    def output_rows(self) -> Iterator[dict[str, Any]]:
        """One row per decision (or per statement), with the policy reference columns."""
        ...

    def detail_rows(self) -> Iterator[dict[str, Any]]:
        """Finer-grained rows for audit (what each scheme finds most useful)."""
        ...

    def rejected_rows(self) -> list[dict[str, Any]]:
        """Every rejected input row: ``input``, ``row``, ``id``, ``reason_codes``, ``reasons``."""
        ...

    def summary(self) -> str:
        """One line for stderr: how many rows were read, scored and rejected."""
        ...

    def table(self) -> tuple[str, list[str], list[list[str]]]:
        """A title, column names and rows, for a human-readable table on a terminal."""
        ...


class Scheme(Protocol):
    """A compiled scheme section of a policy."""

    #: Names of extra inputs ``run`` accepts besides the records (e.g. "redemptions").
    extra_inputs: tuple[str, ...]

    def run(self, records: Iterable[Any], *, as_of: dt.date,
            **extra: Iterable[Any]) -> SchemeRun:
        ...

    def explain_record(self, record: Mapping[str, Any], *, as_of: dt.date) -> str:
        ...


class BatchEngine:
    """A scheme's ``batch()``: its columnar (polars) engine, named by reference.

    The batch module of a scheme builds on the per-record one (it reads the
    compiled rules and words reasons with the same functions), so it imports
    it; the per-record module must not import the batch module back. A scheme
    class names its engine as ``"module:function"`` (as an entry point does),
    and the engine is imported when ``batch()`` is first called: ``import
    civicscore`` never imports polars, and no civicscore module imports one that
    imports it back. A plugin scheme gets a batch engine the same way.
    """

    #: ``"package.module:function"``; the function is called as
    #: ``function(scheme, source, as_of=..., **extra)`` and returns a ``BatchResult``.
    batch_engine: ClassVar[str]

    def batch(self, source: Any, *, as_of: dt.date, **extra: Any) -> Any:
        """Decide every record of ``source`` (a polars, pandas or Arrow frame, a list of
        records, or a CSV, JSON Lines, JSON or Parquet path) with the batch engine
        (``pip install 'civicscore[batch]'``).

        The result is a ``BatchResult`` whose output, detail and rejected rows equal
        the per-record ``run(...)``'s, row for row and value for value
        (``civicscore.testing.assert_evaluators_agree`` checks it).
        """
        module, _, name = self.batch_engine.partition(":")
        engine = getattr(importlib.import_module(module), name)
        result = engine(self, source, as_of=as_of, **extra)
        if getattr(result, "shown_by", self) is None:
            result.shown_by = self  # its summary and table are this scheme's presenter's
        return result


def reject_row(kind: str, row: int, ident: str, codes: Iterable[str],
               messages: Iterable[str]) -> dict[str, Any]:
    """The common shape of a rejected row, whatever the scheme."""
    return {"input": kind, "row": row, "id": ident, "reason_codes": list(codes),
            "reasons": list(messages)}


def policy_columns(ref: Any) -> dict[str, Any]:
    """The columns that tie an output row to the policy that produced it."""
    return {"policy_id": ref.id, "policy_version": ref.version, "policy_hash": ref.hash}


# --- the registry entry -------------------------------------------------------------

#: Top-level policy tables that belong to the format itself, never to a scheme.
CORE_SECTIONS = ("policy", "calendar", "facts", "case")

LoggedRow = tuple[str, str, "int | None", dict[str, Any]]
"""One decision as the decision log keeps it: kind, key, input row (or None), result row."""

ValueCheck = Callable[[Any, Any, Any], None]
"""``check(policy, decision, value)``: raise ``CivicScoreError`` if a person may not
set ``value`` (a tier, a grade) for this decision under ``policy``."""


def check_one_of(policy: Any, what: str, ids: Sequence[str], value: Any) -> None:
    """The check of an override that must name one of the policy's ids (a tier, a grade):
    a :class:`ValueCheck` of a built-in or a plugin scheme calls it with the ids it allows."""
    if value not in ids:
        raise ReviewError(f"{value!r} is not a {what} of {policy.id}: {', '.join(ids)}")


def log_output_rows(run: SchemeRun) -> Iterator[LoggedRow]:
    """The default decision-log view of a run: one decision per output row, keyed by row."""
    for row in run.output_rows():
        yield "record", str(row["row"]), row["row"], row


ONE_GROUP = "*"
"""``Split.group_by`` of a scheme whose rows all interact (one appraisal cohort)."""


@dataclass(frozen=True)
class Split:
    """Which rows of a scheme's input must be decided together, for an engine that splits
    the input over machines (``civicscore.spark``); the rest is the scheme's own batch.

    * ``id_field``: a repeat of this id anywhere in the input is a duplicate of its first
      row (found over the whole input, so it is found across parts too);
    * ``group_by``: the record field within whose values rows interact (a liaison's
      caseload, a volunteer's caps and overlaps); None where rows are independent,
      :data:`ONE_GROUP` where the whole input is one group (an appraisal cohort);
    * ``duplicates``: how a duplicate in another group than its first row is decided.
      ``"move"``: in the first row's group (it is rejected, and a rejected row counts in
      no group's result); ``"ghost"``: in its own group, beside a copy of the first row
      that holds only its id (rejected, and left out of the result), for a scheme whose
      group results count rejected rows (a volunteer's statement counts them);
    * ``order``: the columns that order a result frame whose rows are groups, not input
      rows (``{"details": ("liaison_id",)}``), with ``last`` the values sorted after all
      others ("(unassigned)"); frames with a ``row`` column are ordered by it;
    * ``extra``: the scheme's extra inputs that can be split too, each with the field of
      its rows that names a group (``{"redemptions": "volunteer_id"}``): a row of it is
      sent to the part holding the records of that group (it touches only that group's
      results), and keeps its row number in its own whole input. An extra input's rows
      that are rejected come after the records' in ``rejected`` (in this order), and a
      result frame named like the input (``redemptions``) holds its rows, by row.
    """

    id_field: str
    group_by: str | None = None
    duplicates: str = "move"
    order: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    last: tuple[str, ...] = ()
    extra: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class SchemeSpec:
    """Everything scheme-specific the framework needs, in one registry entry.

    ``name`` is at once the policy's TOML section, the ``--scheme`` of the
    command line and the ``scheme`` of a ``[[case]]``; ``model`` is the
    pydantic model of that section (forbidding unknown keys, so a misspelt key
    is located); ``compiler(ctx)`` checks the section and returns the compiled
    :class:`Scheme`.

    The rest describes the records and results, so that nothing outside the
    registration names a scheme:

    * ``entity`` (a fixed name) or ``entity_key`` (the key of the section that
      names it, as ``[visits] entity = "household"``): the ``[facts.<entity>]``
      its records carry;
    * ``record_fields``: the fields the scheme reads from every record itself
      (ids, dates); a fact may not be named like one, or every record would be
      rejected;
    * ``extra_inputs``: inputs besides the records (``redemptions``), given on
      the command line as ``--with NAME=FILE`` and in cases as tables of
      that name;
    * ``input_kind`` and ``noun``: the ``input`` column of its rejected rows
      and the word for its records in the summary ("households");
    * ``outputs`` / ``details``: what its output rows (the main output of
      ``civicscore score``, one per decision) and its detail rows (``--details``)
      are, in words, for help and docs;
    * ``result_type`` / ``scheme_type``: the classes of its run result and its
      compiled scheme (for documentation and type checkers);
    * ``log``: its decisions as the decision log records them (by default one
      per output row, of kind ``"record"``); ``log_inputs`` maps another kind of
      decision to the extra input whose rows it decides (``{"redemption":
      "redemptions"}``), so the log keeps those rows and replay and appeal feed
      them back; ``log_keys`` maps a kind of decision that belongs to no one
      input row (a volunteer's statement) to the result field that keys it;
    * ``decision_type`` and ``overridable``: which values of which decisions a
      person may override, each with a check of the new value;
    * ``mentions``: tables of its section whose entries name what people *do*
      (volunteer activities): their names and labels may mention a protected
      characteristic (党员志愿服务) with a warning, where any other text of a
      policy is refused (``policy.protected``);
    * ``allocates_care``: its section allocates care (visit tiers), so wording of
      control or surveillance (管控, key person) is refused in it too;
    * ``split``: which rows must be decided together when the input is split over
      machines (:class:`Split`); None: the input is never split;
    * ``more_entities``: the other entities a section's records may carry facts of
      (``entities_of``), for a section whose rules name several.
    """

    name: str
    compiler: Callable[[Any], Any]
    model: type[Any]
    plugin: str = ""
    entity: str | None = None
    entity_key: str | None = None
    record_fields: tuple[str, ...] = ()
    extra_inputs: tuple[str, ...] = ()
    input_kind: str = "records"
    noun: str = "records"
    outputs: str = "one row per decision"
    details: str = ""
    result_type: type[Any] | None = None
    scheme_type: type[Any] | None = None
    log: Callable[[Any], Iterable[LoggedRow]] = log_output_rows
    log_inputs: Mapping[str, str] = field(default_factory=dict)
    log_keys: Mapping[str, str] = field(default_factory=dict)
    decision_type: str | None = None
    overridable: Mapping[str, ValueCheck | None] = field(default_factory=dict)
    mentions: tuple[str, ...] = ()
    allocates_care: bool = False
    split: Split | None = None
    #: every ``[facts.<entity>]`` its records may carry, when a section names more than
    #: one (appraisal scorecards of other subjects); None: just ``entity_of``'s
    more_entities: Callable[[Any], Iterable[str]] | None = None

    def entities_of(self, section: Any) -> tuple[str, ...]:
        """Every ``[facts.<entity>]`` the records of this section may carry: its entity
        first, then any others it names (``more_entities``)."""
        first = self.entity_of(section)
        out = [first] if first is not None else []
        if self.more_entities is not None and section is not None:
            out += [e for e in self.more_entities(section) if e not in out]
        return tuple(out)

    def entity_of(self, section: Any) -> str | None:
        """Which ``[facts.<entity>]`` the records of this (validated) section carry."""
        if self.entity is not None:
            return self.entity
        if self.entity_key is not None:
            value = getattr(section, self.entity_key, None)
            return value if isinstance(value, str) else None
        return None


def scheme_spec(name: str, compiler: Callable[[Any], Any], model: type[Any],
                *, plugin: str = "", **about: Any) -> SchemeSpec:
    """A :class:`SchemeSpec` from the arguments of the ``register_schemes`` callback."""
    known = {f for f in SchemeSpec.__dataclass_fields__} - {"name", "compiler", "model",
                                                            "plugin"}
    unknown = sorted(set(about) - known)
    if unknown:
        raise TypeError(f"unknown scheme attribute(s) {', '.join(unknown)} "
                        f"(known: {', '.join(sorted(known))})")
    for key in ("record_fields", "extra_inputs", "mentions"):
        if key in about:
            about[key] = tuple(about[key])
    return SchemeSpec(name, compiler, model, plugin, **about)


def rejected_counts(rejected: Sequence[Mapping[str, Any]] | Iterable[str],
                    ) -> dict[str, int]:
    """How many rejected rows each input has (``activities``, ``redemptions``)."""
    counts: dict[str, int] = {}
    for r in rejected:
        kind = r if isinstance(r, str) else str(r["input"])
        counts[kind] = counts.get(kind, 0) + 1
    return counts


class Described(Protocol):
    """What the summary line needs to know about a scheme (a :class:`SchemeSpec` or a
    :class:`Presenter` both are)."""

    noun: str
    input_kind: str


def summary_line(spec: Described, *, rows_in: int, rejected: Mapping[str, int],
                 warnings: Sequence[str], policy: Any, as_of: dt.date,
                 notes: Sequence[str] = ()) -> str:
    """The one stderr line of ``civicscore score``, the same whichever engine ran.

    It is built only from what both engines produce identically (rows read,
    rejected rows per input, the ``warnings`` of the detail rows, the scheme's
    :meth:`Presenter.notes` on the output and detail rows), never from one
    engine's own bookkeeping; its words come from the catalogue
    (:mod:`civicscore.messages`) in the command's language, the notes too.
    """
    lang = language()  # the command's (see messages.language): one language per line
    main = rejected.get(spec.input_kind, 0)
    text = say("summary_counts", lang, scored=rows_in - main, rows_in=rows_in,
               noun=noun(spec.noun, lang), rejected=main)
    others = [say("summary_other_rejected", lang, kind=kind, n=n)
              for kind, n in sorted(rejected.items()) if kind != spec.input_kind]
    parts = [text, *others, *notes, say("summary_policy", lang, policy=policy, as_of=as_of)]
    if warnings:
        parts.append(say("summary_warnings", lang, warnings=joined(list(warnings), lang)))
    return joined(parts, lang)


# --- how a run is shown to a person -------------------------------------------------

Table = tuple[str, list[str], list[list[str]]]
"""A title, column names and rows of cells: ``--format table`` on a terminal."""

Column = Callable[[str], list[Any]]
"""The values of one column of a run's output (or detail) rows, in row order.

The per-record engine reads them off its row dicts, the batch engine off a frame's
column (``frame[name].to_list()``): a presenter reads only the columns it needs, so
summarising a million-row batch run does not build a million dicts."""


def column_of(rows: Sequence[Mapping[str, Any]]) -> Column:
    """A :data:`Column` over row dicts (the per-record engine's rows)."""
    return lambda name: [r[name] for r in rows]


def detail_warnings(details: Column, names: Sequence[str]) -> list[str]:
    """The ``warnings`` of the detail rows (a liaison over capacity), in row order."""
    if "warnings" not in names:
        return []
    return [w for ws in details("warnings") for w in (ws or ())]


TABLE_ROWS = 1000
"""Rows ``--format table`` shows at most (the rest are counted in the title): a table
is for reading on a terminal; a whole run goes to a file."""


class Presenter:
    """How a run of one scheme is shown to a person: its table and its summary line.

    Both are built from the run's output and detail rows alone, which both engines
    produce identically, so ``--engine`` cannot change what a person reads: the
    per-record result and the ``BatchResult`` of a scheme call the same presenter.
    A compiled scheme names its presenter class as ``presenter_type``; a scheme
    without one (a plugin's) gets this default: the output columns as they are
    and no notes.
    """

    #: The words of the summary line, as in the scheme's :class:`SchemeSpec`.
    noun: str = "records"
    input_kind: str = "records"
    #: What the table shows ("Care visits"), and its columns (empty: every output column).
    title: ClassVar[str] = ""
    columns: ClassVar[tuple[str, ...]] = ()

    def __init__(self, scheme: Any, spec: SchemeSpec | None = None) -> None:
        self.scheme = scheme
        if spec is not None and type(self) is Presenter:  # a scheme without a presenter
            self.noun, self.input_kind = spec.noun, spec.input_kind

    def cells(self, row: Mapping[str, Any]) -> list[str]:
        """The table cells of one output row (``columns`` of them)."""
        return [", ".join(map(str, v)) if isinstance(v, (list, tuple)) else
                "" if v is None else str(v) for v in row.values()]

    def notes(self, output: Column, details: Column) -> list[str]:
        """What the summary line says besides the counts ("8 overdue")."""
        return []

    def table(self, rows: Iterable[Mapping[str, Any]], *, total: int, policy: Any,
              as_of: dt.date) -> Table:
        """The table of the first :data:`TABLE_ROWS` of ``rows`` (``total`` in all)."""
        shown = [r for _, r in zip(range(TABLE_ROWS), rows, strict=False)]
        columns = list(self.columns) or (list(shown[0]) if shown else [])
        title = f"{self.title or self.scheme_name} as of {as_of} — {policy}"
        if total > len(shown):
            title += f" (the first {len(shown)} of {total} rows)"
        return title, columns, [self.cells(r) for r in shown]

    @property
    def scheme_name(self) -> str:
        return str(getattr(self.scheme, "name", "") or type(self.scheme).__name__)

    def summary(self, *, rows_in: int, output: Column, details: Column,
                detail_names: Sequence[str], rejected: Sequence[Mapping[str, Any]],
                policy: Any, as_of: dt.date) -> str:
        """The summary line of a run (:func:`summary_line`, with this scheme's notes)."""
        return summary_line(self, rows_in=rows_in, rejected=rejected_counts(rejected),
                            warnings=detail_warnings(details, detail_names), policy=policy,
                            as_of=as_of, notes=self.notes(output, details))


def presenter_of(scheme: Any, spec: SchemeSpec | None = None) -> Presenter:
    """The presenter of a compiled scheme: its ``presenter_type``, or the default one,
    which words the summary with the nouns of the scheme's ``spec``."""
    kind: type[Presenter] = getattr(scheme, "presenter_type", Presenter)
    return kind(scheme, spec)


def run_summary(shown: Presenter, run: SchemeRun, *, rows_in: int, policy: Any,
                as_of: dt.date) -> str:
    """The summary line of a per-record ``run``, from its rows."""
    output, details = list(run.output_rows()), list(run.detail_rows())
    return shown.summary(
        rows_in=rows_in, output=column_of(output), details=column_of(details),
        detail_names=list(details[0]) if details else [], rejected=run.rejected_rows(),
        policy=policy, as_of=as_of)


def run_table(shown: Presenter, run: SchemeRun, *, policy: Any, as_of: dt.date) -> Table:
    """The table of a per-record ``run``, from its output rows."""
    output = list(run.output_rows())
    return shown.table(output, total=len(output), policy=policy, as_of=as_of)
