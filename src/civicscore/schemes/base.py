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
        return engine(self, source, as_of=as_of, **extra)


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


def log_output_rows(run: SchemeRun) -> Iterator[LoggedRow]:
    """The default decision-log view of a run: one decision per output row, keyed by row."""
    for row in run.output_rows():
        yield "record", str(row["row"]), row["row"], row


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
      person may override, each with a check of the new value.
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
    for key in ("record_fields", "extra_inputs"):
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


def summary_line(spec: SchemeSpec, *, rows_in: int, rejected: Mapping[str, int],
                 warnings: Sequence[str], policy: Any, as_of: dt.date) -> str:
    """The one stderr line of ``civicscore score``, the same whichever engine ran.

    It is built only from what both engines produce identically (rows read,
    rejected rows per input, the ``warnings`` of the detail rows), never from
    one engine's own bookkeeping.
    """
    main = rejected.get(spec.input_kind, 0)
    text = f"{rows_in - main} of {rows_in} {spec.noun} scored, {main} rejected"
    others = [f"{n} {kind} rejected" for kind, n in sorted(rejected.items())
              if kind != spec.input_kind]
    parts = [text, *others, f"policy {policy}, as of {as_of}"]
    if warnings:
        parts.append("warnings: " + "; ".join(warnings))
    return "; ".join(parts)
