"""What every scheme offers, so the CLI (and later plugins) treat them alike.

A scheme is compiled from its TOML section by a ``compile_<name>(ctx)``
function and answers two questions: *score these records* (``run``) and
*explain this one record* (``explain_record``). A run's result can say what
it produced (``output_rows``: one row per decision, the main output), give
more detail (``detail_rows``: per record, per star, per indicator, per
liaison, as the scheme sees fit), list every rejected row with its reasons
(``rejected_rows``), and summarise itself in one line for stderr.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Iterator, Mapping
from typing import Any, Protocol

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


def reject_row(kind: str, row: int, ident: str, codes: Iterable[str],
               messages: Iterable[str]) -> dict[str, Any]:
    """The common shape of a rejected row, whatever the scheme."""
    return {"input": kind, "row": row, "id": ident, "reason_codes": list(codes),
            "reasons": list(messages)}


def policy_columns(ref: Any) -> dict[str, Any]:
    """The columns that tie an output row to the policy that produced it."""
    return {"policy_id": ref.id, "policy_version": ref.version, "policy_hash": ref.hash}
